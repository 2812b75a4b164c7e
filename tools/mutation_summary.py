"""Summarise ``mutmut results --all true`` (stdin) per module: killed / total and the score.

Survivors a reviewer judged equivalent are listed in ``tools/equivalent_mutants.txt`` (one
mutant name per line, ``#`` comments); they are left out of the score, as docs/testing.md says.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("equivalent_mutants.txt")


def _equivalent() -> set[str]:
    if not EQUIVALENT.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in EQUIVALENT.read_text().splitlines())
    return {line for line in lines if line}


def main() -> int:
    """Print one line per module and a total; exit 0."""
    equivalent = _equivalent()
    counts: dict[str, Counter[str]] = {}
    for line in sys.stdin:
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        module = name.split(".x", 1)[0].split(".xǁ", 1)[0]
        if name in equivalent and status == "survived":
            status = "equivalent"
        counts.setdefault(module, Counter())[status] += 1
    total: Counter[str] = Counter()
    print(f"{'module':45} {'killed':>7} {'survived':>8} {'no tests':>8} {'equiv':>6} "
          f"{'other':>6} {'score':>6}")
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        _row(module, c)
    _row("TOTAL", total)
    return 0


def _row(name: str, c: Counter[str]) -> None:
    killed = c["killed"] + c["timeout"]
    survived, untested, equivalent = c["survived"], c["no tests"], c["equivalent"]
    other = sum(c.values()) - killed - survived - untested - equivalent
    scored = killed + survived + untested
    score = f"{100 * killed / scored:.1f}%" if scored else "-"
    print(f"{name:45} {killed:7} {survived:8} {untested:8} {equivalent:6} {other:6} {score:>6}")


if __name__ == "__main__":
    sys.exit(main())
