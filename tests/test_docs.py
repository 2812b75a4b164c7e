"""The user documentation agrees with the code: schema fields, CLI flags, links between docs."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import cli
from metabase_guard.spec.loader import json_schema

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DECLARATIONS = DOCS / "declarations.md"
CLI_DOC = DOCS / "cli.md"

# Docs other people are writing; a link to one is accepted while the file does not exist yet.
PENDING = {DOCS / "alert-rules.md"}

_MARKER = re.compile(r"<!--\s*schema:\s*(.+?)\s*-->")
_FIELD_CELL = re.compile(r"^\|\s*`([^`]+)`\s*\|")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~)")


# -- declarations.md against the JSON Schema -------------------------------------------------


def _schema_objects() -> dict[str, set[str]]:
    """Every object of the schema (by ``$defs`` name, the root as ``top level``) → properties."""
    schema = json_schema()
    objects = {"top level": set(schema["properties"])}
    for name, definition in schema.get("$defs", {}).items():
        if definition.get("type") == "object" or "properties" in definition:
            objects[name] = set(definition.get("properties", {}))
    return objects


def _documented_objects() -> dict[str, list[str]]:
    """Each ``<!-- schema: Name -->`` marker → the `field` names of the table that follows it."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    in_table = False
    for line in DECLARATIONS.read_text(encoding="utf-8").splitlines():
        marker = _MARKER.search(line)
        if marker:
            current = marker.group(1)
            assert current not in out, f"two tables for {current!r} in declarations.md"
            out[current] = []
            in_table = False
            continue
        if current is None:
            continue
        if line.startswith("|"):
            in_table = True
            cell = _FIELD_CELL.match(line)
            if cell:
                out[current].append(cell.group(1))
        elif in_table:
            current, in_table = None, False
    return out


def test_every_schema_object_has_a_table() -> None:
    documented = _documented_objects()
    assert set(documented) == set(_schema_objects())


@pytest.mark.parametrize("name", sorted(_schema_objects()))
def test_declaration_tables_match_the_schema(name: str) -> None:
    documented = _documented_objects().get(name, [])
    properties = _schema_objects()[name]
    assert len(documented) == len(set(documented)), f"{name}: a field is listed twice"
    missing = properties - set(documented)
    unknown = set(documented) - properties
    assert not missing, f"{name}: fields in the schema but not in declarations.md: {missing}"
    assert not unknown, f"{name}: fields in declarations.md but not in the schema: {unknown}"


def test_display_values_and_conditions_are_all_documented() -> None:
    text = DECLARATIONS.read_text(encoding="utf-8")
    question = json_schema()["$defs"]["Question"]["properties"]
    alert = json_schema()["$defs"]["Alert"]["properties"]
    for value in (*question["display"]["enum"], *alert["when"]["enum"]):
        assert f"`{value}`" in text, value


# -- cli.md against the argument parser ------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }


def test_cli_doc_names_every_command_and_flag() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    parser = cli._parser()
    global_flags = _options(parser)  # accepted after any command too; documented once
    missing = [f"`{o}`" for o in global_flags if f"`{o}" not in text]
    for name, sub in _subparsers(parser).items():
        if f"## `{name}`" not in text:
            missing.append(f"section ## `{name}`")
        section = text.split(f"## `{name}`", 1)[-1].split("\n## ", 1)[0]
        missing += [f"{name} `{o}`" for o in sorted(_options(sub) - global_flags)
                    if f"`{o}" not in section]
    assert not missing, f"not in docs/cli.md: {missing}"


def test_cli_doc_lists_every_exit_code() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    for code in (cli.EXIT_OK, cli.EXIT_ERROR, cli.EXIT_CHANGES, cli.EXIT_UNEXPECTED,
                 cli.EXIT_INTERRUPTED):
        assert re.search(rf"^\|\s*{code}\s*\|", text, re.MULTILINE), code


# -- examples in the docs run as documented -------------------------------------------------


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"),
                      re.MULTILINE | re.DOTALL)


def test_the_sandbox_doc_example_test_passes_beside_the_repos_alerts(tmp_path: Path) -> None:
    """docs/sandbox.md's tests/test_deploy.py, run as a user would: in a project with alerts/."""
    import shutil
    import subprocess
    import sys

    [example] = [b for b in _python_blocks(DOCS / "sandbox.md") if "def test_deploy" in b]
    shutil.copytree(REPO / "alerts", tmp_path / "alerts")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_deploy.py").write_text(example, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "metabase_guard.sandbox.pytest_plugin",
         "-p", "no:cacheprovider", "tests/test_deploy.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(r"\b\d+ passed", run.stdout)


def test_the_readme_python_snippet_runs(
    metabase_sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    from metabase_guard.sandbox import DEMO_SEED

    [snippet] = _python_blocks(REPO / "README.md")
    mb = metabase_sandbox_factory(seed=DEMO_SEED)
    shutil.copytree(REPO / "alerts", tmp_path / "alerts")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
    exec(compile(snippet.replace("https://metabase.example.com", mb.url), "README.md", "exec"),
         {})
    out = capsys.readouterr().out
    assert "Plan: " in out and "changes applied" in out


def test_getting_started_is_followable_on_the_sandbox_alone(
    metabase_sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Steps 2-6 of docs/getting-started.md on `sandbox --seed demo`: the quoted outputs hold."""
    from metabase_guard.sandbox import DEMO_SEED

    guide = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    [declaration] = re.findall(r"create `alerts/runs.yaml`:\n\n```yaml\n(.*?)```", guide,
                               re.DOTALL)
    mb = metabase_sandbox_factory(seed=DEMO_SEED)
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "runs.yaml").write_text(declaration, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)

    def run(*argv: str, code: int = 0) -> str:
        capsys.readouterr()
        assert cli.main(list(argv)) == code, argv
        captured = capsys.readouterr()
        return captured.out + captured.err

    assert "OK: 1 question(s) with 1 alert(s) in 1 file(s)." in run("validate")
    assert "OK: 1 question(s) with 1 alert(s) in 1 file(s)." in guide
    assert "Plan: 4 to add, 0 to change, 0 to destroy." in run("plan")
    applied = run("apply", "--yes")
    for line in applied.splitlines():
        if line.startswith(("  [", "Apply complete!")):
            assert line in guide, line
    assert "No changes. Metabase matches the declarations." in run("plan")
    checked = run("check", code=0)
    for line in checked.splitlines()[2:4]:
        assert line in guide, line
    (tmp_path / "alerts" / "runs.yaml").write_text(
        declaration.replace('at: "08:00"', "at: 8am"), encoding="utf-8")
    error = run("validate", code=1).splitlines()[1]
    assert error in guide, error


def _yaml_blocks(path: Path) -> list[Any]:
    import yaml

    text = path.read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", text,
                                                   re.MULTILINE | re.DOTALL)]


def test_ci_workflows_give_the_key_only_to_jobs_that_talk_to_metabase() -> None:
    workflows = [b for b in _yaml_blocks(DOCS / "ci.md")
                 if isinstance(b, dict) and "jobs" in b]
    assert len(workflows) >= 2
    for workflow in workflows:
        assert "METABASE_API_KEY" not in (workflow.get("env") or {}), "workflow-level key"
        for name, job in workflow["jobs"].items():
            steps = " ".join(str(step.get("run", "")) for step in job.get("steps", []))
            talks = any(f"metabase-guard {c}" in steps for c in ("plan", "apply", "check"))
            assert ("METABASE_API_KEY" in (job.get("env") or {})) == talks, name
            assert "metabase-guard==" not in steps, f"{name}: install from MG_PIP_SPEC"


def test_docs_quote_the_exit_code_of_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--no-such-flag"]) == cli.EXIT_ERROR
    capsys.readouterr()
    for doc in ("cli.md", "ci.md"):
        text = (DOCS / doc).read_text(encoding="utf-8")
        assert not re.search(r"usage error[^.]*exits? \**2", text), doc
    assert "exits **1**" in CLI_DOC.read_text(encoding="utf-8")


# -- plan-formats.md against the plan's JSON -------------------------------------------------


def test_plan_format_doc_names_every_json_key() -> None:
    from metabase_guard.reconcile.plan import Change, FieldChange, Plan, Unmanaged

    change = Change("update", "card", "card k", key="k", live_id=1,
                    fields=(FieldChange("goal", 1, 2),), effects=("e",), values=(("a", 1),))
    plan = Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=[change],
                      existing=1, unmanaged=[Unmanaged("card #2", "why")],
                      pending_deletes=[change], notes=["n"])
    data: dict[str, Any] = plan.to_dict()
    keys = set(data) | set(data["changes"][0]) | set(data["changes"][0]["changes"][0])
    keys |= set(data["unmanaged"][0]) | set(data["summary"])
    text = (DOCS / "plan-formats.md").read_text(encoding="utf-8")
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"not in docs/plan-formats.md: {missing}"
    assert f'"format_version": "{data["format_version"]}"' in text


# -- links and hygiene -----------------------------------------------------------------------


def _markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def _prose(path: Path) -> str:
    """The file without fenced code blocks (links in code are not links)."""
    out, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return "\n".join(out)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links() -> list[tuple[Path, str]]:
    return [(path, target) for path in _markdown_files()
            for target in _LINK.findall(_prose(path))]


@pytest.mark.parametrize(("source", "target"), _links(),
                         ids=[f"{s.name}->{t}" for s, t in _links()])
def test_relative_links_resolve(source: Path, target: str) -> None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:...
        return
    file_part, _, anchor = target.partition("#")
    destination = (source.parent / file_part).resolve() if file_part else source
    if destination in PENDING and not destination.exists():
        return
    assert destination.exists(), f"{source.name}: broken link {target}"
    if anchor and destination.suffix == ".md":
        assert anchor in _anchors(destination), f"{source.name}: no anchor #{anchor} in {target}"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_docs_name_no_path_of_a_build_machine(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w.])/(work|tmp|home|Users)/", text)
    # a note of the team, not in the repository: cite Metabase's source files instead
    assert "metabase-api.md" not in text
