"""The demo: the README's first command, from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert "Declarations: pipelines.yaml, recommender.yaml (5 questions)" in result.stdout
    assert "No changes" in result.stdout
    assert not (tmp_path / "alerts").exists()  # nothing written where it ran
