"""The demo: the README's first command, from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the suite runs on 3.11+
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def test_the_bundled_examples_are_alerts_and_ship_as_package_data() -> None:
    examples = REPO / "metabase_guard" / "examples"
    assert examples.is_symlink() and examples.resolve() == (REPO / "alerts").resolve()
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"examples/*.yaml"' in pyproject  # copied into the wheel, so demo works installed


def test_demo_runs_from_a_directory_without_alerts(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "metabase_guard", "demo"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "The examples bundled with metabase-guard" in result.stdout
    assert ("Declarations: pipelines.yaml, recommender.yaml (5 questions, 1 dashboard)"
            in result.stdout)
    assert "No changes" in result.stdout
    assert not (tmp_path / "alerts").exists()  # nothing written where it ran


def _installed_copy(site: Path) -> None:
    """The package as a wheel lays it out: the modules and the package data of pyproject.toml.

    A wheel cannot be built here without the network (the build backend pins setuptools>=77),
    so this copies what setuptools would: every package's ``*.py`` and the files matching
    ``[tool.setuptools.package-data]``, with the ``examples`` link resolved into a folder.
    """
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["metabase_guard"]
    source = REPO / "metabase_guard"
    wanted = {p for p in source.rglob("*.py") if "__pycache__" not in p.parts}
    for pattern in patterns:
        wanted |= set(source.glob(pattern))
    for path in wanted:
        target = site / "metabase_guard" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def test_the_installed_demo_creates_the_dashboard_and_plans_no_change(tmp_path: Path) -> None:
    site, elsewhere = tmp_path / "site-packages", tmp_path / "somewhere"
    _installed_copy(site)
    elsewhere.mkdir()
    shipped = site / "metabase_guard" / "examples" / "recommender.yaml"
    assert not shipped.is_symlink() and "key: recommender-health" in shipped.read_text()
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "metabase_guard", "demo"], cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"in {site / 'metabase_guard' / 'examples'}" in result.stdout  # not the checkout
    first, rest = result.stdout.split("=== 2. apply ===")
    assert '+ dashboard "recommender-health"' in first
    assert "heading 'Weekly pushes' at row 0, col 0, 24x1" in first
    again = rest.split("=== 3. plan again: nothing to do ===")[1].split("=== 4.")[0]
    assert "No changes. Metabase matches the declarations." in again
    assert list(elsewhere.iterdir()) == []
