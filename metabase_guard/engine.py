"""The Python API: load declarations, plan against a Metabase, apply. The CLI is a thin layer on it.

Example, from a deploy script::

    import metabase_guard as mg

    declarations = mg.load(["alerts"])
    with mg.connect("https://metabase.example.com", api_key=key) as client:
        result = mg.plan(declarations, client)
        print(mg.render_text(result.plan))
        if not result.plan.is_empty:
            report = mg.apply(result, client)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.transport import RetryPolicy
from metabase_guard.errors import ConfigError, StalePlanError
from metabase_guard.reconcile.apply import ApplyReport, Progress, apply_plan
from metabase_guard.reconcile.desired import Defaults, DesiredCard, resolve
from metabase_guard.reconcile.diff import make_plan
from metabase_guard.reconcile.live import LiveState, read_live
from metabase_guard.reconcile.plan import Plan, Thresholds
from metabase_guard.spec.loader import Declarations, load_declarations

__all__ = [
    "PlanResult",
    "apply",
    "connect",
    "load",
    "plan",
    "read_saved_plan",
    "save_plan",
]


@dataclass
class PlanResult:
    """A plan together with the snapshot and desired state it was made from (apply needs both)."""

    plan: Plan
    live: LiveState
    desired: list[DesiredCard]
    declarations: Declarations


def load(paths: Sequence[str | Path] = ("alerts",)) -> Declarations:
    """Load and validate declaration files; DeclarationError lists every problem."""
    return load_declarations(list(paths))


def connect(
    url: str | None = None,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
    verify: bool | str = True,
    concurrency: int = 8,
    retry: RetryPolicy | None = None,
) -> MetabaseClient:
    """A client for one instance (arguments, else the ``METABASE_*`` environment variables)."""
    return MetabaseClient(
        url,
        api_key=api_key,
        username=username,
        password=password,
        timeout=timeout,
        verify=verify,
        pool_size=concurrency,
        retry=retry,
    )


def plan(
    declarations: Declarations,
    client: MetabaseClient,
    *,
    prune: bool = False,
    defaults: Defaults | None = None,
) -> PlanResult:
    """Read the instance (a fixed number of requests, no writes) and diff the declarations."""
    live = read_live(client)
    desired = resolve(declarations, live, defaults)
    made = make_plan(desired, live, url=client.url, prune=prune)
    return PlanResult(plan=made, live=live, desired=desired, declarations=declarations)


def apply(
    result: PlanResult,
    client: MetabaseClient,
    *,
    concurrency: int = 8,
    thresholds: Thresholds | None = None,
    force: bool = False,
    expected_checksum: str | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """Carry out ``result.plan``: refuse a stale or unsafe plan, then write in a safe order.

    ``expected_checksum`` (from a saved, reviewed plan) must equal the fresh plan's checksum,
    else StalePlanError. Without ``force`` the change thresholds apply (UnsafePlanError).
    Raises ApplyError carrying the report when a write fails.
    """
    if expected_checksum is not None and expected_checksum != result.plan.checksum:
        raise StalePlanError(
            "the saved plan no longer matches Metabase or the declarations (its checksum "
            f"{expected_checksum[:12]} differs from the fresh plan's "
            f"{result.plan.checksum[:12]}); run plan again and review it"
        )
    if not force:
        result.plan.raise_if_unsafe(thresholds or Thresholds())
    return apply_plan(result.plan, client, result.live, concurrency=concurrency,
                      progress=progress)


def save_plan(result: PlanResult, path: str | Path) -> None:
    """Write the plan as JSON (with its checksum) for a later ``apply --plan``. No secrets."""
    Path(path).write_text(json.dumps(result.plan.to_dict(), indent=2) + "\n", encoding="utf-8")


def read_saved_plan(path: str | Path) -> dict[str, Any]:
    """Read a saved plan; ConfigError when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the saved plan {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("checksum"), str):
        raise ConfigError(f"{path} is not a metabase-guard plan (no checksum)")
    return data
