"""apply on a terminal: it asks, and only the literal 'yes' goes ahead."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.e2e.conftest import Env


def _apply_on_a_terminal(env: Env, answer: str) -> tuple[int, str]:
    master, slave = pty.openpty()
    environment = dict(os.environ, METABASE_URL=env.mb.url, METABASE_API_KEY=env.mb.api_key,
                       NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "metabase_guard", "apply", str(env.alerts)],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
    )
    os.close(slave)
    os.write(master, (answer + "\n").encode())
    out, err = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, (out + err).decode()


@pytest.mark.parametrize(("answer", "code", "writes"), [("no", 1, False), ("y", 1, False),
                                                        ("yes", 0, True)])
def test_apply_asks_and_accepts_only_yes(env: Env, answer: str, code: int, writes: bool) -> None:
    returncode, output = _apply_on_a_terminal(env, answer)
    assert "Only 'yes' will be accepted" in output
    assert returncode == code, output
    assert (env.writes() > 0) is writes
    assert env.mb.api_key not in output
