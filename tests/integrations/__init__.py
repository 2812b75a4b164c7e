"""Tests of the integrations (pre-commit, the GitHub Action, the pytest entry point)."""

import os
from typing import NoReturn

import pytest


def skip_or_fail(reason: str) -> NoReturn:
    """Skip where a tool is missing, but fail in CI, where a skip would pass silently."""
    if os.environ.get("METABASE_GUARD_REQUIRE_INTEGRATIONS") == "1":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)
