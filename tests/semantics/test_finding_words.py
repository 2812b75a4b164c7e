"""A lint finding as printed and as JSON, the severity count and the burst rule's slot words."""

from __future__ import annotations

import pytest

from metabase_guard.lint import Finding, _slot_words, count_by_severity


def test_a_finding_in_words_and_as_json() -> None:
    full = Finding("warning", "burst", "alerts/q.yaml", 12, "alerts[0]", "too many", "stagger",
                   "q")
    assert str(full) == ("alerts/q.yaml:12: warning[burst] q.alerts[0]: too many\n"
                         "    hint: stagger")
    assert full.to_dict() == {"severity": "warning", "rule": "burst", "file": "alerts/q.yaml",
                              "line": 12, "key": "q", "field": "alerts[0]",
                              "message": "too many", "hint": "stagger"}
    bare = Finding("error", "engine", "", None, "", "no such database")
    assert str(bare) == "(instance): error[engine] no such database"
    assert bare.to_dict() == {"severity": "error", "rule": "engine", "file": None, "line": None,
                              "key": None, "field": None, "message": "no such database",
                              "hint": None}
    assert Finding("error", "r", "a.yaml", None, "sql", "m").where == "a.yaml"


@pytest.mark.parametrize(
    ("severities", "words"),
    [((), "0 errors, 0 warnings"), (("error",), "1 error, 0 warnings"),
     (("warning",), "0 errors, 1 warning"),
     (("error", "error", "warning", "warning"), "2 errors, 2 warnings")],
)
def test_count_by_severity(severities: tuple[str, ...], words: str) -> None:
    findings = [Finding(s, "r", "f", 1, "", "m") for s in severities]  # type: ignore[arg-type]
    assert count_by_severity(findings) == words


DAY = 1440


@pytest.mark.parametrize(
    ("slots", "words"),
    [
        ([9 * 60], "Mon at 09:00"),
        ([d * DAY + 9 * 60 for d in range(7)], "every day at 09:00"),
        ([DAY * 2 + 30, 6 * DAY + 23 * 60 + 5], "Wed, Sun at 00:30, 23:05"),
        ([h * 60 + 5 for h in range(24)], "Mon, every hour at minute 05"),
        ([60 * h for h in range(5)], "Mon at 00:00, 01:00, 02:00, 03:00 and more"),
        ([60 * h for h in range(4)], "Mon at 00:00, 01:00, 02:00, 03:00"),
    ],
)
def test_the_slot_words_of_the_burst_rule(slots: list[int], words: str) -> None:
    assert _slot_words(slots) == words
