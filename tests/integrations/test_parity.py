"""The callback's figure is the checkpoint_shift expectation's figure for the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")
from transformers import Trainer  # noqa: E402

from pytest_persona.core.vectors import TraitVectors  # noqa: E402
from pytest_persona.integrations.transformers import PersonaCallback  # noqa: E402
from pytest_persona.pipeline.extraction import ExtractionResult  # noqa: E402
from pytest_persona.suites.expectations import checkpoint_shift  # noqa: E402
from pytest_persona.suites.schema import load_suite  # noqa: E402
from pytest_persona.suites.session import PersonaOptions, PersonaSession  # noqa: E402

from .support import LAYER, TRAIT, dataset, tiny, training_args, vector_file  # noqa: E402

N = 8


def test_callback_shift_equals_checkpoint_shift(tmp_path: Path) -> None:
    vec_path = vector_file(tmp_path / "v.safetensors")
    model, tok = tiny()  # = tiny-random-llama, the suite's reference below
    cb = PersonaCallback([vec_path], layer=LAYER, every_steps=3, max_questions=N,
                         cache_dir=None)
    trainer = Trainer(model=model, args=training_args(tmp_path / "out", steps=3),
                      train_dataset=dataset(tok), processing_class=tok, callbacks=[cb])
    trainer.train()
    trainer.save_model(str(tmp_path / "trained"))
    tok.save_pretrained(str(tmp_path / "trained"))
    ours = cb.checks[-1]["traits"][TRAIT]
    assert cb.checks[-1]["step"] == 3 and abs(ours["shift"]) > 0.1

    suite_file = tmp_path / "syc.yaml"
    suite_file.write_text(f"trait: {TRAIT}\nlayer: {LAYER}\ncoefficients: [0, 4]\n"
                          f"n_questions: {N}\nexpectations:\n  - {{kind: checkpoint_shift, "
                          "max: 1000}\n")
    suite = load_suite(suite_file, "tiny-random-llama")
    rs = suite.for_model("tiny-random-llama")
    ps = PersonaSession(PersonaOptions(model=str(tmp_path / "trained"),
                                       reference_model="tiny-random-llama", judge="offline",
                                       cache_dir=tmp_path / "cache", device="cpu"))
    vectors = TraitVectors.load(vec_path)
    # the callback's vectors, not a new extraction
    ps.vectors = lambda *a, **k: ExtractionResult(vectors)  # type: ignore[method-assign]
    theirs = checkpoint_shift(ps, rs, suite.expectations[0], ps.trait(TRAIT)).figures
    assert theirs["n"] == ours["n"] == N
    # the expectation rounds to 4 decimals; same questions, vector, layer and bootstrap seed
    for key in ("shift", "ci_low", "ci_high", "reference_mean"):
        assert theirs[key] == pytest.approx(ours[key], abs=2e-4), key
    assert theirs["test_mean"] == pytest.approx(ours["mean"], abs=2e-4)
