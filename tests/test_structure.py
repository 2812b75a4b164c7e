"""Structural guards: the public API, and the import layering of docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import metabase_guard

PACKAGE = Path(metabase_guard.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_public_api_is_sorted_complete_and_importable() -> None:
    names = metabase_guard.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(metabase_guard, name) is not None
    for required in ("load", "plan", "apply", "connect", "render_text", "render_json",
                     "render_markdown", "Plan", "MetabaseClient"):
        assert required in names


def test_client_planner_and_declarations_never_import_the_sandbox() -> None:
    for folder in ("api", "reconcile", "spec", "render"):
        for path in _modules(folder):
            bad = {m for m in _imports(path) if m.startswith("metabase_guard.sandbox")}
            assert not bad, f"{path.name} imports {bad}"


def test_pure_layers_do_no_http() -> None:
    for folder in ("reconcile", "spec", "render"):
        for path in _modules(folder):
            if path.name in ("live.py", "writes.py", "apply.py"):
                continue  # the snapshot reader and the writer are the I/O edge of reconcile
            bad = {m for m in _imports(path) if m in ("requests", "metabase_guard.api.client",
                                                      "metabase_guard.api.transport")}
            assert not bad, f"{path.name} imports {bad}"


def _runtime_imports(path: Path) -> set[str]:
    """Imports made when the module runs (those under ``if TYPE_CHECKING:`` are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


#: reconcile/ module -> the reconcile/ modules it may import (docs/architecture.md).
_RECONCILE_LAYERS = {
    "identity": set(),
    "plan": set(),
    "duplicates": set(),
    "live": {"identity"},
    "kind": {"live", "plan"},
    "writes": {"live", "plan"},
    "collections": {"kind", "live", "plan", "writes", "identity", "duplicates"},
    "alerts": {"kind", "live", "plan", "writes", "duplicates"},
    "cards": {"kind", "live", "plan", "writes", "identity", "duplicates", "collections",
              "alerts"},
    "dashboards": {"kind", "live", "plan", "writes", "identity", "collections"},
    "subscriptions": {"kind", "live", "plan", "writes", "alerts", "dashboards"},
    "walk": {"kind", "live", "plan", "collections", "cards", "alerts", "dashboards",
             "subscriptions"},
    "apply": {"walk", "writes", "live", "plan"},
    "moved": {"cards", "identity", "live", "plan"},
    "target": {"cards", "plan"},
}


def test_reconcile_is_one_module_per_kind_layered_as_documented() -> None:
    found = {p.stem for p in _modules("reconcile")} - {"__init__"}
    assert found == set(_RECONCILE_LAYERS), "a reconcile module is missing from the layering"
    prefix = "metabase_guard.reconcile."
    for name, allowed in _RECONCILE_LAYERS.items():
        imported = {m[len(prefix):].split(".")[0] for m in
                    _runtime_imports(PACKAGE / "reconcile" / f"{name}.py")
                    if m.startswith(prefix)} - {name}
        assert imported <= allowed, f"reconcile/{name}.py imports {imported - allowed}"


def test_the_kinds_are_walked_after_what_they_depend_on() -> None:
    from metabase_guard.reconcile.walk import KINDS

    names = [k.name for k in KINDS]
    assert names == ["collection", "card", "alert", "dashboard", "subscription"]
    for index, kind in enumerate(KINDS):
        assert set(kind.depends_on) <= set(names[:index]), kind.name


def test_only_the_transport_uses_requests() -> None:
    users = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
             if "requests" in _imports(p)]
    assert users == ["api/transport.py"]


def test_library_modules_do_not_print() -> None:
    allowed = {"cli.py", "demo.py", "importer.py", "sandbox/server.py"}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
                  and isinstance(n.func, ast.Name) and n.func.id == "print"]
        assert not prints, f"{rel} prints at lines {prints}"


def test_the_cli_sends_its_first_request_before_the_planner_and_sqlglot_load() -> None:
    # what `plan` and `apply` import before the read starts (cli, config, the client, the
    # read): the planner, the lint and sqlglot load while the first answers are on their way
    import subprocess
    import sys

    code = ("import sys, metabase_guard.cli, metabase_guard.reconcile.live; "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split())
    assert "metabase_guard.api.client" in loaded
    heavy = {"sqlglot", "duckdb", "metabase_guard.engine", "metabase_guard.lint",
             "metabase_guard.spec.models", "metabase_guard.reconcile.walk"}
    assert heavy & loaded == set()


def test_validate_loads_neither_the_http_client_nor_the_planner() -> None:
    # an offline command: requests, the client and reconcile/ were a third of its imports
    import subprocess
    import sys

    code = ("import sys, metabase_guard.cli, metabase_guard.lint, metabase_guard.spec.loader; "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split())
    assert "metabase_guard.lint" in loaded and "sqlglot" in loaded
    online = {"requests", "urllib3", "metabase_guard.api.client", "metabase_guard.engine",
              "metabase_guard.reconcile.cards", "metabase_guard.reconcile.live"}
    assert online & loaded == set()
