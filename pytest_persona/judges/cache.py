"""SQLite cache of judge scores.

WAL mode and a busy timeout make it safe for several processes (pytest-xdist workers) at once.
Each score is committed as it arrives, so an interrupted run keeps what it has. Only real
scores are stored: missing scores (errors, refusals) are never cached.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_scores (
    key TEXT PRIMARY KEY,
    judge_id TEXT NOT NULL,
    model_version TEXT,
    template_sha256 TEXT NOT NULL,
    score REAL NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(
    judge_id: str,
    requested_model: str,
    template_sha256: str,
    question: str,
    answer: str,
    params: dict[str, Any],
) -> str:
    """sha256 over everything that can change a score.

    The model version the API reports is only known after a call, so the key uses the
    requested model and the reported version is stored alongside the score.
    """
    payload = json.dumps(
        [judge_id, requested_model, template_sha256, question, answer, params],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    def __init__(self, path: str | Path, busy_timeout_ms: int = 60_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(self.path), timeout=busy_timeout_ms / 1000, check_same_thread=False,
            isolation_level=None,
        )
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)

    def get(self, key: str) -> float | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT score FROM judge_scores WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else float(row[0])

    def get_row(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.execute(
                "SELECT key, judge_id, model_version, template_sha256, score, created "
                "FROM judge_scores WHERE key = ?",
                (key,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        names = ["key", "judge_id", "model_version", "template_sha256", "score", "created"]
        return dict(zip(names, row))

    def put(
        self, key: str, judge_id: str, template_sha256: str, score: float,
        model_version: str | None = None,
    ) -> None:
        if score is None:  # never cache a missing score
            return
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO judge_scores "
                "(key, judge_id, model_version, template_sha256, score, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, judge_id, model_version, template_sha256, float(score), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM judge_scores").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
