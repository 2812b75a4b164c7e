"""Suite-wide setup: the sandbox fixtures, and how many xdist workers ``-n auto`` starts."""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["metabase_guard.sandbox.pytest_plugin"]

# Bytecode caching on, whatever the machine says: with PYTHONDONTWRITEBYTECODE set (some build
# machines set it), every xdist worker rewrote and compiled each test module again, and each
# `metabase-guard` subprocess of the e2e tests compiled the package from source again.
# Workers and subprocesses inherit the environment, so it is cleared here, before they start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers per core for ``-n auto``.

    Much of the suite waits rather than computes: injected latency, race windows, ``mb`` and
    ``metabase-guard`` subprocesses. One worker per core left the two cores of a CI machine
    40 % idle (171 s wall for 205 s of CPU); two per core ran the same suite in 132 s.
    """
    return 2 * (os.cpu_count() or 1)
