"""libyaml's C parser under the strict composer reads every text as PyYAML's pure-Python one.

``yamlio.parse`` reads with libyaml when PyYAML has it and falls back to the pure-Python loader
on any problem (so messages stay PyYAML's). These tests prove the fast path changes nothing:
for every YAML file of the repository, a list of edge cases and random texts, both loaders
build the same node tree (tags, values, lines, columns), or libyaml refuses the text (and
``parse`` reads it again in pure Python), or the text is one ``parse`` never gives libyaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metabase_guard.spec import yamlio

pytestmark = pytest.mark.skipif(not yamlio.LIBYAML, reason="PyYAML without libyaml")

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for p in ROOT.rglob("*.yaml") if ".git" not in p.parts and ".venv" not in p.parts)

EDGE_CASES = [
    "",
    "# only a comment\n",
    "---\n",
    "a: 1\n---\nb: 2\n",
    "a: &x 1\nb: *x\n",
    "a: !!python/object:os.system x\n",
    "a: !custom 1\n",
    "%YAML 1.1\n---\na: 1\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!foo 1\n",
    "a:\n\tb: 1\n",
    "a: b\tc\n",
    "a: 'x\n",
    'a: "x\\ty\\u00e9\\x41"\n',
    "a: |+\n  keep\n\n\nb: 1\n",
    "a: >-\n  folded\n  text\n\n  more\n",
    "a: [1, {b: 2}, [3, 4]]\n",
    "{a: 1, b: [x, y]}\n",
    "? complex\n: value\n",
    "? [a, b]\n: value\n",
    "a: 1\r\nb: 2\r\n",
    "a: 1\rb: 2\r",
    "a: 1\x85b: 2\n",
    "a: 1\u2028b: 2\u2029c: 3\n",
    "\ufeffa: 1\n",
    "a: 1\x07\n",
    "a: \ud7ff\n",
    "key: value: other\n",
    "- a\nb: 1\n",
    "a:\n  - 1\n - 2\n",
    "[" * 70 + "]" * 70 + "\n",
    "a: {b: 1\n",
    "a: b\n  c: d\n",
    "a: on\nb: yes\nc: 10:30\nd: 2024-01-01\ne: 0o17\nf: 0x1F\ng: .inf\nh: ~\n",
    "a: 1\na: 2\n",
    "'quoted key': 1\n\"dq\": 2\n",
    "a: @b\n",
    "a: `b\n",
    "- - - x\n",
    "...\n",
    "a: b #c\n#d\n",
    "a: \"multi\n  line\"\n",
    "a: 'it''s'\n",
    "a: |\n    indented\n  less\n",
    "a: |2\n   x\n",
    "a:\n- 1\n- 2\n",
]


def _tree(node: Node | None) -> Any:
    if node is None:
        return None
    where = (node.start_mark.line, node.start_mark.column)
    if isinstance(node, ScalarNode):
        # plain style is None in PyYAML and "" in libyaml; nothing in metabase-guard reads it
        return ("scalar", node.tag, node.value, node.style or None, where)
    if isinstance(node, SequenceNode):
        return ("seq", node.tag, where, [_tree(n) for n in node.value])
    assert isinstance(node, MappingNode)
    return ("map", node.tag, where, [(_tree(k), _tree(v)) for k, v in node.value])


def _outcome(compose: Any, text: str) -> Any:
    try:
        return ("ok", _tree(compose(text)))
    except (yamlio.YamlRejected, yamlio._Refused, yaml.YAMLError):
        return ("refused",)


def _composed_in_c(text: str) -> Node | None:
    return yamlio._compose_c(text)[0]


def _same(text: str) -> list[Any]:
    """Compare both libyaml composers with the pure one; the composers that were compared."""
    pure = _outcome(yamlio._compose_pure, text)
    compared = []
    for compose in (yamlio._compose_libyaml, _composed_in_c):
        try:
            fast = _outcome(compose, text)
        except (yamlio._NotForLibyaml, yamlio._MayHoldAnchors):
            continue  # parse reads this text another way
        if fast != ("refused",):  # a refusal by libyaml is read again in pure Python by parse
            assert fast == pure, (compose, text)
            compared.append(compose)
    return compared


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_repository_reads_the_same(path: Path) -> None:
    compared = _same(path.read_bytes().decode("utf-8-sig", errors="replace"))
    if "bad_input" not in path.parts:
        # the well-formed files take the C composer: a comparison that skipped them all would
        # pass and prove nothing (the bad-input corpus is meant to leave the fast path)
        assert _composed_in_c in compared, path


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_read_the_same(text: str) -> None:
    _same(text)


YAMLISH = st.lists(
    st.sampled_from([
        *"ab1 :-[]{},'\"|>#&*!?%\n\t.~\\@`=0x+e\u00e9\r", "\r\n", "  ", "\u2028", "\x85",
        "\ufeff", "- ", ": ", "---", "...", "\\u00e9",
        "&a", "*a", "R&", " & ", "!!str ", "! ",
    ]),
    max_size=30,
).map("".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_random_texts_read_the_same(text: str) -> None:
    _same(text)


def test_parse_falls_back_to_pure_python_messages() -> None:
    # libyaml would word this "found character that cannot start any token"; PyYAML's wording
    # (turned into the tab message) is kept, at PyYAML's line.
    with pytest.raises(yamlio.YamlRejected) as caught:
        yamlio.parse("a:\n\tb: 1\n")
    assert caught.value.issue.line == 2
    assert caught.value.issue.message == "tab character: YAML must be indented with spaces"


def test_without_libyaml_parse_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [p.read_text(encoding="utf-8") for p in FILES if "corpus" not in p.parts]
    fast = [yamlio.parse(t).value for t in texts]
    monkeypatch.setattr(yamlio, "LIBYAML", False)
    assert [yamlio.parse(t).value for t in texts] == fast
    assert any(fast)


class _EveryPattern(yaml.resolver.BaseResolver):
    """The core schema as it was resolved before: the four patterns tried on every scalar."""


for _tag, _pattern in (
    ("null", r"~|null|Null|NULL|"),
    ("bool", r"true|True|TRUE|false|False|FALSE"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
    ),
):
    _EveryPattern.add_implicit_resolver(
        "tag:yaml.org,2002:" + _tag, re.compile(rf"(?:{_pattern})\Z"), None
    )

SCALARISH = st.lists(
    st.sampled_from([*"0123456789+-.eE_xXoabcfinINFaNtTrRuUlLsSF~ :", "inf", "nan", "null",
                     "true", "False", "0x", "0o", "NaN", ".inf", "1e5"]),
    max_size=8,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(SCALARISH, st.sampled_from([(True, False), (False, True), (False, False)]))
def test_resolving_by_first_character_is_trying_every_pattern(
    value: str, implicit: tuple[bool, bool]
) -> None:
    ours = yamlio._Resolver().resolve(ScalarNode, value, implicit)
    assert ours == _EveryPattern().resolve(ScalarNode, value, implicit), value
