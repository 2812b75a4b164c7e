"""Whitespace around secrets, and the prune guard on small sets (issue 9)."""

from __future__ import annotations

import traceback

import pytest

from metabase_guard import engine
from metabase_guard.errors import ApiConnectionError, MetabaseGuardError, UnsafePlanError
from metabase_guard.reconcile.plan import Change, Plan, Thresholds
from tests.integrity.conftest import Served

WHITESPACE = ["{}\n", "\t{} ", "{}\r\n"]


@pytest.mark.parametrize("shape", WHITESPACE)
def test_a_key_with_whitespace_works_through_the_cli_and_is_never_printed(
    served: Served, shape: str
) -> None:
    key = served.sb.admin_api_key
    result = served.run_process("--debug", "apply", "--yes", METABASE_API_KEY=shape.format(key))
    assert result.returncode == 0, result.stderr
    assert "METABASE_API_KEY had whitespace around it" in result.stderr
    assert result.stderr.count("whitespace around it") == 1  # said once
    assert key not in result.stdout + result.stderr
    bad = served.run_process("--debug", "plan", METABASE_API_KEY=shape.format(key + "-revoked"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert key not in bad.stdout + bad.stderr


def _every_text(exc: BaseException) -> str:
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), *(repr(a) for a in seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join([*texts, *traceback.format_exception(exc)])


@pytest.mark.parametrize("shape", ["{}\n", "\t{}", "{}\r"])
def test_the_python_api_strips_the_key_and_never_shows_it(served: Served, shape: str) -> None:
    key = served.sb.admin_api_key
    with engine.connect(served.url, api_key=shape.format(key)) as client:
        assert client.me.id  # the stripped key authenticates
    with pytest.raises(MetabaseGuardError) as info, engine.connect(
        served.url, api_key=shape.format(key + "-other")
    ) as client:
        _ = client.me
    assert key not in _every_text(info.value)


def test_a_header_error_inside_requests_never_shows_the_key(served: Served) -> None:
    # a key with a newline inside cannot be stripped: requests refuses it, quoting it
    secret = "mb_inner_secret_value\nsecond_line"
    with pytest.raises(ApiConnectionError) as info, engine.connect(
        served.url, api_key=secret
    ) as client:
        _ = client.me
    text = _every_text(info.value)
    assert "mb_inner_secret_value" not in text and "second_line" not in text
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_pruning_the_only_managed_card_needs_force(served: Served) -> None:
    (served.alerts / "race.yaml").write_text(
        (served.alerts / "race.yaml").read_text().split("  - key: race-1")[0], encoding="utf-8")
    assert served.run("apply", "--yes").returncode == 0  # one card, one alert
    (served.alerts / "race.yaml").write_text("questions: []\n", encoding="utf-8")
    refused = served.run("apply", "--yes", "--prune")
    assert refused.returncode == 1
    assert "delete all 2 managed object(s) (100%)" in refused.stderr, refused.stderr
    assert served.cards_per_name() == {"Race check 0": 1}  # nothing archived
    assert served.run("apply", "--yes", "--prune", "--force").returncode == 0
    assert served.cards_per_name() == {}


def _plan(existing: int, *deletes: Change) -> Plan:
    return Plan.build(url="http://mb", version="v0.61.2", timezone="UTC",
                      changes=list(deletes), existing=existing)


def _delete(n: int, retires: int = 1, duplicate: bool = False) -> Change:
    return Change("delete", "card", f"card k{n}", key=f"k{n}", live_id=n, retires=retires,
                  duplicate=duplicate)


def test_the_delete_guard_holds_for_small_sets_and_ignores_race_copies() -> None:
    guard = Thresholds()  # 30 %, min_existing 10
    _plan(5, _delete(1)).raise_if_unsafe(guard)  # 20 % of a small set passes
    with pytest.raises(UnsafePlanError, match="2 of 5 managed objects \\(40%"):
        _plan(5, _delete(1), _delete(2)).raise_if_unsafe(guard)
    with pytest.raises(UnsafePlanError, match="delete all 2 managed object"):
        _plan(2, _delete(1, retires=2)).raise_if_unsafe(Thresholds(max_delete_share=1.0))
    _plan(2, _delete(1, duplicate=True), _delete(2, duplicate=True)).raise_if_unsafe(guard)
    _plan(0).raise_if_unsafe(guard)
