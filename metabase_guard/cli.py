"""The ``metabase-guard`` command: a thin layer over the Python API; the only module that prints.

Exit codes: 0 success; 1 error (bad input, refused, failed, lint errors, failing alert tests,
``check`` finding a broken alert); 2 changes present (``plan --detailed-exitcode``) or an alert
that would send now (``check --fail-on-send``); 3 an unexpected error (a bug: please report
it); 130 interrupted.
Data (plans, JSON, YAML) goes to stdout, chatter and errors to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import logging
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from metabase_guard._gc import freeze_before_exit
from metabase_guard._version import __version__
from metabase_guard.config import Settings, resolve_settings
from metabase_guard.errors import (
    ApplyError,
    ConfigError,
    MetabaseGuardError,
    UnsafePlanError,
    redact,
)

# The planner, the lint (sqlglot) and the renderers are imported inside the commands: `plan`
# and `apply` send their first request before those load, and they load while it is answered.
if TYPE_CHECKING:
    from metabase_guard import engine
    from metabase_guard.api.client import MetabaseClient
    from metabase_guard.lint import Finding
    from metabase_guard.reconcile.apply import ApplyReport
    from metabase_guard.reconcile.kind import Defaults
    from metabase_guard.reconcile.live import LiveState
    from metabase_guard.reconcile.plan import Change, Plan, Thresholds
    from metabase_guard.spec.loader import Declarations

__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "EXIT_UNEXPECTED", "error_document", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130

log = logging.getLogger("metabase_guard")


# -- output helpers -------------------------------------------------------------------------


def _use_colour(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _err(message: str) -> None:
    print(redact(message), file=sys.stderr)


# -- argument parsing -----------------------------------------------------------------------


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``nan`` and ``inf`` would wait forever)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


_CONFIG_HELP = "config file (default: ./metabase-guard.yaml if present)"
_COLOR_HELP = "colour the output: auto (a terminal, unless NO_COLOR is set), always or never"


def _global_args(p: argparse.ArgumentParser, *, default: Any) -> None:
    """``--debug`` and ``--color``, accepted before and after the command name."""
    p.add_argument("--debug", action="store_true", default=default,
                   help="log HTTP requests to stderr; show the traceback of an unexpected error")
    p.add_argument("--color", "--colour", dest="color", choices=("auto", "always", "never"),
                   default=default if default is argparse.SUPPRESS else "auto",
                   help=_COLOR_HELP)


def _connection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection")
    g.add_argument("--url", help="Metabase URL (else METABASE_URL, else the config file)")
    g.add_argument("--target", help="a named target from the config file (e.g. staging)")
    g.add_argument("--config", help=_CONFIG_HELP)
    g.add_argument("--timeout", type=_seconds, help="seconds to wait for each answer")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")


def _paths_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", help="declaration files or folders (default: alerts/)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metabase-guard",
        description="Metabase health-check questions, goal lines and alerts as code.",
    )
    parser.add_argument("--version", action="version", version=f"metabase-guard {__version__}")
    _global_args(parser, default=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_args(common, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add("validate", help="check declarations offline (no server)")
    _paths_arg(p)
    p.add_argument("--config", help=_CONFIG_HELP)
    p.add_argument("--target", help="a named target from the config file")
    p.add_argument("--strict", action="store_true", help="lint warnings are errors")
    p.add_argument("--verbose", action="store_true",
                   help="also say why SQL rules skipped a question (engine, parse error)")

    p = add("plan", help="show what apply would change (never writes)")
    _paths_arg(p)
    _connection_args(p)
    p.add_argument("--prune", action="store_true", help="plan deletes of undeclared objects")
    p.add_argument("--only", action="append", default=[], metavar="KEY",
                   help="only this question (its card, alerts and collections; repeatable)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--out", help="save the plan (JSON, with its checksum) for apply --plan")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 0 with no changes, 2 with changes, 1 on error")
    p.add_argument("--strict", action="store_true", help="lint warnings are errors")

    p = add("apply", help="make Metabase match the declarations")
    _paths_arg(p)
    _connection_args(p)
    p.add_argument("--prune", action="store_true",
                   help="archive managed cards and deactivate managed alerts no longer declared")
    p.add_argument("--only", action="append", default=[], metavar="KEY",
                   help="only this question (its card, alerts and collections; repeatable)")
    p.add_argument("--yes", "--auto-approve", dest="yes", action="store_true",
                   help="do not ask for confirmation")
    p.add_argument("--plan", dest="saved_plan", help="apply only if this saved plan still holds")
    p.add_argument("--force", action="store_true", help="allow changes above the thresholds")
    p.add_argument("--concurrency", type=int, help="parallel writes (default 12)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: print the plan and report as JSON")

    p = add("import", help="write declarations for existing cards and dashboards and adopt "
                           "them")
    _connection_args(p)
    p.add_argument("--card", type=int, action="append", default=[], help="card id (repeatable)")
    p.add_argument("--key", help="the declaration key to give the one --card (default: from "
                                 "its marker, else its name)")
    p.add_argument("--collection", action="append", default=[], help="collection path")
    p.add_argument("--all-alerts", action="store_true", help="every card that has alerts")
    p.add_argument("--dashboard", type=int, action="append", default=[], metavar="ID",
                   help="a dashboard id: its items, subscriptions and cards (repeatable)")
    p.add_argument("--out", help="write the YAML here (default: stdout)")
    p.add_argument("--schema", metavar="FILE", default="metabase-guard.schema.json",
                   help="the JSON Schema the --out file's first line points editors at; "
                        "written if missing (default: %(default)s)")
    p.add_argument("--no-adopt", action="store_true",
                   help="only write YAML; do not mark the cards or take over their alerts")
    p.add_argument("--yes", action="store_true", help="do not ask before adopting")

    p = add("check", help="run each question now (read-only) and show what its "
                       "alerts would do")
    _paths_arg(p)
    _connection_args(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--fail-on-send", action="store_true",
                   help="exit 2 when any alert would send now (1 stays: a broken alert)")
    p.add_argument("--concurrency", type=int, help="queries run at once (default 4)")

    p = add("test", help="run the offline alert tests (files with 'tests:')")
    _paths_arg(p)
    p.add_argument("--config", help=_CONFIG_HELP)
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")

    p = add("show", help="what is managed on the instance, or a saved plan (show plan.json)")
    p.add_argument("saved_plan", nargs="?", metavar="PLAN",
                   help="a plan saved by plan --out: render it again (no server needed)")
    _connection_args(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")

    p = add("schema", help="print the JSON Schema of the declaration format")
    p.add_argument("--out", metavar="FILE",
                   help="write it to FILE instead (for editors: see docs/integrations.md)")

    p = add("completion", help="print a shell completion script (bash or zsh)")
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")

    p = add("demo", help="run the whole loop against an in-process sandbox")
    p.add_argument("paths", nargs="*", help="declarations (default: the bundled examples)")

    p = add("sandbox", help="run the Metabase emulator in the foreground")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=3000,
                   help="port to listen on (default 3000; 0 picks a free one)")
    p.add_argument("--api-key", default="mb_sandbox_admin_key",
                   help="the admin API key the sandbox accepts (default mb_sandbox_admin_key)")
    p.add_argument("--version-tag", default=None,
                   help="the Metabase version the sandbox reports and emulates (default "
                        "v0.61.2, or the seed's version); given, it wins over the seed's")
    p.add_argument("--seed", help="YAML seed file, or 'demo' for the seed of the demo and "
                                  "docs/getting-started.md (default: the built-in seed)")
    return parser


# -- settings and connection ----------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    cli: dict[str, Any] = {}
    for name in ("url", "timeout", "concurrency"):
        value = getattr(args, name, None)
        if value is not None:
            cli[name] = value
    if getattr(args, "insecure", False):
        cli["verify"] = False
    if getattr(args, "paths", None):
        cli["paths"] = list(args.paths)
    return resolve_settings(
        config_path=getattr(args, "config", None),
        target=getattr(args, "target", None),
        cli=cli,
        environ=os.environ,
    )


def _client(settings: Settings) -> MetabaseClient:
    from metabase_guard.api.client import connect
    if not settings.url:
        raise ConfigError("no Metabase URL: pass --url, set METABASE_URL or put url: in "
                          "metabase-guard.yaml")
    if not (settings.api_key or (settings.username and settings.password)):
        raise ConfigError(
            f"no credentials: set {settings.api_key_env} to an API key, or "
            f"{settings.username_env} and {settings.password_env}"
        )
    return connect(
        settings.url,
        api_key=settings.api_key.reveal() if settings.api_key else None,
        username=settings.username,
        password=settings.password.reveal() if settings.password else None,
        timeout=settings.timeout,
        verify=settings.verify,
        concurrency=settings.concurrency,
    )


@contextmanager
def _loaded_and_reading(
    settings: Settings,
) -> Iterator[tuple[Declarations, MetabaseClient, Future[LiveState]]]:
    """The declarations, and the client with the plan's read of the instance under way.

    The read (read-only) starts before the YAML is loaded, so the card list's round trip and
    the server's work overlap the loading. Errors keep their order: the declarations' first,
    then the connection's (a read error is raised by ``engine.plan``).
    """
    from metabase_guard.reconcile.live import read_ahead

    try:
        client = _client(settings)
    except ConfigError:
        from metabase_guard import engine

        engine.load(settings.paths)
        raise
    with client:
        reading = read_ahead(client)
        try:
            from metabase_guard import engine  # the planner loads while the read is answered

            declarations = engine.load(settings.paths)
        except BaseException:
            wait([reading])  # no request left in flight behind the error (its own is moot)
            raise
        yield declarations, client, reading


def _defaults(settings: Settings) -> Defaults:
    from metabase_guard.reconcile.kind import Defaults
    return Defaults(
        collection=settings.default_collection,
        email=tuple(settings.default_email),
        slack=tuple(settings.default_slack),
    )


def _thresholds(settings: Settings) -> Thresholds:
    from metabase_guard.reconcile.plan import Thresholds
    return Thresholds(
        max_update_share=settings.max_update_share,
        max_delete_share=settings.max_delete_share,
        min_existing=settings.min_existing,
    )


# -- commands -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: load and check declarations, offline."""
    # engine.load and engine.lint without the rest of engine: the HTTP client and the planner
    # are a third of this command's imports (0.2 s)
    from metabase_guard.lint import count_by_severity, lint_offline, sql_notes
    from metabase_guard.spec.loader import load
    settings = _settings(args)
    declarations = load(settings.paths)
    count = len(declarations.questions)
    alerts = sum(len(q.alerts) for q in declarations.questions)
    findings = lint_offline(declarations, strict=args.strict, engines=settings.engines)
    notes = sql_notes(declarations, settings.engines)
    if args.verbose:
        for note in notes:
            _err(note)
    if _report_findings(findings):
        return EXIT_ERROR
    lint = f"; lint: {count_by_severity(findings)}" if findings else ""
    if notes and not args.verbose:
        # SQL the lint cannot read is SQL nothing checked: say so, or OK reads as "all checked"
        lint += (f"; the SQL rules skipped {len(notes)} question(s) (--verbose says why, "
                 "check runs them)")
    boards = declarations.dashboards
    dashboards = (f", {len(boards)} dashboard(s) with "
                  f"{sum(len(d.subscriptions) for d in boards)} subscription(s)" if boards else "")
    _err(f"OK: {count} question(s) with {alerts} alert(s){dashboards} in "
         f"{len(declarations.files)} file(s){lint}.")
    return EXIT_OK


def _report_findings(findings: Sequence[Finding], *, show: bool = True) -> bool:
    """Print lint findings to stderr; True when any is an error (the command must fail)."""
    from metabase_guard.lint import count_by_severity, has_errors
    if show:
        for finding in findings:
            _err(str(finding))
    if has_errors(findings):
        _err(f"Lint: {count_by_severity(findings)}; errors block (warnings count as errors "
             "with --strict).")
        return True
    return False


def _render(plan: Plan, findings: Sequence[Finding], fmt: str, colour: bool) -> str:
    from metabase_guard.render import render_json, render_markdown, render_text
    if fmt == "json":
        return render_json(plan, findings=findings)
    if fmt == "markdown":
        return render_markdown(plan, findings=findings)
    return render_text(plan, colour=colour, findings=findings)


def _only(args: argparse.Namespace, result: engine.PlanResult) -> engine.PlanResult:
    """``--only KEY``: the plan cut down to those questions (reconcile.target)."""
    if not args.only:
        return result
    from metabase_guard.reconcile.target import restrict

    return dataclasses.replace(result, plan=restrict(result.plan, result.desired, args.only))


def _threshold_warning(result: engine.PlanResult, settings: Settings) -> str | None:
    """Why ``apply`` would refuse this plan without ``--force``, or None."""
    try:
        result.plan.raise_if_unsafe(_thresholds(settings))
    except UnsafePlanError as exc:
        return f"apply would stop on this plan: {exc}"
    return None


def _save(result: engine.PlanResult, path: str) -> None:
    from metabase_guard import engine
    try:
        engine.save_plan(result, path)
    except OSError as exc:
        raise ConfigError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def cmd_plan(args: argparse.Namespace) -> int:
    """``plan``: read Metabase, show the changes; never writes."""
    from metabase_guard import engine
    settings = _settings(args)
    with _loaded_and_reading(settings) as (declarations, client, reading):
        result = _only(args, engine.plan(declarations, client, prune=args.prune,
                                         defaults=_defaults(settings), strict=args.strict,
                                         engines=settings.engines, reading=reading))
        log.debug("plan read the instance in %d requests", client.request_count)
    warning = _threshold_warning(result, settings)
    output = _render(result.plan, result.findings, args.format,
                     _use_colour(args.color, sys.stdout))
    if warning and args.format == "markdown":
        output += f"\n> ⚠️ **Warning:** {warning}\n"
    sys.stdout.write(output)
    if warning:
        _err(f"Warning: {warning}")
    if _report_findings(result.findings, show=False):
        return EXIT_ERROR
    if args.out:
        _save(result, args.out)
        _err(f"Saved the plan to {args.out} (checksum {result.plan.checksum[:12]}).")
    if args.detailed_exitcode and not result.plan.is_empty:
        return EXIT_CHANGES
    return EXIT_OK


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip() == "yes"


_REQUEST_SUFFIX = re.compile(r" \((?:GET|POST|PUT|DELETE) [^ )]*\)$")


class _Progress:
    """The apply progress lines, one whole line at a time from any worker thread, counted.

    It also remembers what finished, so an interrupted apply can say what was done.
    """

    def __init__(self, total: int, *, show: bool) -> None:
        self.total = total
        self.show = show
        self.done: list[Change] = []
        self.failed: list[tuple[Change, str]] = []
        self._lock = threading.Lock()

    def __call__(self, change: Change, status: str, error: str | None) -> None:
        from metabase_guard.render.common import past_tense
        if status == "start":
            return
        with self._lock:
            if status == "done":
                self.done.append(change)
            else:
                self.failed.append((change, error or "failed"))
            if not self.show:
                return
            count = len(self.done) + len(self.failed)
            width = len(str(self.total))
            counter = f"[{count:>{width}}/{self.total}]"
            if status == "done":
                _err(f"  {counter} {change.address}: {past_tense(change)}")
            else:
                _err(f"! {counter} {change.address}: FAILED: {error}")


def _unfinished(failed: Sequence[tuple[Change, str]], not_attempted: Sequence[Change]) -> None:
    """List what failed (one line per distinct error) and what was not attempted."""
    by_error: dict[str, list[str]] = {}
    for change, error in failed:
        # "Metabase is down" once, not once per write in flight to a different endpoint
        by_error.setdefault(_REQUEST_SUFFIX.sub("", error), []).append(change.address)
    for error, addresses in by_error.items():
        if len(addresses) == 1:
            _err(f"  failed: {addresses[0]}: {error}")
        else:
            _err(f"  failed ({len(addresses)}): {', '.join(addresses)}: {error}")
    for change in not_attempted:
        _err(f"  not attempted: {change.address}")
    _err("Nothing was rolled back. Run apply again to finish: it picks up what was done.")


def cmd_apply(args: argparse.Namespace) -> int:
    """``apply``: re-plan, confirm, write, summarise."""
    from metabase_guard import engine
    from metabase_guard.render import render_text
    from metabase_guard.render.common import apply_summary
    settings = _settings(args)
    with _loaded_and_reading(settings) as (declarations, client, reading):
        expected = (engine.read_saved_plan(args.saved_plan)["checksum"] if args.saved_plan
                    else None)
        result = _only(args, engine.plan(declarations, client, prune=args.prune,
                                         defaults=_defaults(settings), reading=reading))
        if args.format == "text":
            sys.stdout.write(render_text(result.plan, colour=_use_colour(args.color,
                                                                         sys.stdout),
                                         findings=result.findings))
        if _report_findings(result.findings, show=args.format != "text"):
            _err("Nothing was applied.")
            return EXIT_ERROR
        if result.plan.is_empty:
            if args.format == "json":
                print(json.dumps({"plan": result.plan.to_dict(), "report": None}, indent=2))
            return EXIT_OK
        if not args.force:
            result.plan.raise_if_unsafe(_thresholds(settings))
        if not (args.yes or expected):
            if not sys.stdin.isatty():
                raise ConfigError(
                    "refusing to apply without confirmation: no terminal to ask on; pass --yes "
                    "(or --plan FILE with a reviewed plan)"
                )
            if not _confirm(
                "\nDo you want to perform these actions?\n"
                "  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
            ):
                _err("Apply cancelled.")
                return EXIT_ERROR
        progress = _Progress(len(result.plan.changes), show=args.format == "text")
        try:
            report = engine.apply(
                result,
                client,
                concurrency=settings.concurrency,
                thresholds=_thresholds(settings),
                force=True,  # checked above, before asking
                expected_checksum=expected,
                progress=progress,
            )
        except ApplyError as exc:
            failed: ApplyReport = exc.report
            if args.format == "json":
                print(json.dumps({"plan": result.plan.to_dict(), "report": failed.to_dict()},
                                 indent=2))
            _err(f"\nApply failed: {apply_summary(failed.done, failed.requests)}.")
            _unfinished(failed.failed, failed.not_attempted)
            return EXIT_ERROR
        except KeyboardInterrupt:
            finished = {c.address for c in progress.done} | {c.address for c, _ in
                                                              progress.failed}
            rest = [c for c in result.plan.changes if c.address not in finished]
            _err(f"\nApply interrupted: {apply_summary(progress.done)}.")
            _unfinished(progress.failed, rest)
            return EXIT_INTERRUPTED
    if args.format == "json":
        print(json.dumps({"plan": result.plan.to_dict(), "report": report.to_dict()}, indent=2))
    _err(f"\nApply complete! {apply_summary(report.done, report.requests)}.")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """``check``: run each question now, read-only, and say what each alert would do."""
    from metabase_guard import engine
    from metabase_guard.check import exit_status, render_check
    settings = _settings(args)
    declarations = engine.load(settings.paths)
    with _client(settings) as client:
        report = engine.check(declarations, client,
                              concurrency=args.concurrency or min(settings.concurrency, 4))
    sys.stdout.write(render_check(report, args.format))
    status = exit_status(report, fail_on_send=args.fail_on_send)
    if status == "broken":
        _err("check: an alert is broken (query failed, can never fire, or Metabase fails it).")
        return EXIT_ERROR
    return EXIT_CHANGES if status == "sends" else EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    """``test``: the offline alert tests; exit 1 when any fails."""
    from metabase_guard import engine
    from metabase_guard.alerttests import junit_xml, render_report
    settings = _settings(args)
    declarations = engine.load(settings.paths)
    report = engine.run_tests(declarations, settings.engines)
    sys.stdout.write(render_report(report))
    if args.junit:
        try:
            with open(args.junit, "w", encoding="utf-8") as handle:
                handle.write(junit_xml(report))
        except OSError as exc:
            raise ConfigError(f"cannot write the JUnit report {args.junit}: {exc}") from None
    return EXIT_ERROR if report.failed else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """``show``: the managed cards and alerts of the instance, or a saved plan again."""
    from metabase_guard import engine
    from metabase_guard.reconcile.live import read_live
    from metabase_guard.render.show import inventory, plan_from_dict, render_inventory

    if args.saved_plan:
        plan = plan_from_dict(engine.read_saved_plan(args.saved_plan), source=args.saved_plan)
        sys.stdout.write(_render(plan, (), args.format, _use_colour(args.color, sys.stdout)))
        return EXIT_OK
    settings = _settings(args)
    with _client(settings) as client:
        live = read_live(client)
        url = client.url
    sys.stdout.write(render_inventory(inventory(live), url=url, timezone=live.report_timezone,
                                      fmt=args.format))
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    """``completion``: the shell completion script, made from this parser."""
    from metabase_guard.completion import completion_script

    sys.stdout.write(completion_script(_parser(), args.shell))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """``schema``: print the JSON Schema of the declaration format."""
    from metabase_guard.editor import schema_text, write_schema

    if args.out:
        _err(f"Wrote the JSON Schema to {write_schema(args.out)}.")
    else:
        print(schema_text(), end="")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """``import``: write declarations for live cards and adopt them."""
    from metabase_guard.importer import run_import

    settings = _settings(args)
    with _client(settings) as client:
        return run_import(client, args, settings, confirm=_confirm, say=_err)


def cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: plan, apply, plan again, drift, revert, on an in-process sandbox."""
    from metabase_guard.demo import run_demo

    return run_demo(args.paths or None, colour=_use_colour(args.color, sys.stdout))


def cmd_sandbox(args: argparse.Namespace) -> int:
    """``sandbox``: serve the Metabase emulator until interrupted."""
    from metabase_guard.sandbox import DEMO_SEED, run_foreground
    from metabase_guard.sandbox.seed import load_seed

    tag: str | None = args.version_tag
    seed: dict[str, Any] | None = None
    if args.seed:
        try:
            seed = load_seed(DEMO_SEED if args.seed == "demo" else args.seed)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if tag is not None:
            seed["version"] = tag
    try:
        return run_foreground(args.host, args.port, args.api_key, tag or "v0.61.2", seed)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise ConfigError(
                f"cannot listen on {args.host}:{args.port}: {exc.strerror}; is another sandbox "
                "or Metabase using it? pass another --port (0 picks a free one)"
            ) from None
        raise


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "check": cmd_check,
    "test": cmd_test,
    "import": cmd_import,
    "show": cmd_show,
    "schema": cmd_schema,
    "completion": cmd_completion,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
}


def run() -> NoReturn:
    """The ``metabase-guard`` executable: :func:`main` on ``sys.argv``, then exit."""
    code = main()
    freeze_before_exit()
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error: 2 means "changes" here
        return EXIT_OK if exc.code in (0, None) else EXIT_ERROR
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args)
    except MetabaseGuardError as exc:
        _err(f"Error: {exc}")
        _error_document(args, exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("Interrupted.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (``schema | head -1``): not an error; keep Python's exit-time
        # flush of stdout from failing again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # the machine, not metabase-guard: a full disk, a closed terminal
        _err(f"Error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_ERROR
    except Exception as exc:  # a bug: say so, without leaking secrets
        if args.debug:
            import traceback

            _err(traceback.format_exc())
        _err(f"An unexpected error occurred: {type(exc).__name__}: {exc}\n"
             "This is a bug in metabase-guard; rerun with --debug for the traceback and "
             "please report it.")
        return EXIT_UNEXPECTED


def error_document(exc: MetabaseGuardError) -> dict[str, Any]:
    """An error as the JSON object ``--format json`` prints on stdout: ``error``, ``problems``."""
    first = str(exc).split("\n", 1)[0]
    problems = [
        {"file": p.file, "line": p.line, "field": p.field, "message": p.message}
        for p in getattr(exc, "problems", ())
    ]
    return {"error": redact(first), "kind": type(exc).__name__, "problems": problems}


def _error_document(args: argparse.Namespace, exc: MetabaseGuardError) -> None:
    """With ``--format json`` or ``markdown``, stdout gets the error too (for a PR bot)."""
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        print(json.dumps(error_document(exc), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        doc = error_document(exc)
        lines = [f"### metabase-guard {args.command} failed", "", f"**Error:** {doc['error']}"]
        if doc["problems"]:
            lines.append("")
            for p in doc["problems"]:
                where = p["file"] if p["line"] is None else f"{p['file']}:{p['line']}"
                field = f" `{p['field']}`:" if p["field"] else ""
                lines.append(f"- `{where}`{field} {p['message']}")
        print(redact("\n".join(lines)))
