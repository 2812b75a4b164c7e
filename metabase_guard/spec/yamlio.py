"""Strict YAML reading that keeps the line of every node.

Used by the declaration loader and by ``config.py``. Compared with ``yaml.safe_load``:

- scalars are resolved with the YAML 1.2 core schema, not YAML 1.1: ``on``/``yes``/``no`` stay
  strings (``on: monday`` is a key named ``on``, not ``True``), ``10:30`` is a string and not the
  sexagesimal integer 630, and dates stay strings;
- duplicate keys in a mapping are reported (PyYAML silently keeps the last one);
- anchors and aliases are refused, which also rules out "billion laughs" alias bombs;
- any tag other than the plain ``!!str``/``!!int``/``!!float``/``!!bool``/``!!null``/``!!map``/
  ``!!seq`` is refused (no ``!!python/object``);
- input over :data:`MAX_BYTES` and nesting deeper than :data:`MAX_DEPTH` are refused;
- the composed node tree is kept, so that :func:`locate` can turn a path such as
  ``("questions", 0, "alerts", 1, "when")`` back into a line number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

try:  # libyaml's C parser, when PyYAML was built with it (its wheels are)
    from yaml._yaml import CParser

    LIBYAML = True
except ImportError:  # pragma: no cover - a PyYAML without libyaml: pure Python only
    LIBYAML = False

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "Document",
    "Lines",
    "MapLines",
    "SeqLines",
    "YamlIssue",
    "YamlRejected",
    "decode",
    "format_path",
    "locate",
    "node_at",
    "parse",
]

#: Largest declaration or config file accepted, in bytes.
MAX_BYTES = 1024 * 1024
#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True)
class YamlIssue:
    """A located problem found while reading YAML; ``path`` is the data path (may be empty)."""

    line: int | None
    path: tuple[str | int, ...]
    message: str


class YamlRejected(Exception):
    """The text cannot be read as YAML at all; carries one :class:`YamlIssue`."""

    def __init__(self, issue: YamlIssue) -> None:
        self.issue = issue
        super().__init__(issue.message)


@dataclass
class Document:
    """A parsed YAML document: plain Python ``value``, where its elements are, soft ``issues``.

    ``node`` (the lines of every element, for :func:`locate`) is ``None`` for an empty
    document. ``issues`` are problems that did not stop reading (duplicate keys: the first
    occurrence is kept).
    """

    value: Any
    node: Lines | None
    issues: list[YamlIssue] = field(default_factory=list)


class MapLines:
    """Where a mapping is: its line, and per entry its key, the key's line and the value's."""

    __slots__ = ("entries", "line")

    def __init__(self, line: int, entries: tuple[tuple[Any, int, Lines], ...]) -> None:
        self.line = line
        self.entries = entries


class SeqLines:
    """Where a sequence is: its line and its items'."""

    __slots__ = ("items", "line")

    def __init__(self, line: int, items: tuple[Lines, ...]) -> None:
        self.line = line
        self.items = items


#: The lines of a document's elements, kept for messages instead of PyYAML's node tree: a
#: scalar is its 1-based line. The node tree holds two marks per node; for 5,000 questions it
#: stayed alive at 50 MiB, this at a fraction (tests/spec/test_yaml_lines.py).
Lines = MapLines | SeqLines | int

#: The key of a mapping entry whose key is no scalar: equal to no path element.
_NO_KEY = object()


_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"

#: YAML 1.2 core schema patterns of plain scalars, tried in this order.
_CORE = [
    (_TAG + "null", re.compile(r"(?:~|null|Null|NULL|)\Z")),
    (_TAG + "bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")),
    (_TAG + "int", re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")),
    (
        _TAG + "float",
        re.compile(
            r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
        ),
    ),
]
#: The patterns a plain scalar can match, by its first character ("" for the empty scalar):
#: any other first character is a string. Most scalars are names, SQL and e-mail addresses,
#: so this spares trying the four patterns on each (``tests/spec/test_yaml_libyaml.py``
#: checks the result is the patterns' in order).
_BY_FIRST: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, pattern) for tag, pattern in _CORE if tag.endswith(kinds)]
    for firsts, kinds in (
        ("", ("null",)),
        ("~nN", ("null",)),
        ("tTfF", ("bool",)),
        ("0123456789-+", ("int", "float")),
        (".", ("float",)),
    )
    for first in firsts or ("",)
}


class _Resolver(BaseResolver):
    """YAML 1.2 core schema resolution of plain scalars."""

    def resolve(self, kind: type[Node], value: str | None, implicit: Any) -> str:
        """The tag of an untagged node: PyYAML's ``resolve`` with the core schema's patterns."""
        if kind is ScalarNode:
            if implicit[0]:
                assert value is not None
                for tag, pattern in _BY_FIRST.get(value[:1], ()):
                    if pattern.match(value):
                        return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP


class _Strict:
    """The composer's guard, mixed into both loaders: refuses anchors, aliases, deep nesting."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        line = event.start_mark.line if event.start_mark is not None else 0
        if isinstance(event, AliasEvent):
            raise _Refused(
                line,
                f"alias *{event.anchor} is not supported; "
                "anchors and aliases are not allowed in these files",
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(
                line,
                f"anchor &{anchor} is not supported; "
                "anchors and aliases are not allowed in these files",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(line, f"nesting deeper than {MAX_DEPTH} levels")
        try:
            # Composer's own method, named: in _CLoader the C parser is not a Composer.
            return Composer.compose_node(self, parent, index)  # type: ignore[arg-type]
        finally:
            self._depth -= 1


class _Loader(_Strict, Reader, Scanner, Parser, Composer, _Resolver):
    """PyYAML's pure-Python reader, scanner and parser under the strict composer.

    The reference: every error message comes from this loader.
    """

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)


if LIBYAML:

    class _CLoader(_Strict, Composer, CParser, _Resolver):
        """libyaml's C scanner and parser feeding events to the same strict composer.

        Composer comes before the C parser in the MRO so that its ``get_single_node`` (which
        calls :meth:`_Strict.compose_node` per node, hence keeps every line and refusal) is
        used, not libyaml's own composer.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            _Resolver.__init__(self)

        def compose_node(self, parent: Node | None, index: Any) -> Node | None:
            # Where libyaml and PyYAML build different nodes, the pure-Python loader reads the
            # text: some explicit tags (a lone "!" is null in one, str in the other) and empty
            # values (an omitted value is placed at another line or column).
            event = self.peek_event()
            if getattr(event, "tag", None) is not None or (
                isinstance(event, ScalarEvent) and not event.value and not event.style
            ):
                raise _NotForLibyaml
            return super().compose_node(parent, index)


    class _CComposer(CParser, _Resolver):
        """libyaml's own composer, in C, with the three hooks it calls per node counting.

        No event becomes a Python object and nothing is composed in Python; the hooks count
        what the refusals need.

        ``descend_resolver`` counts the nodes built and refuses nesting past :data:`MAX_DEPTH`
        before going deeper (the C composer recurses on the C stack); ``resolve`` counts the
        nodes without an explicit tag (libyaml resolves only those) and notes an empty value
        that is neither quoted nor explicit, which PyYAML places elsewhere. It does not see
        anchors: :func:`_compose_c` keeps texts that may hold one away from it.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Resolver.__init__(self)
            self.nodes = 0
            self.untagged = 0
            self.depth = 0
            self.empty_plain = False

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            """Count a node about to be built; refuse one nested too deep."""
            self.nodes += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _NotForLibyaml

        def ascend_resolver(self) -> None:
            """Leave a node."""
            self.depth -= 1

        def resolve(self, kind: type[Node], value: str | None, implicit: Any) -> str:
            """The core schema's tag, counting untagged nodes and noting empty plain values."""
            self.untagged += 1
            if value == "" and implicit != (False, True):
                self.empty_plain = True
            return _Resolver.resolve(self, kind, value, implicit)


class _MayHoldAnchors(Exception):
    """The text may hold an anchor, which the C composer cannot report."""


class _Shared(Exception):
    """A node of the tree is reached twice: an alias the C composer resolved."""


class _NotForLibyaml(Exception):
    """The text holds something libyaml reads differently from PyYAML: read it in pure Python."""


class _Refused(Exception):
    def __init__(self, line0: int, message: str) -> None:
        self.line = line0 + 1
        self.message = message


def decode(data: bytes) -> str:
    """Decode file bytes as UTF-8 (a BOM is allowed); raise :class:`YamlRejected` otherwise."""
    if len(data) > MAX_BYTES:
        raise YamlRejected(
            YamlIssue(None, (), f"file is larger than {MAX_BYTES // 1024 // 1024} MiB")
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
        raise YamlRejected(
            YamlIssue(line, (), f"not valid UTF-8: byte 0x{byte:02x} at column {column}")
        ) from None


#: What PyYAML's words usually mean in a hand-written file, added after them.
_YAML_HINTS = (
    ("mapping values are not allowed here",
     "a line indented deeper than the one above it, or a value with ': ' in it that needs "
     "quotes"),
    ("expected <block end>",
     "a line indented less or more than the lines of the same list or mapping"),
    ("could not find expected ':'",
     "a line with no 'key: value', or a value running over lines that needs quotes or |"),
)


def _yaml_error_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem:
        return "tab character: YAML must be indented with spaces"
    context = f"{exc.context}, " if exc.context else ""
    hint = next((f" (probably {words})" for found, words in _YAML_HINTS if found in problem),
                "")
    return f"invalid YAML: {context}{problem}{hint}"


def _bad_character(exc: yaml.reader.ReaderError) -> str:
    char = exc.character
    code = char if isinstance(char, int) else ord(char) if isinstance(char, str) else None
    shown = f"U+{code:04X}" if code is not None else repr(char)
    return f"invalid character {shown}: control characters are not allowed in YAML"


def parse(text: str) -> Document:
    """Parse one YAML document; raise :class:`YamlRejected` if it cannot be read.

    libyaml reads the text when PyYAML has it: its C composer builds the node tree (about ten
    times as fast as composing in Python), unless the text may hold an anchor, which only the
    composer in Python (over libyaml's C parser) refuses. When either finds anything wrong,
    or the text holds something libyaml reads differently, the text is read again by the
    pure-Python loader, so that every message and line is PyYAML's, as before.
    """
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YamlRejected(
            YamlIssue(None, (), f"file is larger than {MAX_BYTES // 1024 // 1024} MiB")
        )
    if LIBYAML:
        try:
            node, nodes = _compose_c(text)
            return _document(node, nodes)
        except (_NotForLibyaml, yaml.YAMLError):
            return _document(_compose_pure(text), None)
        except (_MayHoldAnchors, _Shared):
            pass
        try:
            node = _compose_libyaml(text)
        except (_Refused, _NotForLibyaml, yaml.YAMLError):
            node = _compose_pure(text)
        return _document(node, None)
    return _document(_compose_pure(text), None)


def _document(node: Node | None, nodes: int | None) -> Document:
    """The document of a node tree.

    ``nodes``, when given, is how many nodes were composed: a tree with more is refused
    with :class:`_Shared` as soon as building it goes past that count.
    """
    if node is None:
        return Document(None, None)
    values = _Values(nodes)
    value = values.of(node, ())
    return Document(value, _lines(node), values.issues)


def _lines(node: Node) -> Lines:
    line: int = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        return MapLines(line, tuple(
            (_key_value(k) if isinstance(k, ScalarNode) else _NO_KEY, k.start_mark.line + 1,
             _lines(v))
            for k, v in node.value
        ))
    if isinstance(node, SequenceNode):
        return SeqLines(line, tuple(_lines(item) for item in node.value))
    return line


# Texts libyaml reads differently from PyYAML, found by tests/spec/test_yaml_libyaml.py: a
# character PyYAML's reader refuses (libyaml too, at other positions); a byte-order mark after
# the start; a tab, which PyYAML refuses in a plain scalar and libyaml accepts; a comment right
# after a block scalar's indicator (``|#``), which only libyaml accepts; a ``?`` in a flow
# collection (``[a?]``), which only libyaml accepts.
_PURE_ONLY = re.compile(rf"\t|\ufeff|[|>][-+0-9]*#|{Reader.NON_PRINTABLE.pattern}")
_FLOW = re.compile(r"[\[{]")


def _compose_libyaml(text: str) -> Node | None:
    """The node tree by libyaml's parser; its own exception on any problem.

    The caller then reads the text again in pure Python, for PyYAML's message.
    """
    if _PURE_ONLY.search(text) or ("?" in text and _FLOW.search(text)):
        raise _NotForLibyaml
    loader = _CLoader(text)
    try:
        node: Node | None = loader.get_single_node()
    finally:
        loader.dispose()
    return node


# Where an anchor can start: "&" and a character of an anchor name, after anything but an
# ASCII letter, a digit or another "&". libyaml's scanner takes "&" for an anchor only at the
# start of a token (inside a plain scalar or a tag it is a character of the scalar or the tag),
# and a token that ends in a letter or digit right before it (a plain scalar, a tag, an anchor,
# an alias, a version) either takes the "&" in or is an error, as is an anchor with no name
# ("&&b"). So "R&D", "Sales & Marketing" and "a&&b" stay on the fast path, and a text without
# a match holds no anchor, hence no alias (libyaml refuses an alias to an anchor it has not
# seen). tests/spec/test_yaml_libyaml.py reads random texts both ways.
_ANCHOR = re.compile(r"(?<![0-9A-Za-z&])&[0-9A-Za-z_-]")


def _compose_c(text: str) -> tuple[Node | None, int]:
    """The node tree by libyaml's C composer, and how many nodes it built.

    :class:`_MayHoldAnchors` if the text may hold an anchor; :class:`_NotForLibyaml` if it
    holds what libyaml reads differently (also an explicit tag: libyaml resolves none of
    those, so they are the nodes it built but did not resolve) or nests too deep; libyaml's
    own exception on any other problem.
    """
    if _PURE_ONLY.search(text) or ("?" in text and _FLOW.search(text)):
        raise _NotForLibyaml
    if "&" in text and _ANCHOR.search(text):
        raise _MayHoldAnchors
    composer = _CComposer(text)
    node: Node | None = composer.get_single_node()
    if composer.untagged != composer.nodes or composer.empty_plain:
        raise _NotForLibyaml
    return node, composer.nodes


def _compose_pure(text: str) -> Node | None:
    """The node tree by PyYAML's pure-Python loader, or :class:`YamlRejected` with its message."""
    try:
        # PyYAML's Reader checks the characters of a str input in its constructor already.
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        where = text.count("\n", 0, exc.position) + 1
        raise YamlRejected(YamlIssue(where, (), _bad_character(exc))) from None
    try:
        node: Node | None = loader.get_single_node()
    except _Refused as exc:
        raise YamlRejected(YamlIssue(exc.line, (), exc.message)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlRejected(YamlIssue(line, (), _yaml_error_message(exc))) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlRejected(
            YamlIssue(line, (), _bad_character(exc))
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error above is marked
        raise YamlRejected(YamlIssue(None, (), f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()
    return node


def _scalar(node: ScalarNode, path: tuple[str | int, ...]) -> Any:
    tag, text = node.tag, node.value
    line = node.start_mark.line + 1
    if tag == _TAG + "str":
        return text
    if tag == _TAG + "null":
        if text not in ("", "~", "null", "Null", "NULL"):
            raise YamlRejected(YamlIssue(line, path, f"invalid !!null value {text!r}"))
        return None
    if tag == _TAG + "bool":
        if text.lower() not in ("true", "false"):
            raise YamlRejected(YamlIssue(line, path, f"invalid !!bool value {text!r}"))
        return text.lower() == "true"
    if tag == _TAG + "int":
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            return int(text, 0) if text.startswith("0x") else int(text, 10)
        except ValueError:
            raise YamlRejected(YamlIssue(line, path, f"invalid !!int value {text!r}")) from None
    if tag == _TAG + "float":
        lowered = text.lower()
        if lowered in (".inf", "+.inf", "-.inf", ".nan"):
            return {".nan": math.nan, "-.inf": -math.inf}.get(lowered, math.inf)
        try:
            return float(text)
        except ValueError:
            raise YamlRejected(YamlIssue(line, path, f"invalid !!float value {text!r}")) from None
    raise YamlRejected(
        YamlIssue(
            line, path, f"tag {_short(tag)} is not supported: only plain YAML values are allowed"
        )
    )


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class _Values:
    """Plain Python values of a node tree, and the soft issues met (duplicate keys).

    ``nodes`` is how many nodes the tree was composed of, when an alias may have become a
    shared node (libyaml's composer): building stops at the first node past that count, so a
    shared node is refused before anything is expanded.
    """

    def __init__(self, nodes: int | None) -> None:
        self.issues: list[YamlIssue] = []
        # without a count (a tree composed in Python, which refuses aliases), no limit
        self._left = nodes if nodes is not None else 1 << 62

    def of(self, node: Node, path: tuple[str | int, ...]) -> Any:
        """The value of ``node``, found at data ``path``."""
        self._left -= 1
        if self._left < 0:
            raise _Shared
        if isinstance(node, ScalarNode):
            # most scalars are strings: their value is the text, without the call
            return node.value if node.tag == _STR else _scalar(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                raise YamlRejected(
                    YamlIssue(
                        node.start_mark.line + 1, path, f"tag {_short(node.tag)} is not supported"
                    )
                )
            return [self.of(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                raise YamlRejected(
                    YamlIssue(
                        node.start_mark.line + 1, path, f"tag {_short(node.tag)} is not supported"
                    )
                )
            return self._mapping(node, path)
        raise YamlRejected(  # pragma: no cover
            YamlIssue(node.start_mark.line + 1, path, "unsupported YAML node")
        )

    def _mapping(self, node: MappingNode, path: tuple[str | int, ...]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            self._left -= 1
            if self._left < 0:
                raise _Shared
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise YamlRejected(
                    YamlIssue(
                        key_line, path, "a mapping key must be a plain value, not a list or mapping"
                    )
                )
            key = key_node.value if key_node.tag == _STR else _scalar(key_node, path)
            if key in result:
                self.issues.append(
                    YamlIssue(
                        key_line,
                        (*path, key),
                        f"duplicate key {key!r} (first at line {first_line[key]}); "
                        "the later one is ignored",
                    )
                )
                continue
            first_line[key] = key_line
            result[key] = self.of(value_node, (*path, key))
        return result


def _key_value(node: ScalarNode) -> Any:
    if node.tag == _STR:
        return node.value
    try:
        return _scalar(node, ())
    except YamlRejected:
        return node.value


def locate(node: Lines | None, path: Sequence[str | int]) -> tuple[int | None, int]:
    """Return ``(line, depth)`` for a data ``path`` under ``node``.

    ``line`` is the 1-based line of the deepest element of ``path`` found (the key's line for a
    mapping entry, the item's line for a list item; for a missing key, the line of the mapping
    that lacks it), and ``depth`` how many elements of ``path`` were found.
    """
    if node is None:
        return None, 0
    line = _line(node)
    depth = 0
    current = node
    for element in path:
        if isinstance(current, MapLines):
            for key, key_line, value in current.entries:
                if key is not _NO_KEY and key == element:
                    line, current = key_line, value
                    break
            else:
                break
        elif isinstance(current, SeqLines) and isinstance(element, int):
            if not 0 <= element < len(current.items):
                break
            current = current.items[element]
            line = _line(current)
        else:
            break
        depth += 1
    return line, depth


def _line(node: Lines) -> int:
    return node if isinstance(node, int) else node.line


def node_at(node: Lines | None, path: Sequence[str | int]) -> Lines | None:
    """Return the value's lines at a data ``path`` under ``node``, or ``None`` if it is absent."""
    current = node
    for element in path:
        current = _child(current, element)
        if current is None:
            return None
    return current


def _child(node: Lines | None, element: str | int) -> Lines | None:
    if isinstance(node, MapLines):
        for key, _, value in node.entries:
            if key is not _NO_KEY and key == element:
                return value
    elif isinstance(node, SeqLines) and isinstance(element, int) and 0 <= element < len(node.items):
        return node.items[element]
    return None


def format_path(path: Sequence[str | int]) -> str:
    """Format a data path as ``questions[0].alerts[1].schedule.at``."""
    out = ""
    for element in path:
        if isinstance(element, int):
            out += f"[{element}]"
        else:
            out += f".{element}" if out else str(element)
    return out
