"""Fixtures for the alert-semantics tests: a CLI runner, offline or against the sandbox."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from metabase_guard import cli
from metabase_guard.lint import cron_slots
from metabase_guard.sandbox.pytest_plugin import MountedSandbox
from tests.e2e.conftest import REPO, Run, demo_seed

RunCli = Callable[..., Run]


@pytest.fixture(autouse=True)
def _fresh_cron_slots() -> None:
    """Empty lint's cron_slots memo before each test.

    mutmut forks each mutant from a process that already ran the suite: with the memo warm,
    a mutated ``_expand`` was never called and every one of its mutants "survived".
    """
    cron_slots.cache_clear()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``run_cli("test", "alerts")`` → Run(code, out, err), through ``cli.main``."""

    def run(*argv: str) -> Run:
        capsys.readouterr()
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp cwd holding a copy of alerts/ (declarations and their tests)."""
    shutil.copytree(REPO / "alerts", tmp_path / "alerts")
    monkeypatch.chdir(tmp_path)
    for name in ("METABASE_URL", "METABASE_API_KEY", "METABASE_USERNAME", "METABASE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def demo_mb(metabase_sandbox_factory: Callable[..., MountedSandbox], workdir: Path,
            monkeypatch: pytest.MonkeyPatch) -> MountedSandbox:
    """A demo-seeded sandbox, with METABASE_URL / METABASE_API_KEY pointing at it."""
    mb = metabase_sandbox_factory(seed=demo_seed())
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
    return mb
