"""A user's type checker sees the real public classes through ``from pytest_persona import``
(the TYPE_CHECKING block), while at runtime they still load lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # mypy over torch's stubs: a minute even with the project's cache
def test_mypy_sees_the_real_steerer(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    user = tmp_path / "user.py"
    user.write_text("from pytest_persona import ActivationSteerer, TraitVectors\n"
                    "reveal_type(ActivationSteerer)\nreveal_type(TraitVectors.load)\n")
    # the project's own mypy cache (make lint fills it first in CI) keeps this to seconds
    proc = subprocess.run([sys.executable, "-m", "mypy", "--follow-imports=silent",
                           "--cache-dir", str(ROOT / ".mypy_cache"), str(user)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    lines = (proc.stdout + proc.stderr).splitlines()
    assert lines[0].endswith('-> pytest_persona.core.steering.ActivationSteerer"'), lines
    assert lines[1].endswith('-> pytest_persona.core.vectors.TraitVectors"'), lines


def test_runtime_import_stays_lazy() -> None:
    code = ("import sys, pytest_persona; assert 'torch' not in sys.modules; "
            "from pytest_persona import ActivationSteerer; print(ActivationSteerer.__module__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "pytest_persona.core.steering"


def test_one_positions_type() -> None:
    from pytest_persona.core import positions, steering

    assert steering.Positions is positions.Positions and steering.POSITIONS == positions.POSITIONS
    assert positions.check_positions("response") == "response"
    with pytest.raises(ValueError, match="use one of all, prompt, response"):
        positions.check_positions("middle")
    assert positions.default_layer(28) == 18 and positions.REFERENCE_LAYER == 19
