"""Kill rate of the last ``mutmut run`` per module, equivalent mutants excluded.

Reads mutmut's per-file results (``mutants/**/*.py.meta``) and ``equivalent.txt`` next to this
file (one ``mutant_name  # reason`` per line). Killed = a test failed or timed out; survived =
every test passed or no test reached the mutant. Usage: ``python -m tests.mutation.kill_rate``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED = {0, 5, 33}


def equivalent(path: Path = HERE / "equivalent.txt") -> set[str]:
    """Mutant names listed as equivalent (text before ``#``, blank lines skipped)."""
    if not path.exists():
        return set()
    names = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {n for n in names if n}


def tally(root: Path = Path("mutants")) -> dict[str, dict[str, list[str]]]:
    """Per module: the names of killed, surviving, equivalent and unchecked mutants."""
    eq = equivalent()
    out: dict[str, dict[str, list[str]]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        module = str(meta.relative_to(root))[: -len(".py.meta")].replace("/", ".")
        row: dict[str, list[str]] = {"killed": [], "survived": [], "equivalent": [],
                                     "unchecked": []}
        for name, code in codes.items():
            if name in eq:
                row["equivalent"].append(name)
            elif code in KILLED:
                row["killed"].append(name)
            elif code in SURVIVED:
                row["survived"].append(name)
            else:
                row["unchecked"].append(name)
        if any(row[k] for k in ("killed", "survived", "equivalent")):
            out[module] = row
    return out


def main() -> int:
    rows = tally()
    if not rows:
        print("no mutmut results under mutants/: run `make mutate` first")
        return 1
    total_k = total_n = 0
    print(f"{'module':42} {'killed':>7} {'survived':>8} {'equiv':>6} {'rate':>7}")
    for module, row in rows.items():
        k, s = len(row["killed"]), len(row["survived"])
        total_k, total_n = total_k + k, total_n + k + s
        rate = f"{100 * k / (k + s):.1f}%" if k + s else "-"
        print(f"{module:42} {k:7d} {s:8d} {len(row['equivalent']):6d} {rate:>7}")
        for name in sorted(row["survived"]):
            print(f"    survived: {name}")
    print(f"{'all checked':42} {total_k:7d} {total_n - total_k:8d} {'':6} "
          f"{100 * total_k / max(total_n, 1):6.1f}%  (killed / non-equivalent checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
