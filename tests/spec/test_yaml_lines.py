"""The lines a document keeps for its messages locate every path as PyYAML's node tree did.

``yamlio.parse`` keeps, per element, only its line (``MapLines``, ``SeqLines``, an int for a
scalar) instead of the node tree with its two marks per node. ``_reference_locate`` walks the
node tree the way ``locate`` did before; both must agree on every path of every YAML file of
the repository, on keys and indexes that are not there, and on a mapping with a key that is
no scalar.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metabase_guard.spec import yamlio

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    p for p in [*ROOT.glob("alerts/*.yaml"), *ROOT.glob("metabase_guard/examples/*.yaml"),
                *ROOT.glob("tests/bad_input/corpus*/*.yaml")]
)


def _reference_locate(node: Node | None, path: Sequence[str | int]) -> tuple[int | None, int]:
    if node is None:
        return None, 0
    line: int | None = node.start_mark.line + 1
    depth = 0
    current = node
    for element in path:
        if isinstance(current, MappingNode):
            for key_node, value_node in current.value:
                if isinstance(key_node, ScalarNode) and yamlio._key_value(key_node) == element:
                    line, current = key_node.start_mark.line + 1, value_node
                    break
            else:
                break
        elif isinstance(current, SequenceNode) and isinstance(element, int):
            if not 0 <= element < len(current.value):
                break
            current = current.value[element]
            line = current.start_mark.line + 1
        else:
            break
        depth += 1
    return line, depth


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path of a value, and beside each one a key and an index that are not there."""
    yield prefix
    yield (*prefix, "no-such-key")
    yield (*prefix, 10_000)
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _both(text: str) -> tuple[yamlio.Document, Node | None]:
    return yamlio.parse(text), yamlio._compose_pure(text)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_of_the_repositorys_files_is_located_as_on_the_node_tree(path: Path) -> None:
    try:
        document, tree = _both(path.read_bytes().decode("utf-8-sig"))
    except (yamlio.YamlRejected, UnicodeDecodeError):
        pytest.skip("not readable YAML (a bad-input case): no lines kept")
    if document.node is None:  # an empty document: nothing to locate, as before
        assert tree is None and yamlio.locate(None, ("questions",)) == (None, 0)
        return
    checked = 0
    for data_path in _paths(document.value):
        assert yamlio.locate(document.node, data_path) == _reference_locate(tree, data_path)
        found = yamlio.node_at(document.node, data_path)
        assert (found is None) == (_reference_locate(tree, data_path)[1] < len(data_path))
        checked += 1
    assert checked >= 3


def test_a_key_that_is_no_scalar_matches_no_path_element() -> None:
    # parse refuses such a key; the lines of a tree holding one still locate as the tree did
    tree = yamlio._compose_pure("? [a, b]\n: 1\nc:\n  - x\n  - {d: 2}\n")
    assert tree is not None
    lines = yamlio._lines(tree)
    paths: list[tuple[str | int, ...]] = [
        ("a",), (0,), ("c", 1, "d"), ("c", 2), ("c", 1, "e"), ("c", "x")]
    for data_path in paths:
        assert yamlio.locate(lines, data_path) == _reference_locate(tree, data_path)
    assert yamlio.locate(lines, ("c", 1, "d")) == (5, 3)
    assert yamlio.node_at(lines, ("a",)) is None


def test_a_scalar_document_and_an_empty_one() -> None:
    assert yamlio.locate(yamlio.parse("\n\nhello\n").node, ("a", 0)) == (3, 0)
    assert yamlio.locate(yamlio.parse("# nothing\n").node, ("a",)) == (None, 0)


def _retained(build: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    return size


def test_the_lines_kept_are_a_fraction_of_the_node_tree() -> None:
    # what a loaded project keeps for its messages, per question: the reason for the lines
    text = "questions:\n" + "".join(
        f"  - key: q-{i}\n    name: Question {i}\n    database: Warehouse\n"
        f"    sql: SELECT {i} AS n\n    alerts:\n      - when: has_rows\n"
        f'        schedule: {{every: day, at: "08:00"}}\n        email: [a@example.com]\n'
        for i in range(60)  # 0.8 s under tracemalloc; 300 took 4.4 s for the same ratio (5.7)
    )
    tree = _retained(lambda: yamlio._compose_pure(text))
    lines = _retained(lambda: yamlio._lines(yamlio._compose_pure(text)))  # type: ignore[arg-type]
    assert lines * 4 < tree, (lines, tree)
