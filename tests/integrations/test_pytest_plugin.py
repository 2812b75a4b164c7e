"""The sandbox fixtures as a pytest plugin: loaded by the entry point, with no conftest line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.integrations import skip_or_fail

PLUGIN = "metabase_guard.sandbox.pytest_plugin"

USER_TEST = '''
import requests

from metabase_guard import MetabaseClient


def test_deploy_script_sees_the_sandbox(metabase_sandbox):
    answer = requests.get(metabase_sandbox.url + "/api/user/current",
                          headers={"x-api-key": metabase_sandbox.api_key}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["is_superuser"] is True


def test_factory_builds_an_older_instance(metabase_sandbox_factory):
    mb = metabase_sandbox_factory(version_tag="v0.55.3")
    answer = requests.get(mb.url + "/api/session/properties", timeout=10)
    assert answer.json()["version"]["tag"] == "v0.55.3"
'''


def _installed_entry_point() -> metadata.EntryPoint | None:
    for entry in metadata.entry_points(group="pytest11"):
        if entry.value == PLUGIN:
            return entry
    return None


def _run_pytest(
    folder: Path, *extra: str, pythonpath: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_entry_point_is_named_after_the_module() -> None:
    # Named after the module, a conftest that still lists the module in pytest_plugins finds it
    # loaded; under another name pytest fails with "Plugin already registered".
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert "[project.entry-points.pytest11]" in pyproject
    assert f'"{PLUGIN}" = "{PLUGIN}"' in pyproject


@pytest.fixture
def installed(tmp_path: Path) -> metadata.EntryPoint:
    entry = _installed_entry_point()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    importable = subprocess.run([sys.executable, "-c", "import metabase_guard"], cwd=tmp_path,
                                env=env, capture_output=True, check=False).returncode == 0
    if entry is None or not importable:
        # metadata can also come from an egg-info folder on PYTHONPATH, without an install
        skip_or_fail("metabase-guard is not installed here (entry points are read from "
                     "installed metadata); CI installs it and runs this test")
    return entry


def test_a_user_test_gets_the_fixtures_with_nothing_configured(
    installed: metadata.EntryPoint, tmp_path: Path
) -> None:
    assert installed.name == PLUGIN
    (tmp_path / "test_user.py").write_text(USER_TEST, encoding="utf-8")
    result = _run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_an_old_conftest_line_still_works(installed: metadata.EntryPoint, tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(f"pytest_plugins = [{PLUGIN!r}]\n", encoding="utf-8")
    (tmp_path / "test_user.py").write_text(USER_TEST, encoding="utf-8")
    result = _run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already registered" not in result.stdout + result.stderr


def test_without_the_test_extra_only_the_fixture_fails_and_says_why(
    installed: metadata.EntryPoint, tmp_path: Path
) -> None:
    # A stand-in for an environment without pytest-httpserver: a module of that name that cannot
    # be imported, and pytest told not to load the real plugin.
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "pytest_httpserver.py").write_text("raise ImportError('not installed')\n",
                                                  encoding="utf-8")
    (tmp_path / "test_user.py").write_text(
        USER_TEST + "\n\ndef test_unrelated():\n    assert 1 + 1 == 2\n", encoding="utf-8"
    )
    result = _run_pytest(tmp_path, "-p", "no:pytest_httpserver", pythonpath=str(blocker))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 passed, 2 errors" in out  # the fixture fails in setup: an error, not a pass
    assert "pip install 'metabase-guard[test]'" in out
    assert "Traceback" not in out


def test_the_documented_deploy_test_passes_as_written(
    installed: metadata.EntryPoint, tmp_path: Path
) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "integrations.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(# tests/test_deploy\.py\n.*?)```", doc, re.S)
    assert block, "docs/integrations.md lost its complete deploy test"
    (tmp_path / "test_deploy.py").write_text(block.group(1), encoding="utf-8")
    result = _run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
