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
    """A parsed YAML document: plain Python ``value``, its ``node`` tree and soft ``issues``.

    ``node`` is ``None`` for an empty document. ``issues`` are problems that did not stop
    reading (duplicate keys: the first occurrence is kept).
    """

    value: Any
    node: Node | None
    issues: list[YamlIssue] = field(default_factory=list)


class _Resolver(BaseResolver):
    """YAML 1.2 core schema resolution of plain scalars."""


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
    _Resolver.add_implicit_resolver(_TAG + _tag, re.compile(rf"(?:{_pattern})\Z"), None)


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


def _yaml_error_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem:
        return "tab character: YAML must be indented with spaces"
    context = f"{exc.context}, " if exc.context else ""
    return f"invalid YAML: {context}{problem}"


def _bad_character(exc: yaml.reader.ReaderError) -> str:
    char = exc.character
    code = char if isinstance(char, int) else ord(char) if isinstance(char, str) else None
    shown = f"U+{code:04X}" if code is not None else repr(char)
    return f"invalid character {shown}: control characters are not allowed in YAML"


def parse(text: str) -> Document:
    """Parse one YAML document; raise :class:`YamlRejected` if it cannot be read.

    libyaml's C parser reads the text when it is available (about four times as fast as
    PyYAML's pure-Python scanner); when it finds anything wrong, or the text holds a
    character PyYAML's reader refuses, the text is read again by the pure-Python loader, so
    that every message and line is PyYAML's, as before.
    """
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YamlRejected(
            YamlIssue(None, (), f"file is larger than {MAX_BYTES // 1024 // 1024} MiB")
        )
    node: Node | None = None
    try:
        node = _compose_libyaml(text) if LIBYAML else _compose_pure(text)
    except (_Refused, _NotForLibyaml, yaml.YAMLError):
        node = _compose_pure(text)
    if node is None:
        return Document(None, None)
    issues: list[YamlIssue] = []
    value = _construct(node, (), issues)
    return Document(value, node, issues)


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


def _construct(node: Node, path: tuple[str | int, ...], issues: list[YamlIssue]) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        return _scalar(node, path)
    if isinstance(node, SequenceNode):
        if node.tag != _TAG + "seq":
            raise YamlRejected(YamlIssue(line, path, f"tag {_short(node.tag)} is not supported"))
        return [_construct(item, (*path, i), issues) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != _TAG + "map":
            raise YamlRejected(YamlIssue(line, path, f"tag {_short(node.tag)} is not supported"))
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise YamlRejected(
                    YamlIssue(
                        key_line, path, "a mapping key must be a plain value, not a list or mapping"
                    )
                )
            key = _scalar(key_node, path)
            if key in result:
                issues.append(
                    YamlIssue(
                        key_line,
                        (*path, key),
                        f"duplicate key {key!r} (first at line {first_line[key]}); "
                        "the later one is ignored",
                    )
                )
                continue
            first_line[key] = key_line
            result[key] = _construct(value_node, (*path, key), issues)
        return result
    raise YamlRejected(YamlIssue(line, path, "unsupported YAML node"))  # pragma: no cover


def _key_value(node: ScalarNode) -> Any:
    try:
        return _scalar(node, ())
    except YamlRejected:
        return node.value


def locate(node: Node | None, path: Sequence[str | int]) -> tuple[int | None, int]:
    """Return ``(line, depth)`` for a data ``path`` under ``node``.

    ``line`` is the 1-based line of the deepest element of ``path`` found (the key's line for a
    mapping entry, the item's line for a list item; for a missing key, the line of the mapping
    that lacks it), and ``depth`` how many elements of ``path`` were found.
    """
    if node is None:
        return None, 0
    line: int | None = node.start_mark.line + 1
    depth = 0
    current: Node = node
    for element in path:
        if isinstance(current, MappingNode):
            for key_node, value_node in current.value:
                if isinstance(key_node, ScalarNode) and _key_value(key_node) == element:
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


def node_at(node: Node | None, path: Sequence[str | int]) -> Node | None:
    """Return the value node at a data ``path`` under ``node``, or ``None`` if it is absent."""
    current = node
    for element in path:
        current = _child(current, element)
        if current is None:
            return None
    return current


def _child(node: Node | None, element: str | int) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and _key_value(key_node) == element:
                return value_node  # type: ignore[no-any-return]
    elif (
        isinstance(node, SequenceNode)
        and isinstance(element, int)
        and 0 <= element < len(node.value)
    ):
        return node.value[element]  # type: ignore[no-any-return]
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
