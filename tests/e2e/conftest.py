"""End-to-end fixtures: the CLI against a sandbox over HTTP, with the demo seed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import cli
from metabase_guard.api.client import MetabaseClient
from metabase_guard.sandbox import DEMO_SEED, load_seed
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


@dataclass
class Env:
    mb: MountedSandbox
    alerts: Path
    run: Callable[..., Run]

    def client(self, **kwargs: Any) -> MetabaseClient:
        if not kwargs:
            kwargs = {"api_key": self.mb.api_key}
        return MetabaseClient(self.mb.url, **kwargs)

    def writes(self) -> int:
        return sum(n for (method, _), n in self.mb.sandbox.request_counts().items()
                   if method in ("POST", "PUT", "DELETE"))


def demo_seed(**changes: Any) -> dict[str, Any]:
    seed = dict(load_seed(DEMO_SEED))
    seed.update(changes)
    return seed


@pytest.fixture
def env_for(metabase_sandbox_factory: Callable[..., MountedSandbox], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Callable[..., Env]:
    """Build an :class:`Env` on a sandbox of ``version_tag`` seeded with ``seed``."""

    def build(version_tag: str = "v0.61.2", seed: dict[str, Any] | None = None) -> Env:
        mb = metabase_sandbox_factory(version_tag=version_tag,
                                      seed=seed if seed is not None else demo_seed())
        alerts = tmp_path / "alerts"
        shutil.copytree(REPO / "alerts", alerts, ignore=shutil.ignore_patterns("*test*"))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("METABASE_URL", mb.url)
        monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
        for name in ("METABASE_USERNAME", "METABASE_PASSWORD", "NO_COLOR"):
            monkeypatch.delenv(name, raising=False)

        def run(*argv: str) -> Run:
            capsys.readouterr()
            code = cli.main(list(argv))
            captured = capsys.readouterr()
            return Run(code, captured.out, captured.err)

        return Env(mb, alerts, run)

    return build


@pytest.fixture
def env(env_for: Callable[..., Env]) -> Env:
    """A demo-seeded sandbox, a copy of alerts/ in a temp dir as cwd, and a CLI runner."""
    return env_for()
