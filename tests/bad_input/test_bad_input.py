"""Malformed declarations are rejected with file, line and a clear message, exit 1, in bounded
time and memory, and nothing is written.

Each corpus file starts with ``# tests: <what>`` and ``# expect: line N: <fragment>`` (``line -``
when the problem has no line, ``<file> line N`` when it is reported in another file of a
folder). ``corpus/`` is checked offline with ``validate``; ``corpus_plan/`` (names that do not
exist on the instance) with ``plan`` against the sandbox.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from metabase_guard import cli
from metabase_guard.sandbox.pytest_plugin import MountedSandbox
from metabase_guard.spec import yamlio
from tests.e2e.conftest import demo_seed

HERE = Path(__file__).resolve().parent
CORPUS = sorted((HERE / "corpus").glob("*.yaml"))
PLAN_CORPUS = sorted((HERE / "corpus_plan").glob("*.yaml"))
PAIRS = sorted(p for p in (HERE / "corpus_pairs").iterdir() if p.is_dir())
MAX_PEAK = 50 * 1024 * 1024
MAX_SECONDS = 10.0  # a bound against runaway work, not a speed goal
_EXPECT = re.compile(r"^# expect: (?:(?P<file>\S+) )?line (?P<line>\d+|-): (?P<fragment>.+)$",
                     re.MULTILINE)


def _expectation(path: Path) -> tuple[str | None, str, str]:
    head = path.read_bytes()[:400].decode("utf-8", "replace")
    assert head.startswith("# tests: "), f"{path.name}: first line must say what it tests"
    found = _EXPECT.search(head)
    assert found, f"{path.name}: no '# expect: line N: fragment' header"
    return found["file"], found["line"], found["fragment"]


def _run_bounded(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, int]:
    capsys.readouterr()
    tracemalloc.start()
    started = time.monotonic()
    try:
        code = cli.main(argv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert elapsed < MAX_SECONDS, f"{argv}: took {elapsed:.1f} s"
    assert peak < MAX_PEAK, f"{argv}: peak {peak / 1e6:.0f} MB"
    return code, captured.out + captured.err, peak


def _assert_located(output: str, path: Path, line: str, fragment: str) -> None:
    assert "Error:" in output, output
    where = f"{path}:{line}:" if line != "-" else f"{path}:"
    assert where in output, f"expected {where!r} in:\n{output}"
    assert fragment in output, f"expected {fragment!r} in:\n{output}"
    assert "Traceback" not in output


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) + len(PLAN_CORPUS) + len(PAIRS) >= 40


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no metabase-guard.yaml around
    for name in ("METABASE_URL", "METABASE_API_KEY", "METABASE_USERNAME", "METABASE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_validate_rejects(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, line, fragment = _expectation(path)
    pwned = Path("/tmp/metabase-guard-pwned")
    pwned.unlink(missing_ok=True)
    code, output, _ = _run_bounded(["validate", str(path)], capsys)
    assert code == 1, output
    _assert_located(output, path, line, fragment)
    assert not pwned.exists(), "a YAML tag ran a command"


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("folder", PAIRS, ids=[p.name for p in PAIRS])
def test_validate_rejects_across_files(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file, line, fragment = _expectation(folder / "a.yaml")
    assert file is not None
    code, output, _ = _run_bounded(["validate", str(folder)], capsys)
    assert code == 1, output
    _assert_located(output, folder / file, line, fragment)


@pytest.mark.usefixtures("offline")
def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    code, output, _ = _run_bounded(["validate", str(empty)], capsys)
    assert code == 1
    assert f"{empty}: file is empty" in output


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("size", [yamlio.MAX_BYTES + 1, 512 * 1024 * 1024])
def test_oversized_file_is_refused_without_reading_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: int
) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:  # a valid start, then a sparse tail: cheap on disk
        handle.write(b"questions:\n" + b"  # padding\n" * 1000)
        handle.truncate(size)
    code, output, peak = _run_bounded(["validate", str(big)], capsys)
    assert code == 1
    assert f"{big}:" in output and "file is larger than 1 MiB" in output
    assert peak < 4 * yamlio.MAX_BYTES


@pytest.mark.usefixtures("offline")
def test_alias_bomb_is_refused_before_expansion(capsys: pytest.CaptureFixture[str]) -> None:
    code, output, peak = _run_bounded(["validate", str(HERE / "corpus" / "alias_bomb.yaml")],
                                      capsys)
    assert code == 1 and "aliases are not allowed" in output
    assert peak < 5 * 1024 * 1024  # 9**9 'lol's expanded would need gigabytes


@pytest.mark.usefixtures("offline")
def test_every_problem_of_the_corpus_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    """All files in one run: one error per file at least, still bounded, still exit 1."""
    code, output, _ = _run_bounded(["validate", str(HERE / "corpus")], capsys)
    assert code == 1
    for path in CORPUS:
        assert f"{path.name}:" in output, path.name


@pytest.mark.parametrize("path", PLAN_CORPUS, ids=[p.stem for p in PLAN_CORPUS])
def test_plan_rejects_unknown_names_and_writes_nothing(
    path: Path, metabase_sandbox_factory: Callable[..., MountedSandbox],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    _, line, fragment = _expectation(path)
    mb = metabase_sandbox_factory(seed=demo_seed())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
    mb.sandbox.reset_log()
    code, output, _ = _run_bounded(["plan", str(path)], capsys)
    assert code == 1, output
    _assert_located(output, path, line, fragment)
    assert "the instance has:" in output  # says what does exist
    writes = [r for r in mb.sandbox.requests if r.method in ("POST", "PUT", "DELETE")]
    assert writes == []
