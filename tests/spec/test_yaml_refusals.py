"""Every refusal of ``yamlio.parse`` holds on the C composer's path as on the pure-Python one.

libyaml's composer (``yamlio._compose_c``) builds the tree in C, so the refusals are checked on
the finished tree and by the hooks it calls: each case here is read with libyaml and without
it, gives the same message, line and path, and is shown to reach the check it needs (the C
composer takes the text, or hands it on for the reason given).
"""

from __future__ import annotations

import re

import pytest
import yaml

from metabase_guard.spec import yamlio

C_ONLY = pytest.mark.skipif(not yamlio.LIBYAML, reason="PyYAML without libyaml")
ALIASES = "anchors and aliases are not allowed in these files"

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP_DUPLICATE = """\
questions:
  - key: a
    alerts:
      - when: has_rows
        schedule: {every: day}
      - when: below_goal
        email: [pm@example.com]
        when: above_goal
"""


def _nested(levels: int) -> str:
    """A mapping holding ``levels`` - 1 nested flow sequences: ``levels`` collections deep."""
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


@pytest.fixture(params=[True, False], ids=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Read with libyaml (when PyYAML has it) and without."""
    if request.param and not yamlio.LIBYAML:
        pytest.skip("PyYAML without libyaml")
    monkeypatch.setattr(yamlio, "LIBYAML", request.param)
    return bool(request.param)


def _refusal(text: str) -> yamlio.YamlIssue:
    with pytest.raises(yamlio.YamlRejected) as caught:
        yamlio.parse(text)
    return caught.value.issue


def test_alias_bomb_is_refused_at_its_first_anchor(loader: bool) -> None:
    issue = _refusal(BOMB)
    assert issue == yamlio.YamlIssue(1, (), f"anchor &a is not supported; {ALIASES}")


@C_ONLY
def test_alias_bomb_past_the_anchor_check_is_refused_without_expanding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were the text check for anchors to miss one, the aliases resolved into shared nodes stop
    # the building of values at the first node reached twice: 9 ** 8 strings are never made.
    monkeypatch.setattr(yamlio, "_ANCHOR", re.compile(r"(?!)"))
    node, nodes = yamlio._compose_c(BOMB)
    # the mapping, its 9 keys and 9 lists, and the first list's 9 strings: an alias is no new node
    assert nodes == 1 + 9 + 9 + 9
    with pytest.raises(yamlio._Shared):
        yamlio._document(node, nodes)
    assert _refusal(BOMB) == yamlio.YamlIssue(1, (), f"anchor &a is not supported; {ALIASES}")


@pytest.mark.parametrize(
    ("text", "line", "name"),
    [
        ("questions:\n  - key: &k a\n", 2, "k"),
        ("questions:\n  - &q\n    key: a\n", 2, "q"),
        ('questions: [{"key":&k a}]\n', 1, "k"),
        ("questions: [? &k key : a]\n", 1, "k"),
        ("a: b\nquestions: !!seq &s []\n", 2, "s"),
    ],
)
def test_anchor_without_alias_is_refused(loader: bool, text: str, line: int, name: str) -> None:
    if loader:
        with pytest.raises((yamlio._MayHoldAnchors, yamlio._NotForLibyaml)):
            yamlio._compose_c(text)
    message = f"anchor &{name} is not supported; {ALIASES}"
    assert _refusal(text) == yamlio.YamlIssue(line, (), message)


@C_ONLY
@pytest.mark.parametrize("value", ["R&D", "Sales & Marketing", "SELECT a&&b, c & 1"])
def test_an_ampersand_in_a_value_stays_on_the_c_composer(value: str) -> None:
    text = f"name: {value}\n"
    node, _ = yamlio._compose_c(text)
    assert node is not None and yamlio.parse(text).value == {"name": value}


def test_alias_to_no_anchor_is_refused(loader: bool) -> None:
    assert _refusal("questions:\n  - *nothing\n") == yamlio.YamlIssue(
        2, (), f"alias *nothing is not supported; {ALIASES}"
    )


def test_duplicate_key_deep_in_a_sequence(loader: bool) -> None:
    if loader:
        yamlio._compose_c(DEEP_DUPLICATE)  # composed in C: the tree walk finds it
    document = yamlio.parse(DEEP_DUPLICATE)
    assert document.issues == [
        yamlio.YamlIssue(
            8,
            ("questions", 0, "alerts", 1, "when"),
            "duplicate key 'when' (first at line 6); the later one is ignored",
        )
    ]
    assert document.value["questions"][0]["alerts"][1]["when"] == "below_goal"


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("questions:\n  - !!python/name:os.system key: a\n", "!!python/name:os.system"),
        ("questions:\n  - !custom key: a\n", "!custom"),
    ],
)
def test_tag_on_a_key_is_refused(loader: bool, text: str, tag: str) -> None:
    if loader:
        with pytest.raises(yamlio._NotForLibyaml):  # a node libyaml did not resolve: tagged
            yamlio._compose_c(text)
    assert _refusal(text) == yamlio.YamlIssue(
        2, ("questions", 0), f"tag {tag} is not supported: only plain YAML values are allowed"
    )


def test_nesting_of_64_levels_is_read(loader: bool) -> None:
    if loader:
        _, nodes = yamlio._compose_c(_nested(64))
        assert nodes == 65  # the key and 64 collections
    value = yamlio.parse(_nested(64)).value["a"]
    for _ in range(62):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("levels", [65, 200, 1_001])
def test_nesting_of_65_levels_is_refused(loader: bool, levels: int) -> None:
    if loader:  # stopped before going deeper (or, past 1,000 levels, by libyaml's own limit)
        with pytest.raises((yamlio._NotForLibyaml, yaml.YAMLError)):
            yamlio._compose_c(_nested(levels))
    assert _refusal(_nested(levels)) == yamlio.YamlIssue(1, (), "nesting deeper than 64 levels")


def test_block_nesting_of_65_levels_is_refused(loader: bool) -> None:
    text = "".join(" " * i + "k:\n" for i in range(64)) + " " * 64 + "v\n"
    assert _refusal(text) == yamlio.YamlIssue(64, (), "nesting deeper than 64 levels")


def test_omitted_and_tagged_values_read_as_in_pure_python(loader: bool) -> None:
    text = "a:\nb: !!str 5\nc: ''\nd: ! 5\ne: !!int '7'\n"
    assert yamlio.parse(text).value == {"a": None, "b": "5", "c": "", "d": 5, "e": 7}
