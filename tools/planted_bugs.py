"""Plant each bug of issue 14 in turn, run the tests that must catch it, and restore the file.

Usage: ``python tools/planted_bugs.py [--full]`` from the repository root. Without ``--full``
only the named test files run (seconds each); with it the whole suite runs per bug (minutes).
Exit 1 when a planted bug survives. Files are restored even on Ctrl-C. Not part of CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bug:
    """One plausible one-line bug: where, what it replaces, and the tests that must fail."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = (
    Bug("first quoted marker named instead of the last", "metabase_guard/reconcile/identity.py",
        "found[-1] if found", "found[0] if found", ("tests/reconcile/test_core_rules.py",)),
    Bug("goal removal never detected", "metabase_guard/reconcile/cards.py",
        'return "the goal line is removed"', "return None",
        ("tests/reconcile/test_core_rules.py",)),
    Bug("pairing prefers inactive alerts", "metabase_guard/reconcile/alerts.py",
        "key=lambda nv: (not nv[0].active, nv[0].id)", "key=lambda nv: (nv[0].active, nv[0].id)",
        ("tests/reconcile/test_core_rules.py",)),
    Bug("minus sign dropped from non-integers", "metabase_guard/evaluation.py",
        'sign = "-" if whole.startswith("-") else ""', 'sign = ""',
        ("tests/reconcile/test_core_rules.py",)),
    Bug("POST replayed on 503", "metabase_guard/api/transport.py",
        "_POST_SAFE_STATUSES = frozenset({429})", "_POST_SAFE_STATUSES = frozenset({429, 503})",
        ("tests/api/test_retry_policy.py",)),
    Bug("Retry-After not capped", "metabase_guard/api/transport.py",
        "return min(max(error.retry_after, 0.0), policy.max_retry_after)",
        "return max(error.retry_after, 0.0)", ("tests/api/test_retry_policy.py",)),
    Bug("HTTP-date Retry-After ignored", "metabase_guard/api/transport.py",
        "when = parsedate_to_datetime(value)", "return None", ("tests/api/test_retry_policy.py",)),
    Bug("retries unbounded in total time", "metabase_guard/api/transport.py",
        "stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_total)",
        "stop=stop_after_attempt(policy.attempts)", ("tests/api/test_retry_policy.py",)),
    Bug("session token not a secret", "metabase_guard/api/transport.py",
        "            register_secret(token)\n", "", ("tests/api/test_retry_policy.py",)),
    Bug("delete-share threshold dropped", "metabase_guard/reconcile/plan.py",
        '            ("delete", thresholds.max_delete_share),\n', "",
        ("tests/e2e/test_guards.py", "tests/reconcile/test_core_rules.py")),
    Bug("--force always on", "metabase_guard/cli.py",
        '"--force", action="store_true",', '"--force", action="store_true", default=True,',
        ("tests/e2e/test_guards.py",)),
    Bug("--detailed-exitcode 2 on an error", "metabase_guard/cli.py",
        "        return EXIT_ERROR\n    except KeyboardInterrupt:",
        "        return EXIT_CHANGES if '--detailed-exitcode' in (argv or sys.argv) "
        "else EXIT_ERROR\n    except KeyboardInterrupt:",
        ("tests/e2e/test_guards.py",)),
    Bug("old instance: version checked after reading", "metabase_guard/reconcile/live.py",
        "    client.require_notification_api()\n    properties = client.properties\n",
        "    properties = client.properties\n    client.users.current()\n"
        "    client.require_notification_api()\n",
        ("tests/e2e/test_guards.py",)),
)


def _run(tests: tuple[str, ...]) -> bool:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", *tests], cwd=ROOT,
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False)
    return done.returncode == 0


def main(argv: list[str]) -> int:
    """Plant, test, restore; print one line per bug."""
    full = "--full" in argv
    survivors = 0
    for bug in BUGS:
        path = ROOT / bug.file
        original = path.read_text()
        if original.count(bug.old) != 1:
            print(f"?? {bug.name}: the text to replace is not in {bug.file} exactly once")
            survivors += 1
            continue
        try:
            path.write_text(original.replace(bug.old, bug.new))
            passed = _run(() if full else bug.tests)
        finally:
            path.write_text(original)
        survivors += passed
        print(f"{'SURVIVED' if passed else 'killed  '} {bug.name}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
