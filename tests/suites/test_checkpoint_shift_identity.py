"""checkpoint_shift against a reference of another architecture (same depth and width) is an
error naming both, not a silent pass (issue 25 item 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_persona.errors import PersonaUsageError
from pytest_persona.suites.expectations import checkpoint_shift
from pytest_persona.suites.schema import load_suite
from pytest_persona.suites.session import PersonaOptions, PersonaSession


def test_another_architecture_of_the_same_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "syc.yaml"
    path.write_text("trait: sycophantic\nlayer: 1\ncoefficients: [0, 1]\nexpectations:\n"
                    "  - {kind: checkpoint_shift, max: 1000}\n")
    suite = load_suite(path, "tiny-random-qwen2")
    ps = PersonaSession(PersonaOptions(model="tiny-random-qwen2",
                                       reference_model="tiny-random-gpt2", judge="offline",
                                       cache_dir=tmp_path / "cache"))
    ref = ps.reference
    assert ref is not None
    assert (ps.model.n_layers, ps.model.d_model) == (ref.n_layers, ref.d_model)
    with pytest.raises(PersonaUsageError) as err:
        checkpoint_shift(ps, suite.for_model("tiny-random-qwen2"), suite.expectations[0],
                         ps.trait("sycophantic"))
    msg = str(err.value)
    assert "tiny-random-qwen2 is [qwen2, 4 layers, d=64]" in msg
    assert "reference tiny-random-gpt2 is [gpt2, 4 layers, d=64]" in msg
    ps.close()
