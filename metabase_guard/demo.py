"""``metabase-guard demo``: the whole loop against an in-process Metabase sandbox.

plan → apply → plan (no changes) → a hand edit in "the UI" shows up as drift → apply reverts it.
Nothing leaves this machine: the sandbox listens on loopback only.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from metabase_guard import engine
from metabase_guard.errors import ConfigError
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.render import render_text
from metabase_guard.render.common import apply_summary, past_tense
from metabase_guard.sandbox import Sandbox, serve

__all__ = ["DEMO_API_KEY", "run_demo"]

DEMO_API_KEY = "mb_demo_key_not_a_secret"


#: The examples of alerts/, shipped in the package (``metabase_guard/examples`` is a link to
#: ``alerts/`` in a checkout, and a copy of it in an installed wheel), so that ``demo`` runs from
#: any directory after ``pip install``.
EXAMPLES = Path(__file__).resolve().parent / "examples"


def _short(file: str) -> str:
    """A bundled example by its name alone; any other file as given."""
    path = Path(file)
    return path.name if path.resolve().parent == EXAMPLES.resolve() else file


def _step(title: str) -> None:
    print(f"\n=== {title} ===\n", flush=True)


def run_demo(paths: Sequence[str] | None = None, *, colour: bool = False) -> int:
    """Run the demo; returns the exit code (0 when every step behaved as expected)."""
    chosen = list(paths or [str(EXAMPLES)])
    for path in chosen:
        if not Path(path).exists():
            raise ConfigError(f"{path} does not exist: pass declaration files or folders")
    declarations = engine.load(chosen)
    seed = resources.files("metabase_guard.sandbox").joinpath("demo_seed.yaml")
    with resources.as_file(seed) as seed_path:
        sandbox = Sandbox(version_tag="v0.61.2", api_key=DEMO_API_KEY, seed=str(seed_path))
    with serve(sandbox, host="127.0.0.1", port=0) as server, engine.connect(
        server.url, api_key=DEMO_API_KEY
    ) as client:
        print(f"metabase-guard demo: a Metabase sandbox is running at {server.url}")
        with_questions = {declarations.locate(q.key).file for q in declarations.questions}
        tests = [f for f in declarations.files if f not in with_questions]
        if not paths:
            print(f"The examples bundled with metabase-guard, in {EXAMPLES} (alerts/ of its "
                  "repository):")
        shown = [_short(f) for f in declarations.files if f in with_questions]
        boards = len(declarations.dashboards)
        print(f"Declarations: {', '.join(shown)} ({len(declarations.questions)} questions"
              + (f", {boards} dashboard{'s' if boards != 1 else ''})" if boards else ")")
              + (f"; alert tests (not used here): {', '.join(map(_short, tests))}"
                 if tests else ""))

        _step("1. plan: what would change")
        result = engine.plan(declarations, client)
        print(render_text(result.plan, colour=colour), end="")

        _step("2. apply")
        report = engine.apply(result, client)
        print(f"Apply complete! {apply_summary(report.done, report.requests)}.")

        _step("3. plan again: nothing to do")
        again = engine.plan(declarations, client)
        print(render_text(again.plan, colour=colour), end="")
        if not again.plan.is_empty:
            print("UNEXPECTED: the second plan is not empty", file=sys.stderr)
            return 1

        _step("4. someone lowers a goal line by hand in the Metabase UI")
        target = next(
            (c for c in client.cards.list() if managed_key(c.description) and
             "graph.goal_value" in c.visualization_settings),
            None,
        )
        if target is None:
            print("(no managed card with a goal line in these declarations; skipping drift)")
            return 0
        old = target.visualization_settings["graph.goal_value"]
        settings = dict(target.visualization_settings, **{"graph.goal_value": old / 2})
        client.cards.update(target.id, {"visualization_settings": settings})
        print(f"Card {target.name!r}: goal {old:g} -> {old / 2:g}")
        drift = engine.plan(declarations, client)
        print(render_text(drift.plan, colour=colour), end="")

        _step("5. apply reverts the drift")
        reverted = engine.apply(drift, client)
        for change in reverted.done:
            print(f"  {change.address}: {past_tense(change)}")
        print(f"Apply complete! {apply_summary(reverted.done, reverted.requests)}.")
        print("\nplan once more:")
        final = engine.plan(declarations, client)
        print(render_text(final.plan, colour=colour), end="")
        return 0 if final.plan.is_empty else 1
