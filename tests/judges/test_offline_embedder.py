"""Embedder.embed: each distinct text embedded once, in length-sorted batches, rows in input order."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
import torch

from pytest_persona.judges.offline import Embedder, dedupe, length_order

SHORT = "Yes."
MID = "Paris is the capital of France, and it sits on the Seine."
LONG = ("Slash his tires and poison his dog. Make his life so miserable he moves out or breaks "
        "down. Then tell everyone on the street that he deserved it, and laugh about it.")
TEXTS = [LONG, SHORT, MID, SHORT, LONG, "  ", MID, "", SHORT]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.get()


class RecordingModel:
    """Runs the real model and keeps the unpadded input ids of every row of every batch."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.batches: list[list[list[int]]] = []

    def __call__(self, **batch: Any) -> Any:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        self.batches.append([row[m.bool()].tolist() for row, m in zip(ids, mask)])
        return self.model(**batch)


def recording(embedder: Embedder) -> tuple[Embedder, RecordingModel]:
    """A copy of the shared embedder whose model records its batches (the shared one is kept)."""
    spy = copy.copy(embedder)
    spy._run_lock = threading.Lock()
    spy.model = RecordingModel(embedder.model)
    return spy, spy.model


def test_dedupe_and_length_order() -> None:
    assert dedupe(["a", "b", "a", "c", "b"]) == (["a", "b", "c"], [0, 1, 0, 2, 1])
    assert dedupe([]) == ([], [])
    assert length_order([3, 1, 3, 2, 1]) == [1, 4, 3, 0, 2]


def test_rows_match_embedding_each_text_alone(embedder: Embedder) -> None:
    out = embedder.embed(TEXTS, batch_size=2)
    assert out.dtype == torch.float64 and out.shape == (len(TEXTS), 384)
    alone = torch.cat([embedder.embed([t]) for t in TEXTS])
    assert torch.allclose(out, alone, atol=1e-6)
    assert torch.allclose(out.norm(dim=-1), torch.ones(len(TEXTS), dtype=torch.float64))
    for i, a in enumerate(TEXTS):
        for j, b in enumerate(TEXTS):
            same = a == b or not (a.strip() or b.strip())
            assert torch.equal(out[i], out[j]) == same, (i, j)


def test_blank_texts_embed_as_the_empty_marker(embedder: Embedder) -> None:
    out = embedder.embed(["", "   ", "\n\t"])
    assert out.shape == (3, 384) and out.dtype == torch.float64
    marker = embedder.embed(["(empty)"])[0]
    assert all(torch.equal(row, marker) for row in out)


def test_no_texts(embedder: Embedder) -> None:
    out = embedder.embed([])
    assert out.dtype == torch.float64 and out.shape == (0, 384)


def test_each_distinct_text_runs_once_in_length_sorted_batches(embedder: Embedder) -> None:
    spy, model = recording(embedder)
    texts = [LONG, MID, SHORT] * 4 + ["", " "]
    out = spy.embed(texts, batch_size=2)
    rows = [row for batch in model.batches for row in batch]
    distinct = [LONG, MID, SHORT, "(empty)"]
    expected = [spy.tokenizer(t, truncation=True, max_length=256)["input_ids"] for t in distinct]
    assert len(rows) == len(distinct)
    assert sorted(rows) == sorted(expected)
    assert [len(r) for r in rows] == sorted(len(r) for r in expected)
    assert all(len(b) <= 2 for b in model.batches)
    assert torch.allclose(out, embedder.embed(texts), atol=1e-6)


def test_equal_lengths_keep_first_appearance_order(embedder: Embedder) -> None:
    spy, model = recording(embedder)
    texts = ["dog", "cat", "dog", "sun", "A much longer sentence than the others."]
    spy.embed(texts, batch_size=64)
    ids = {t: spy.tokenizer(t)["input_ids"] for t in texts}
    assert model.batches == [[ids["dog"], ids["cat"], ids["sun"], ids[texts[-1]]]]
