"""Words and rules of plan.py and kind.py that run G of the mutation check found untested.

The refusal to retire every managed object, a credential quoted in a plan, and the note on a
marked card that another user made. Pure, as in ``test_plan_pure.py``.
"""

from __future__ import annotations

import json
import uuid

import pytest

from metabase_guard.errors import UnsafePlanError, register_secret
from metabase_guard.reconcile.identity import compose_description
from metabase_guard.reconcile.plan import Change, Plan, Thresholds
from tests.reconcile.test_plan_pure import PM, live_state, managed_alert, managed_card, plan_for


def _plan(changes: list[Change], existing: int) -> Plan:
    return Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=changes,
                      existing=existing)


def test_retiring_every_managed_object_is_refused_in_these_words() -> None:
    deletes = [Change("delete", "card", f"card c{i}", key=f"c{i}", live_id=i) for i in range(2)]
    with pytest.raises(UnsafePlanError) as raised:
        _plan(deletes, existing=2).raise_if_unsafe(Thresholds(max_delete_share=1.0))
    assert str(raised.value) == (
        "the plan would delete all 2 managed object(s) (100%): every card would be archived "
        "and every alert deactivated; review it and rerun with --force if it is intended"
    )


def test_a_credential_quoted_in_a_plan_is_blanked_out_of_its_json() -> None:
    secret = f"mb_{uuid.uuid4().hex}"
    register_secret(secret)
    change = Change("create", "card", "card c", key="c",
                    values=(("sql", f"SELECT '{secret}' AS leaked"), ("goal", 2.0)))
    data = _plan([change], existing=0).to_dict()
    assert secret not in json.dumps(data)
    assert data["changes"] == [{"address": "card c", "kind": "card", "actions": ["create"],
                                "key": "c",
                                "values": {"sql": "SELECT '***' AS leaked", "goal": 2}}]
    assert data["summary"] == {"create": 1, "update": 0, "delete": 0}


def test_a_plan_without_a_credential_is_its_json_unchanged() -> None:
    change = Change("create", "card", "card c", key="c", values=(("sql", "SELECT 1"),))
    plan = _plan([change], existing=0)
    data = plan.to_dict()
    assert data["changes"][0]["values"] == {"sql": "SELECT 1"}
    assert data["checksum"] == plan.checksum


def test_a_marked_card_another_user_made_is_never_pruned_in_these_words() -> None:
    theirs = managed_card(card_id=13, description=compose_description(None, "theirs"),
                          creator_id=PM.id)
    pruned = plan_for(live_state([managed_card(), theirs], [managed_alert()]), prune=True)
    note = next(u for u in pruned.unmanaged if u.address == "card #13")
    assert note.reason == (
        "carries the mark of 'theirs', which these declarations do not have, but was created "
        "by pm@example.com, not by metabase-guard's user: never archived from here, even with "
        "--prune (archive it by hand if it is really gone)"
    )
