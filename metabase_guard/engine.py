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
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metabase_guard._gc import gc_paused
from metabase_guard.alerttests import TestReport
from metabase_guard.alerttests import run_tests as _run_tests
from metabase_guard.api.client import MetabaseClient, connect
from metabase_guard.check import CheckReport, run_check
from metabase_guard.errors import (
    ApiError,
    ConfigError,
    DeclarationError,
    Problem,
    StalePlanError,
)
from metabase_guard.lint import (
    Finding,
    engine_mismatches,
    lint_declarations,
    lint_live,
    lint_offline,
    sort_findings,
)
from metabase_guard.lint import strict as _strict
from metabase_guard.reconcile.apply import ApplyReport, Progress, apply_plan
from metabase_guard.reconcile.cards import DesiredCard
from metabase_guard.reconcile.kind import Defaults, Desired
from metabase_guard.reconcile.live import LiveState, read_ahead, read_live
from metabase_guard.reconcile.moved import moved_live, with_moves
from metabase_guard.reconcile.plan import Plan, Thresholds
from metabase_guard.reconcile.walk import make_plan, resolve
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.loader import load as _load
from metabase_guard.sql.dialects import dialect_for

__all__ = [
    "PlanResult",
    "apply",
    "check",
    "connect",
    "lint",
    "load",
    "plan",
    "read_ahead",
    "read_saved_plan",
    "run_tests",
    "save_plan",
]


@dataclass
class PlanResult:
    """A plan together with the snapshot and desired state it was made from (apply needs both)."""

    plan: Plan
    live: LiveState
    desired: list[DesiredCard]
    declarations: Declarations
    findings: list[Finding] = field(default_factory=list)
    """Lint findings, offline and live (see ``metabase_guard.lint``), errors first."""
    resolved: Desired = field(default_factory=Desired)
    """Every declaration resolved (``desired`` is its cards)."""


def load(paths: Sequence[str | Path] = ("alerts",)) -> Declarations:
    """Load and validate declaration files; DeclarationError lists every problem."""
    return _load(paths)


def plan(
    declarations: Declarations,
    client: MetabaseClient,
    *,
    prune: bool = False,
    defaults: Defaults | None = None,
    strict: bool = False,
    engines: Mapping[str, str] | None = None,
    reading: Future[LiveState] | None = None,
) -> PlanResult:
    """Read the instance (a fixed number of requests, no writes) and diff the declarations.

    ``reading``, from :func:`read_ahead` on the same client, is a read already under way
    (started right after connecting, before the declarations were loaded); without it the
    read starts here.

    ``result.findings`` holds the lint findings; ``strict`` turns warnings into errors. The SQL
    is read in the dialect of each database's live engine; ``engines`` (the config file's
    offline engines) only serve to warn when they disagree with the instance.
    """
    # The snapshot and what is built from it are acyclic (freed by reference counting):
    # automatic full collections walked them again and again, seconds at N = 5,000.
    with gc_paused():
        return _plan(declarations, client, prune=prune, defaults=defaults, strict=strict,
                     engines=engines, reading=reading)


def _plan(declarations: Declarations, client: MetabaseClient, *, prune: bool,
          defaults: Defaults | None, strict: bool,
          engines: Mapping[str, str] | None,
          reading: Future[LiveState] | None) -> PlanResult:
    early = None
    if reading is not None and not reading.done():
        # The read is still in flight: lint the SQL now, in the dialects the config file names
        # (the instance's usually agree), instead of after the last answer.
        early = lint_declarations(declarations, burst=False, engines=engines), engines or {}
    read = reading.result() if reading is not None else read_live(client)
    live = moved_live(read, declarations.moves)  # moved: the old card answers to its new key
    resolved = resolve(declarations, live, defaults)
    desired = list(resolved.cards)
    made = with_moves(make_plan(resolved, live, url=client.url, prune=prune), read, desired,
                      declarations.moves)
    live_engines = {d.name: d.engine for d in live.databases if d.engine}
    if early is not None and _same_dialects(declarations, early[1], live_engines):
        offline = early[0]
    else:
        offline = lint_declarations(declarations, burst=False, engines=live_engines)
    findings = offline + lint_live(
        declarations, desired, live, made, allowed_domains=_allowed_domains(client, desired, live)
    )
    findings += engine_mismatches(declarations, engines or {}, live_engines)
    findings = sort_findings(_strict(findings) if strict else findings)
    return PlanResult(plan=made, live=live, desired=desired, declarations=declarations,
                      findings=findings, resolved=resolved)


def _same_dialects(declarations: Declarations, guessed: Mapping[str, str],
                   live: Mapping[str, str]) -> bool:
    """Whether every alerting question's SQL reads the same in both engine mappings."""
    return all(
        dialect_for(guessed.get(q.database)) == dialect_for(live.get(q.database))
        for q in declarations.questions if q.alerts
    )


def _allowed_domains(client: MetabaseClient, desired: list[DesiredCard], live: LiveState) -> Any:
    """``subscription-allowed-domains``, read only when a raw address needs it (one GET)."""
    users = {u.email.lower() for u in live.users if u.is_active}
    if not any(e not in users for d in desired for a in d.alerts for e in a.view.email):
        return None
    try:
        return client.server.setting("subscription-allowed-domains")
    except ApiError:  # not an admin, or an open-source build without the setting
        return None


def lint(declarations: Declarations, *, strict: bool = False,
         engines: Mapping[str, str] | None = None) -> list[Finding]:
    """Offline lint findings (no server), errors first; ``strict`` makes warnings errors.

    ``engines`` maps database names to Metabase engines (default postgres) for reading SQL.
    """
    return lint_offline(declarations, strict=strict, engines=engines)


def check(declarations: Declarations, client: MetabaseClient, *,
          concurrency: int = 4) -> CheckReport:
    """Run each declared question with alerts now (read-only) and judge its alerts."""
    return run_check(declarations, client, concurrency=concurrency)


def run_tests(declarations: Declarations,
              engines: Mapping[str, str] | None = None) -> TestReport:
    """Run the offline alert tests (``tests:`` files); DeclarationError on a bad test file."""
    return _run_tests(declarations, engines)


def apply(
    result: PlanResult,
    client: MetabaseClient,
    *,
    concurrency: int = 12,
    thresholds: Thresholds | None = None,
    force: bool = False,
    expected_checksum: str | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """Carry out ``result.plan``: refuse a stale or unsafe plan, then write in a safe order.

    ``expected_checksum`` (from a saved, reviewed plan) must equal the fresh plan's checksum,
    else StalePlanError. Without ``force`` the change thresholds apply (UnsafePlanError).
    Lint errors found by :func:`plan` block it (DeclarationError).
    Raises ApplyError carrying the report when a write fails.
    """
    if expected_checksum is not None and expected_checksum != result.plan.checksum:
        raise StalePlanError(
            "the saved plan no longer matches Metabase or the declarations (its checksum "
            f"{expected_checksum[:12]} differs from the fresh plan's "
            f"{result.plan.checksum[:12]}); run plan again and review it"
        )
    blocking = [f for f in result.findings if f.severity == "error"]
    if blocking:
        raise DeclarationError([
            Problem(f.file, f.line, f.field, f"{f.rule}: {f.message}") for f in blocking
        ])
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
