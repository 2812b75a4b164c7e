"""metabase-guard: Metabase health-check questions, goal lines and alerts as code.

The Python API does everything the CLI does::

    import os

    import metabase_guard as mg

    declarations = mg.load(["alerts"])
    key = os.environ["METABASE_API_KEY"]
    with mg.connect("https://metabase.example.com", api_key=key) as client:
        result = mg.plan(declarations, client)
        print(mg.render_text(result.plan, findings=result.findings))
        if not any(f.severity == "error" for f in result.findings):
            report = mg.apply(result, client)
"""

from typing import TYPE_CHECKING

from metabase_guard import _lazy
from metabase_guard._version import __version__

# the errors are light and every command imports them before its first request anyway
from metabase_guard.errors import (
    ApiError,
    ApplyError,
    ConfigError,
    DeclarationError,
    MetabaseGuardError,
    ResolveError,
    StalePlanError,
    UnsafePlanError,
    UnsupportedServerError,
)

if TYPE_CHECKING:
    from metabase_guard.alerttests import TestReport
    from metabase_guard.api.client import MetabaseClient
    from metabase_guard.check import CheckReport
    from metabase_guard.engine import (
        PlanResult,
        apply,
        check,
        connect,
        lint,
        load,
        plan,
        read_saved_plan,
        run_tests,
        save_plan,
    )
    from metabase_guard.lint import Finding
    from metabase_guard.reconcile.apply import ApplyReport
    from metabase_guard.reconcile.kind import Defaults
    from metabase_guard.reconcile.plan import Change, FieldChange, Plan, Thresholds
    from metabase_guard.render import render_json, render_markdown, render_text
    from metabase_guard.spec.loader import Declarations

__all__ = [
    "ApiError",
    "ApplyError",
    "ApplyReport",
    "Change",
    "CheckReport",
    "ConfigError",
    "DeclarationError",
    "Declarations",
    "Defaults",
    "FieldChange",
    "Finding",
    "MetabaseClient",
    "MetabaseGuardError",
    "Plan",
    "PlanResult",
    "ResolveError",
    "StalePlanError",
    "TestReport",
    "Thresholds",
    "UnsafePlanError",
    "UnsupportedServerError",
    "__version__",
    "apply",
    "check",
    "connect",
    "lint",
    "load",
    "plan",
    "read_saved_plan",
    "render_json",
    "render_markdown",
    "render_text",
    "run_tests",
    "save_plan",
]

# Imported on first use: the CLI starts its first request before the planner loads.
__getattr__, __dir__ = _lazy.exports(__name__, {
    "metabase_guard.alerttests": ("TestReport",),
    "metabase_guard.api.client": ("MetabaseClient",),
    "metabase_guard.check": ("CheckReport",),
    "metabase_guard.engine": ("PlanResult", "apply", "check", "connect", "lint", "load", "plan",
                              "read_saved_plan", "run_tests", "save_plan"),
    "metabase_guard.lint": ("Finding",),
    "metabase_guard.reconcile.apply": ("ApplyReport",),
    "metabase_guard.reconcile.kind": ("Defaults",),
    "metabase_guard.reconcile.plan": ("Change", "FieldChange", "Plan", "Thresholds"),
    "metabase_guard.render": ("render_json", "render_markdown", "render_text"),
    "metabase_guard.spec.loader": ("Declarations",),
}, __all__)
