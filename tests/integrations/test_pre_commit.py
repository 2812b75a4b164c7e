"""The pre-commit hooks, run by pre-commit itself against a sample repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integrations import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
HOOK_IDS = {"metabase-guard-validate", "metabase-guard-test"}


def test_hooks_file_declares_both_hooks_offline_and_whole_project() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {hook["id"] for hook in hooks} == HOOK_IDS
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False  # cross-file rules need the whole project
        assert hook["entry"].split()[:2] == ["metabase-guard", hook["id"].rsplit("-", 1)[1]]


def test_documented_config_names_the_hooks_that_exist() -> None:
    doc = (REPO / "docs" / "integrations.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# \.pre-commit-config\.yaml\n.*?)```", doc, re.S)
    assert block, "docs/integrations.md lost its .pre-commit-config.yaml example"
    config = yaml.safe_load(block.group(1))
    (repo,) = config["repos"]
    assert {hook["id"] for hook in repo["hooks"]} == HOOK_IDS


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_pre_commit_runs_the_hooks_and_stops_a_broken_commit(tmp_path: Path) -> None:
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        skip_or_fail("pre-commit is not installed (a dev dependency; CI installs it)")
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    user = tmp_path / "user-repo"
    shutil.copytree(REPO / "alerts", user / "alerts")
    _git(user, "init", "-q")
    _git(user, "add", "-A")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    # the hook environment is thrown away with tmp_path: compiling its .pyc files buys nothing
    env["PIP_NO_COMPILE"] = "1"

    # What try-repo does, once: a commit of the working tree as it is (uncommitted changes
    # included, HEAD when clean), so both runs share one hook environment instead of two.
    snapshot = subprocess.run(["git", "stash", "create"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    rev = snapshot or subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                     text=True, check=True).stdout.strip()
    (user / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {rev}\n    hooks:\n"
        "      - id: metabase-guard-validate\n      - id: metabase-guard-test\n",
        encoding="utf-8",
    )
    _git(user, "add", "-A")

    def run(*hooks: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "run", *hooks, "--all-files"],
            cwd=user, env=env, capture_output=True, text=True, timeout=600, check=False,
        )

    good = run()
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"metabase-guard validate\.+Passed", good.stdout)
    assert re.search(r"metabase-guard test\.+Passed", good.stdout)

    (user / "alerts" / "broken.yaml").write_text(
        "questions:\n  - key: broken\n    name: Broken\n    database: Warehouse\n"
        "    sql: select 1\n    alerts:\n      - when: has_rows\n"
        "        schedule: {every: fortnight}\n        email: [a@example.com]\n",
        encoding="utf-8",
    )
    _git(user, "add", "-A")
    bad = run("metabase-guard-validate")
    assert bad.returncode == 1, bad.stdout
    assert re.search(r"metabase-guard validate\.+Failed", bad.stdout)
    assert "alerts/broken.yaml:8: questions[0].alerts[0].schedule.every" in bad.stdout
    assert "Traceback" not in bad.stdout
