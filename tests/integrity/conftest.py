"""Fixtures for integrity tests: a served sandbox, generated declarations, the CLI (as racing
processes, or in this process when one run follows another), and counts read from the raw API
(never from metabase-guard's own view)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metabase_guard.sandbox import DEMO_SEED, Sandbox, load_seed, serve
from metabase_guard.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[2]
PM_KEY = "mb_integrity_pm_key"


def declarations(n: int) -> str:
    """``n`` questions in two nested collections, one alert each."""
    return "questions:\n" + "".join(
        f"  - key: race-{i}\n"
        f"    name: Race check {i}\n"
        f"    collection: Race checks/Team {i % 2}\n"
        "    database: Warehouse\n"
        f"    sql: SELECT {i} AS n\n"
        "    display: scalar\n"
        "    alerts:\n"
        "      - when: has_rows\n"
        f'        schedule: {{every: day, at: "08:{i:02d}"}}\n'
        "        email: [pm@example.com]\n"
        for i in range(n)
    )


@dataclass
class Served:
    sb: Sandbox
    server: SandboxServer
    alerts: Path

    @property
    def url(self) -> str:
        return self.server.url

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METABASE_")}
        env.update(METABASE_URL=self.url, METABASE_API_KEY=self.sb.admin_api_key,
                   PYTHONPATH=str(REPO), NO_COLOR="1")
        env.update(extra)
        return env

    def start(self, *argv: str, **extra: str) -> subprocess.Popen[str]:
        """``python -m metabase_guard ARGV`` in the folder holding ``alerts/``."""
        return subprocess.Popen(
            [sys.executable, "-m", "metabase_guard", *argv],
            cwd=self.alerts.parent, env=self.env(**extra), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def run_process(self, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """A whole ``metabase-guard`` process, run to its end: its logging is its own."""
        proc = self.start(*argv, **extra)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def run(self, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``metabase-guard ARGV`` in this process, with the environment and folder of
        :meth:`start`: a run that races nothing needs no process of its own, and each one
        saves the ~0.7 s of CPU a process spends starting and importing (about 30 s a suite).
        Its log lines go to pytest, not to the result's stderr: tests of what logging prints
        use :meth:`run_process`."""
        from metabase_guard import cli

        out, err = io.StringIO(), io.StringIO()
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(self.env(**extra))
        try:
            os.chdir(self.alerts.parent)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(list(argv))
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        return subprocess.CompletedProcess(["metabase-guard", *argv], code, out.getvalue(),
                                           err.getvalue())

    def get(self, path: str, key: str | None = None, **query: str) -> Any:
        response = self.sb.handle("GET", path, {k: [v] for k, v in query.items()},
                                  {"x-api-key": key or self.sb.admin_api_key}, b"")
        assert response.status == 200, response.text
        return response.json()

    def post(self, path: str, body: Mapping[str, Any], key: str | None = None) -> Any:
        response = self.sb.handle("POST", path, {}, {"x-api-key": key or self.sb.admin_api_key},
                                  json.dumps(body).encode())
        assert response.status == 200, response.text
        return response.json()

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        response = self.sb.handle("PUT", path, {}, {"x-api-key": self.sb.admin_api_key},
                                  json.dumps(body).encode())
        assert response.status == 200, response.text
        return response.json()

    # -- counts from the raw API ----------------------------------------------------------

    def live_cards(self) -> list[dict[str, Any]]:
        return [c for c in self.get("/api/card", f="all") if not c["archived"]]

    def cards_per_name(self) -> Counter[str]:
        return Counter(c["name"] for c in self.live_cards() if c["name"].startswith("Race"))

    def active_alerts_per_card(self) -> Counter[int]:
        alerts = self.get("/api/notification", payload_type="notification/card")
        return Counter(n["payload"]["card_id"] for n in alerts if n["active"])

    def collections_per_path(self) -> Counter[tuple[str, str]]:
        return Counter((c["name"], c.get("location") or "/")
                       for c in self.get("/api/collection")
                       if isinstance(c["id"], int) and not c.get("archived"))


def _seed() -> dict[str, Any]:
    seed = dict(load_seed(DEMO_SEED))
    seed["users"] = [dict(u, api_key=PM_KEY) if u["email"] == "pm@example.com" else u
                     for u in seed["users"]]
    return seed


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A demo-seeded sandbox on a real port, with six generated declarations in alerts/."""
    sb = Sandbox(seed=_seed(), rng_seed=9)
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    (alerts / "race.yaml").write_text(declarations(6), encoding="utf-8")
    with serve(sb) as server:
        yield Served(sb, server, alerts)
