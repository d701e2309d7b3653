"""The SQLite judge cache across processes (as with pytest-xdist workers)."""

from __future__ import annotations

import subprocess
import sys

from pytest_persona.judges.cache import JudgeCache, cache_key

_WRITER = """
import sys
from pytest_persona.judges.cache import JudgeCache
c = JudgeCache(sys.argv[1])
for i in range(50):
    c.put(f"{sys.argv[2]}-{i}", "judge", "t", float(i), "v1")
c.close()
"""


def test_concurrent_processes_share_cache(tmp_path) -> None:
    path = tmp_path / "cache.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"w{k}"])
             for k in range(4)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    cache = JudgeCache(path)
    assert len(cache) == 200
    assert cache.get("w3-49") == 49.0
    assert cache.get_row("w0-1")["model_version"] == "v1"
    mode = cache._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_cache_key_covers_inputs() -> None:
    base = ("j", "m", "t", "q", "a", {"p": 1})
    k = cache_key(*base)
    for i, alt in enumerate(["j2", "m2", "t2", "q2", "a2", {"p": 2}]):
        args = list(base)
        args[i] = alt
        assert cache_key(*args) != k
