"""The GitHub Action: its metadata, and its shell and comment steps run here as GitHub would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from metabase_guard.sandbox import DEMO_SEED, load_seed
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action"


def test_action_metadata_is_a_composite_with_the_documented_inputs() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    assert {"paths", "target", "version", "apply-on-default-branch", "api-key",
            "github-token"} <= set(action["inputs"])
    assert {"changes", "plan-markdown", "applied"} <= set(action["outputs"])
    scripts = [step["run"] for step in action["runs"]["steps"] if "action/" in step.get("run", "")]
    assert len(scripts) == 3
    for run in scripts:
        name = run.split("$GITHUB_ACTION_PATH/action/", 1)[1].split('"', 1)[0]
        assert (ACTION / name).is_file(), name
    apply_step = next(s for s in action["runs"]["steps"] if s.get("id") == "apply")
    assert "github.event_name == 'push'" in apply_step["if"]  # never on a pull request


class Step:
    """One run of an action script with GitHub's files for summary and outputs."""

    def __init__(self, tmp: Path, mb: MountedSandbox, project: Path) -> None:
        self.tmp, self.mb, self.project = tmp, mb, project
        self.summary = tmp / "summary.md"
        self.outputs = tmp / "outputs.txt"

    def run(self, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        self.outputs.write_text("", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("METABASE_", "MG_"))}
        env.update({
            "RUNNER_TEMP": str(self.tmp / "runner"),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.outputs),
            "MG_CLI": f"{sys.executable} -m metabase_guard",
            "MG_URL": self.mb.url,
            "MG_API_KEY": self.mb.api_key,
            "MG_PATHS": "alerts",
            "PYTHONPATH": str(REPO),
            "NO_COLOR": "1",
            **extra,
        })
        return subprocess.run(["bash", str(ACTION / script)], cwd=self.project, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    def output(self) -> dict[str, str]:
        lines = self.outputs.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def step(metabase_sandbox_factory: Callable[..., MountedSandbox], tmp_path: Path) -> Step:
    mb = metabase_sandbox_factory(seed=dict(load_seed(DEMO_SEED)))
    project = tmp_path / "project"
    shutil.copytree(REPO / "alerts", project / "alerts")
    return Step(tmp_path, mb, project)


def test_plan_step_then_apply_step_then_a_quiet_plan(step: Step) -> None:
    first = step.run("plan.sh")
    assert first.returncode == 0, first.stdout + first.stderr
    out = step.output()
    assert out["changes"] == "true"
    plan_md = Path(out["plan-markdown"]).read_text(encoding="utf-8")
    assert "weekly-recommendations" in plan_md
    assert plan_md in step.summary.read_text(encoding="utf-8")
    assert step.mb.api_key not in first.stdout + first.stderr + plan_md

    applied = step.run("apply.sh")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert step.output()["applied"] == "true"

    again = step.run("plan.sh")
    assert again.returncode == 0, again.stderr
    assert step.output()["changes"] == "false"


def test_a_broken_declaration_fails_the_step_and_the_summary_names_file_and_line(
    step: Step,
) -> None:
    (step.project / "alerts" / "broken.yaml").write_text(
        "questions:\n  - key: broken\n    name: Broken\n    database: Warehouse\n"
        "    sql: select 1\n    alerts:\n      - when: has_rows\n"
        "        schedule: {every: fortnight}\n        email: [a@example.com]\n",
        encoding="utf-8",
    )
    result = step.run("plan.sh")
    assert result.returncode == 1
    summary = step.summary.read_text(encoding="utf-8")
    assert "metabase-guard: validate failed" in summary
    assert "alerts/broken.yaml:8:" in summary
    assert step.output()["changes"] == "false"
    assert step.mb.sandbox.request_counts() == {}  # stopped before talking to Metabase


def test_an_unreachable_metabase_fails_the_plan_in_words(step: Step) -> None:
    result = step.run("plan.sh", MG_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    summary = step.summary.read_text(encoding="utf-8")
    assert "metabase-guard: plan failed" in summary
    assert "Traceback" not in summary and "This is a bug" not in summary


# -- the pull-request comment, against a stand-in for GitHub's REST API ----------------------


class FakeGitHub:
    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = [{"id": 1, "body": "LGTM"}]
        self.calls: list[tuple[str, str, str]] = []

    def handle(self, request: Request) -> Response:
        self.calls.append((request.method, request.path, request.headers.get("Authorization", "")))
        if request.headers.get("Authorization") != "Bearer ghs_secret_token":
            return Response('{"message": "Bad credentials"}', status=401)
        if request.method == "GET":
            page = int(request.args.get("page", "1"))
            chunk = self.comments[(page - 1) * 100: page * 100]
            return Response(json.dumps(chunk), content_type="application/json")
        body = json.loads(request.get_data())["body"]
        if request.method == "POST":
            self.comments.append({"id": len(self.comments) + 1, "body": body})
            return Response(json.dumps(self.comments[-1]), status=201)
        comment_id = int(request.path.rsplit("/", 1)[1])
        self.comments[comment_id - 1]["body"] = body
        return Response(json.dumps(self.comments[comment_id - 1]))


def _comment(httpserver: HTTPServer, plan: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_API_URL": httpserver.url_for("/").rstrip("/"),
           "GITHUB_TOKEN": "ghs_secret_token\n", "GITHUB_REPOSITORY": "acme/analytics",
           "MG_PR_NUMBER": "7", **extra}
    return subprocess.run([sys.executable, str(ACTION / "pr_comment.py"), str(plan)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_one_comment_per_target_is_created_then_edited(httpserver: HTTPServer,
                                                       tmp_path: Path) -> None:
    github = FakeGitHub()
    httpserver.expect_request("/repos/acme/analytics/issues/7/comments").respond_with_handler(
        github.handle)
    httpserver.expect_request(
        "/repos/acme/analytics/issues/comments/2", method="PATCH").respond_with_handler(
        github.handle)
    plan = tmp_path / "plan.md"
    plan.write_text("## Plan: 3 to add\n", encoding="utf-8")
    first = _comment(httpserver, plan)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    plan.write_text("## Plan: no changes\n", encoding="utf-8")
    second = _comment(httpserver, plan)
    assert second.returncode == 0, second.stderr
    assert "updated" in second.stdout
    assert [c["body"] for c in github.comments] == [
        "LGTM", "<!-- metabase-guard plan: default -->\n## Plan: no changes"]
    staging = _comment(httpserver, plan, MG_TARGET="staging")
    assert staging.returncode == 0
    assert len(github.comments) == 3
    assert github.comments[2]["body"].startswith("<!-- metabase-guard plan: staging -->")


def test_a_refused_token_is_said_in_words_and_never_printed(httpserver: HTTPServer,
                                                            tmp_path: Path) -> None:
    github = FakeGitHub()
    httpserver.expect_request("/repos/acme/analytics/issues/7/comments").respond_with_handler(
        github.handle)
    plan = tmp_path / "plan.md"
    plan.write_text("x" * 70_000, encoding="utf-8")
    result = _comment(httpserver, plan, GITHUB_TOKEN="ghs_wrong_token")
    assert result.returncode == 1
    assert "GitHub answered 401 to GET /repos/acme/analytics/issues/7/comments" in result.stderr
    assert "ghs_wrong_token" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_long_plan_is_cut_to_githubs_limit() -> None:
    sys.path.insert(0, str(ACTION))
    try:
        import pr_comment
    finally:
        sys.path.remove(str(ACTION))
    body = pr_comment.body_for("y" * 100_000, "prod")
    assert len(body) <= 65_536
    assert body.startswith("<!-- metabase-guard plan: prod -->\n")
    assert body.endswith("(cut: the full plan is in the job summary)")
