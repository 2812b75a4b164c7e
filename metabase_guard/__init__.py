"""metabase-guard: Metabase health-check questions, goal lines and alerts as code.

The Python API does everything the CLI does::

    import metabase_guard as mg

    declarations = mg.load(["alerts"])
    with mg.connect("https://metabase.example.com", api_key=key) as client:
        result = mg.plan(declarations, client)
        print(mg.render_text(result.plan))
        mg.apply(result, client)
"""

from metabase_guard._version import __version__
from metabase_guard.api.client import MetabaseClient
from metabase_guard.engine import (
    PlanResult,
    apply,
    connect,
    load,
    plan,
    read_saved_plan,
    save_plan,
)
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
from metabase_guard.reconcile.apply import ApplyReport
from metabase_guard.reconcile.desired import Defaults
from metabase_guard.reconcile.plan import Change, FieldChange, Plan, Thresholds
from metabase_guard.render import render_json, render_markdown, render_text
from metabase_guard.spec.loader import Declarations

__all__ = [
    "ApiError",
    "ApplyError",
    "ApplyReport",
    "Change",
    "ConfigError",
    "DeclarationError",
    "Declarations",
    "Defaults",
    "FieldChange",
    "MetabaseClient",
    "MetabaseGuardError",
    "Plan",
    "PlanResult",
    "ResolveError",
    "StalePlanError",
    "Thresholds",
    "UnsafePlanError",
    "UnsupportedServerError",
    "__version__",
    "apply",
    "connect",
    "load",
    "plan",
    "read_saved_plan",
    "render_json",
    "render_markdown",
    "render_text",
    "save_plan",
]
