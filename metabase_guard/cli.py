"""The ``metabase-guard`` command: a thin layer over the Python API; the only module that prints.

Exit codes: 0 success; 1 error (bad input, refused, failed, lint errors, failing alert tests,
``check`` finding a broken alert); 2 changes present (``plan --detailed-exitcode``) or an alert
that would send now (``check --fail-on-send``); 3 an unexpected error (a bug: please report
it); 130 interrupted.
Data (plans, JSON, YAML) goes to stdout, chatter and errors to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from metabase_guard import engine
from metabase_guard._version import __version__
from metabase_guard.alerttests import junit_xml, render_report
from metabase_guard.api.client import MetabaseClient
from metabase_guard.check import exit_status, render_check
from metabase_guard.config import Settings, resolve_settings
from metabase_guard.errors import (
    ApplyError,
    ConfigError,
    DeclarationError,
    MetabaseGuardError,
    ResolveError,
    redact,
)
from metabase_guard.lint import Finding, count_by_severity, has_errors, sql_notes
from metabase_guard.reconcile.apply import ApplyReport
from metabase_guard.reconcile.desired import Defaults
from metabase_guard.reconcile.plan import Change, Thresholds
from metabase_guard.render import render_json, render_markdown, render_text

__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "EXIT_UNEXPECTED", "main"]

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


def _connection_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection")
    g.add_argument("--url", help="Metabase URL (else METABASE_URL, else the config file)")
    g.add_argument("--target", help="a named target from the config file (e.g. staging)")
    g.add_argument("--config", help="config file (default: ./metabase-guard.yaml if present)")
    g.add_argument("--timeout", type=float, help="seconds to wait for each answer")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")


def _paths_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", help="declaration files or folders (default: alerts/)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metabase-guard",
        description="Metabase health-check questions, goal lines and alerts as code.",
    )
    parser.add_argument("--version", action="version", version=f"metabase-guard {__version__}")
    parser.add_argument("--debug", action="store_true", help="log HTTP requests to stderr")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check declarations offline (no server)")
    _paths_arg(p)
    p.add_argument("--config")
    p.add_argument("--target", help="a named target from the config file")
    p.add_argument("--strict", action="store_true", help="lint warnings are errors")
    p.add_argument("--verbose", action="store_true",
                   help="also say why SQL rules skipped a question (engine, parse error)")

    p = sub.add_parser("plan", help="show what apply would change (never writes)")
    _paths_arg(p)
    _connection_args(p)
    p.add_argument("--prune", action="store_true", help="plan deletes of undeclared objects")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--out", help="save the plan (JSON, with its checksum) for apply --plan")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 0 with no changes, 2 with changes, 1 on error")
    p.add_argument("--strict", action="store_true", help="lint warnings are errors")

    p = sub.add_parser("apply", help="make Metabase match the declarations")
    _paths_arg(p)
    _connection_args(p)
    p.add_argument("--prune", action="store_true",
                   help="archive managed cards and deactivate managed alerts no longer declared")
    p.add_argument("--yes", "--auto-approve", dest="yes", action="store_true",
                   help="do not ask for confirmation")
    p.add_argument("--plan", dest="saved_plan", help="apply only if this saved plan still holds")
    p.add_argument("--force", action="store_true", help="allow changes above the thresholds")
    p.add_argument("--concurrency", type=int, help="parallel writes (default 8)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: print the plan and report as JSON")

    p = sub.add_parser("import", help="write declarations for existing cards and adopt them")
    _connection_args(p)
    p.add_argument("--card", type=int, action="append", default=[], help="card id (repeatable)")
    p.add_argument("--key", help="the declaration key to give the one --card (default: from "
                                 "its marker, else its name)")
    p.add_argument("--collection", action="append", default=[], help="collection path")
    p.add_argument("--all-alerts", action="store_true", help="every card that has alerts")
    p.add_argument("--out", help="write the YAML here (default: stdout)")
    p.add_argument("--no-adopt", action="store_true",
                   help="only write YAML; do not mark the cards or take over their alerts")
    p.add_argument("--yes", action="store_true", help="do not ask before adopting")

    p = sub.add_parser("check", help="run each question now (read-only) and show what its "
                       "alerts would do")
    _paths_arg(p)
    _connection_args(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--fail-on-send", action="store_true",
                   help="exit 2 when any alert would send now (1 stays: a broken alert)")
    p.add_argument("--concurrency", type=int, help="queries run at once (default 4)")

    p = sub.add_parser("test", help="run the offline alert tests (files with 'tests:')")
    _paths_arg(p)
    p.add_argument("--config")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")

    sub.add_parser("schema", help="print the JSON Schema of the declaration format")

    p = sub.add_parser("demo", help="run the whole loop against an in-process sandbox")
    p.add_argument("paths", nargs="*", help="declarations (default: the bundled examples)")

    p = sub.add_parser("sandbox", help="run the Metabase emulator in the foreground")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--api-key", default="mb_sandbox_admin_key")
    p.add_argument("--version-tag", default="v0.61.2")
    p.add_argument("--seed", help="YAML seed file")
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
    if not settings.url:
        raise ConfigError("no Metabase URL: pass --url, set METABASE_URL or put url: in "
                          "metabase-guard.yaml")
    if not (settings.api_key or (settings.username and settings.password)):
        raise ConfigError(
            f"no credentials: set {settings.api_key_env} to an API key, or "
            f"{settings.username_env} and {settings.password_env}"
        )
    return engine.connect(
        settings.url,
        api_key=settings.api_key.reveal() if settings.api_key else None,
        username=settings.username,
        password=settings.password.reveal() if settings.password else None,
        timeout=settings.timeout,
        verify=settings.verify,
        concurrency=settings.concurrency,
    )


def _defaults(settings: Settings) -> Defaults:
    return Defaults(
        collection=settings.default_collection,
        email=tuple(settings.default_email),
        slack=tuple(settings.default_slack),
    )


def _thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        max_update_share=settings.max_update_share,
        max_delete_share=settings.max_delete_share,
        min_existing=settings.min_existing,
    )


# -- commands -------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    """``validate``: load and check declarations, offline."""
    settings = _settings(args)
    declarations = engine.load(settings.paths)
    count = len(declarations.questions)
    alerts = sum(len(q.alerts) for q in declarations.questions)
    findings = engine.lint(declarations, strict=args.strict, engines=settings.engines)
    if args.verbose:
        for note in sql_notes(declarations, settings.engines):
            _err(note)
    if _report_findings(findings):
        return EXIT_ERROR
    lint = f"; lint: {count_by_severity(findings)}" if findings else ""
    _err(f"OK: {count} question(s) with {alerts} alert(s) in {len(declarations.files)} "
         f"file(s){lint}.")
    return EXIT_OK


def _report_findings(findings: Sequence[Finding], *, show: bool = True) -> bool:
    """Print lint findings to stderr; True when any is an error (the command must fail)."""
    if show:
        for finding in findings:
            _err(str(finding))
    if has_errors(findings):
        _err(f"Lint: {count_by_severity(findings)}; errors block (warnings count as errors "
             "with --strict).")
        return True
    return False


def _render(result: engine.PlanResult, fmt: str, colour: bool) -> str:
    if fmt == "json":
        return render_json(result.plan, findings=result.findings)
    if fmt == "markdown":
        return render_markdown(result.plan, findings=result.findings)
    return render_text(result.plan, colour=colour, findings=result.findings)


def cmd_plan(args: argparse.Namespace) -> int:
    """``plan``: read Metabase, show the changes; never writes."""
    settings = _settings(args)
    declarations = engine.load(settings.paths)
    with _client(settings) as client:
        result = engine.plan(declarations, client, prune=args.prune, defaults=_defaults(settings),
                             strict=args.strict, engines=settings.engines)
        log.debug("plan read the instance in %d requests", client.request_count)
    sys.stdout.write(_render(result, args.format, _use_colour(args.color, sys.stdout)))
    if _report_findings(result.findings, show=False):
        return EXIT_ERROR
    if args.out:
        engine.save_plan(result, args.out)
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


def _progress(colour: bool) -> Callable[[Change, str, str | None], None]:
    def show(change: Change, status: str, error: str | None) -> None:
        if status == "start":
            return
        verb = {"create": "created", "update": "updated", "delete": "deleted"}[change.action]
        if change.kind == "alert" and change.action == "delete":
            verb = "deactivated"
        if change.kind == "card" and change.action == "delete":
            verb = "archived"
        line = f"{change.address}: {verb}" if status == "done" else (
            f"{change.address}: FAILED: {error}"
        )
        _err(("  " if status == "done" else "! ") + line)
    return show


def _summary(report: ApplyReport) -> str:
    counts = {"create": 0, "update": 0, "delete": 0}
    for change in report.done:
        counts[change.action] += 1
    return (f"{counts['create']} added, {counts['update']} changed, {counts['delete']} "
            f"destroyed ({report.requests} requests)")


def cmd_apply(args: argparse.Namespace) -> int:
    """``apply``: re-plan, confirm, write, summarise."""
    settings = _settings(args)
    declarations = engine.load(settings.paths)
    colour = _use_colour(args.color, sys.stderr)
    expected = engine.read_saved_plan(args.saved_plan)["checksum"] if args.saved_plan else None
    with _client(settings) as client:
        result = engine.plan(declarations, client, prune=args.prune, defaults=_defaults(settings))
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
        try:
            report = engine.apply(
                result,
                client,
                concurrency=settings.concurrency,
                thresholds=_thresholds(settings),
                force=True,  # checked above, before asking
                expected_checksum=expected,
                progress=_progress(colour) if args.format == "text" else None,
            )
        except ApplyError as exc:
            failed: ApplyReport = exc.report
            if args.format == "json":
                print(json.dumps({"plan": result.plan.to_dict(), "report": failed.to_dict()},
                                 indent=2))
            _err(f"\nApply failed: {_summary(failed)}.")
            for change, error in failed.failed:
                _err(f"  failed: {change.address}: {error}")
            for change in failed.not_attempted:
                _err(f"  not attempted: {change.address}")
            _err("Nothing was rolled back. Run apply again to finish: it picks up what was done.")
            return EXIT_ERROR
    if args.format == "json":
        print(json.dumps({"plan": result.plan.to_dict(), "report": report.to_dict()}, indent=2))
    _err(f"\nApply complete! {_summary(report)}.")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """``check``: run each question now, read-only, and say what each alert would do."""
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


def cmd_schema(args: argparse.Namespace) -> int:
    """``schema``: print the JSON Schema of the declaration format."""
    from metabase_guard.spec.loader import json_schema

    print(json.dumps(json_schema(), indent=2))
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
    from metabase_guard.sandbox import run_foreground

    return run_foreground(args.host, args.port, args.api_key, args.version_tag, args.seed)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "check": cmd_check,
    "test": cmd_test,
    "import": cmd_import,
    "schema": cmd_schema,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
}


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
    except (DeclarationError, ResolveError) as exc:
        _err(f"Error: {exc}")
        return EXIT_ERROR
    except MetabaseGuardError as exc:
        _err(f"Error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("Interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so, without leaking secrets
        if args.debug:
            import traceback

            _err(traceback.format_exc())
        _err(f"An unexpected error occurred: {type(exc).__name__}: {exc}\n"
             "This is a bug in metabase-guard; rerun with --debug for the traceback and "
             "please report it.")
        return EXIT_UNEXPECTED
