"""Read declaration files: YAML with a line for every problem, all problems of a run at once.

A declaration file is a YAML mapping with ``questions`` (a list of
:class:`~metabase_guard.spec.models.Question`), ``dashboards`` (a list of
:class:`~metabase_guard.spec.models.Dashboard`), ``tests`` (offline alert tests, kept raw
here), or several of them. :func:`load_declarations` reads every file, validates every question
and dashboard, checks the rules that span fields and files (goal alerts, recipients, unique
keys, the questions a dashboard names), and raises one
:class:`~metabase_guard.errors.DeclarationError` carrying every
:class:`~metabase_guard.errors.Problem` found, each with file, line and a dotted field path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from metabase_guard.errors import DeclarationError, Problem
from metabase_guard.spec import yamlio
from metabase_guard.spec.models import (
    ITEM_TAGS,
    SCHEDULE_TAGS,
    Alert,
    CronSchedule,
    DailySchedule,
    Dashboard,
    DeclarationFile,
    Goal,
    HeadingItem,
    HourlySchedule,
    MonthlySchedule,
    Question,
    QuestionItem,
    Subscription,
    TextItem,
    WeeklySchedule,
    dashboard_problems,
    semantic_problems,
    suggest,
)

__all__ = [
    "Declarations",
    "Location",
    "describe_value",
    "discover",
    "json_schema",
    "load_declarations",
    "load_text",
]

SUFFIXES = (".yaml", ".yml")
_TOP_KEYS = ("questions", "dashboards", "tests", "moved")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class Location:
    """Where something is declared: a file (as the caller named it) and a 1-based line."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass
class Declarations:
    """Everything read from the declaration files."""

    questions: list[Question] = field(default_factory=list)
    """Valid questions, in file order."""
    files: list[str] = field(default_factory=list)
    """The files read, as the caller named them."""
    test_files: list[tuple[str, Any]] = field(default_factory=list)
    """Each file's raw ``tests`` section (a list), with the file; see :meth:`locate_in`."""
    moves: list[tuple[str, str]] = field(default_factory=list)
    """``moved:`` renames, as (old key, new key): the card of the old key takes the new one."""
    dashboards: list[Dashboard] = field(default_factory=list)
    """Valid dashboards, in file order; every question they name is declared."""
    _questions: dict[str, tuple[str, yamlio.Lines]] = field(default_factory=dict, repr=False)
    _dashboards: dict[str, tuple[str, yamlio.Lines]] = field(default_factory=dict, repr=False)
    _roots: dict[str, yamlio.Lines | None] = field(default_factory=dict, repr=False)

    def by_key(self) -> dict[str, Question]:
        """The questions by key."""
        return {question.key: question for question in self.questions}

    def locate(self, key: str, field: str = "") -> Location:
        """Where question ``key``, or a field below it, is declared.

        ``field`` is a path relative to the question, as ``"database"`` or
        ``"alerts[0].email[1]"``; when it is not in the file (a default value), the line of
        the nearest enclosing element is given. Raises :class:`KeyError` for an unknown key.
        """
        filename, node = self._questions[key]
        line, _ = yamlio.locate(node, _parse_path(field))
        return Location(filename, line)

    def dashboards_by_key(self) -> dict[str, Dashboard]:
        """The dashboards by key (a namespace of its own: a question may share a key)."""
        return {dashboard.key: dashboard for dashboard in self.dashboards}

    def locate_dashboard(self, key: str, field: str = "") -> Location:
        """Where dashboard ``key``, or a field below it, is declared.

        ``field`` is a path relative to the dashboard, as ``"cards[2]"``, ``"cards[1].size"``
        or ``"subscriptions[1].slack[0]"``; a missing field gives the line of the nearest
        enclosing element, as :meth:`locate` does. Raises :class:`KeyError` for an unknown key.
        """
        filename, node = self._dashboards[key]
        line, _ = yamlio.locate(node, _parse_path(field))
        return Location(filename, line)

    def locate_in(self, filename: str, field: str = "") -> Location:
        """Where a path from the top of ``filename`` is, as ``"tests[2].rows[0]"``."""
        line, _ = yamlio.locate(self._roots[filename], _parse_path(field))
        return Location(filename, line)


_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _parse_path(text: str) -> tuple[str | int, ...]:
    out: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"invalid field path {text!r}")
        out.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return tuple(out)


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """List the declaration files under ``paths``.

    Directories are searched recursively for ``*.yaml`` and ``*.yml`` (hidden files and
    directories skipped), in sorted order; files are taken as they are, whatever their name.
    A missing path, or a directory without any declaration file, is a
    :class:`~metabase_guard.errors.DeclarationError` (an empty set of declarations would plan
    to delete everything managed). A file reached twice is listed once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                candidate
                for candidate in path.rglob("*")
                if candidate.suffix in SUFFIXES
                and candidate.is_file()
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            )
            if not files:
                problems.append(
                    Problem(str(given), None, "", "no .yaml or .yml declaration files found")
                )
        elif path.exists():
            files = [path]
        else:
            problems.append(Problem(str(given), None, "", "no such file or directory"))
            continue
        for file in files:
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.append(file)
    if problems:
        raise DeclarationError(problems)
    return found


class _Reader:
    """Accumulates declarations and problems over the files of one run."""

    def __init__(self) -> None:
        self.declarations = Declarations()
        self.problems: list[Problem] = []
        self._keys: dict[str, Location] = {}
        self._moves: list[tuple[str, str, Location]] = []
        self._dashboard_keys: dict[str, Location] = {}
        # The question keys each dashboard names (read from the YAML, so that an invalid
        # dashboard is checked too), with where they are, checked against every file's keys.
        self._named: list[
            tuple[str, list[tuple[int, str]], str, yamlio.Lines, tuple[str | int, ...]]
        ]
        self._named = []

    def read_bytes(self, data: bytes, filename: str) -> None:
        try:
            text = yamlio.decode(data)
        except yamlio.YamlRejected as exc:
            self._file_problem(filename, exc.issue)
            return
        self.read_text(text, filename)

    def read_text(self, text: str, filename: str) -> None:
        self.declarations.files.append(filename)
        start = len(self.problems)
        try:
            document = yamlio.parse(text)
        except yamlio.YamlRejected as exc:
            self._file_problem(filename, exc.issue)
            return
        self.declarations._roots[filename] = document.node
        for issue in document.issues:
            self._file_problem(filename, issue)
        self._read_document(document, filename)
        lines = text.splitlines()
        # Problems of one file in line order; files stay in the order they were read.
        self.problems[start:] = sorted(
            (_comment_hint(p, lines) for p in self.problems[start:]),
            key=lambda p: -1 if p.line is None else p.line,
        )

    def _file_problem(self, filename: str, issue: yamlio.YamlIssue) -> None:
        self.problems.append(
            Problem(filename, issue.line, yamlio.format_path(issue.path), issue.message)
        )

    def _problem(
        self, filename: str, node: yamlio.Lines | None, path: tuple[str | int, ...], message: str
    ) -> None:
        line, _ = yamlio.locate(node, path)
        self.problems.append(Problem(filename, line, yamlio.format_path(path), message))

    def _read_document(self, document: yamlio.Document, filename: str) -> None:
        data, root = document.value, document.node
        if root is None or data is None:
            self.problems.append(Problem(filename, None, "", "file is empty"))
            return
        if not isinstance(data, dict):
            self._problem(
                filename,
                root,
                (),
                f"the top level must be a mapping with 'questions', 'dashboards' and/or "
                f"'tests', not "
                f"{_kind(data)}",
            )
            return
        if not data:
            self._problem(filename, root, (), "expected 'questions', 'dashboards' and/or 'tests'")
        for key in data:
            if key not in _TOP_KEYS:
                self._problem(
                    filename,
                    root,
                    (key,),
                    _unknown_field(key, _TOP_KEYS, "the top level"),
                )
        for section in _TOP_KEYS:
            if section in data and not isinstance(data[section], list):
                self._problem(
                    filename, root, (section,), f"expected a list, got {_kind(data[section])}"
                )
        tests = data.get("tests")
        if isinstance(tests, list):
            self.declarations.test_files.append((filename, tests))
        moved = data.get("moved")
        if isinstance(moved, list):
            for index, item in enumerate(moved):
                self._read_move(filename, root, index, item)
        questions = data.get("questions")
        if isinstance(questions, list):
            for index, item in enumerate(questions):
                self._read_question(filename, root, index, item)
        dashboards = data.get("dashboards")
        if isinstance(dashboards, list):
            for index, item in enumerate(dashboards):
                self._read_dashboard(filename, root, index, item)

    def _read_move(self, filename: str, root: yamlio.Lines, index: int, item: Any) -> None:
        base: tuple[str | int, ...] = ("moved", index)
        if not isinstance(item, dict) or set(item) != {"from", "to"}:
            self._problem(filename, root, base, "expected {from: old-key, to: new-key}, got "
                          + (f"the fields {sorted(map(str, item))}" if isinstance(item, dict)
                             else _kind(item)))
            return
        for side in ("from", "to"):
            if not (isinstance(item[side], str) and _SLUG.fullmatch(item[side])):
                self._problem(filename, root, (*base, side),
                              f"expected a question key, got {_kind(item[side])}")
                return
        if item["from"] == item["to"]:
            self._problem(filename, root, base, "'from' and 'to' are the same key")
            return
        line, _ = yamlio.locate(root, base)
        self._moves.append((item["from"], item["to"], Location(filename, line)))

    def finish(self) -> None:
        """Checks across files: moves, and the questions that dashboards name."""
        self._finish_moves()
        for prefix, named, filename, root, base in self._named:
            for index, key in named:
                if key not in self._keys:
                    self._problem(filename, root, (*base, "cards", index),
                                  f"{prefix}{key!r} is not the key of a declared question"
                                  f"{_declared_hint(key, self._keys)}")
        # Problems in line order per file, files in the order they were read.
        rank = {name: n for n, name in enumerate(self.declarations.files)}
        self.problems.sort(key=lambda p: (rank.get(p.file, -1), -1 if p.line is None else p.line))

    def _finish_moves(self) -> None:
        sources: dict[str, Location] = {}
        for old, new, where in self._moves:
            problem = ""
            if old in self._keys:
                problem = (f"{old!r} is still declared (at {self._keys[old]}); a move "
                           "renames a key that is no longer declared")
            elif new not in self._keys:
                problem = f"{new!r} is not the key of a declared question"
            elif old in sources:
                problem = f"{old!r} is already moved at {sources[old]}"
            if problem:
                self.problems.append(Problem(where.file, where.line, "moved", problem))
                continue
            sources[old] = where
            self.declarations.moves.append((old, new))

    def _claim_key(self, filename: str, root: yamlio.Lines, base: tuple[str | int, ...], item: Any,
                   keys: dict[str, Location], kind: str) -> str | None:
        """The item's key, when it is a string; a key seen before is a located problem."""
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            return None
        line, _ = yamlio.locate(root, (*base, "key"))
        first = keys.get(key)
        if first is None:
            keys[key] = Location(filename, line)
        else:
            self._problem(filename, root, (*base, "key"),
                          f"duplicate {kind} key {key!r}: already declared at {first}")
        return key

    def _validated(self, filename: str, root: yamlio.Lines, base: tuple[str | int, ...], item: Any,
                   model: type[BaseModel], keys: dict[str, Location]
                   ) -> tuple[BaseModel | None, str]:
        """The item as ``model`` (None when invalid: its problems are recorded), and its prefix.

        The prefix starts each message about the item, as ``question 'k': ``.
        """
        kind = str(base[0]).removesuffix("s")
        key = self._claim_key(filename, root, base, item, keys, kind)
        prefix = f"{kind} {key!r}: " if key else ""
        try:
            return model.model_validate(item), prefix
        except ValidationError as exc:
            for error in exc.errors():
                path = (*base, *_clean_loc(error))
                message = prefix + _message(error, path, base)
                self._problem(filename, root, _bare_item_path(item, base, path), message)
            return None, prefix

    def _read_question(self, filename: str, root: yamlio.Lines, index: int, item: Any) -> None:
        base: tuple[str | int, ...] = ("questions", index)
        question, prefix = self._validated(filename, root, base, item, Question, self._keys)
        if not isinstance(question, Question):
            return
        for sub, message in (*semantic_problems(question),
                             *_email_case_problems(question.alerts)):
            self._problem(filename, root, (*base, *sub), prefix + message)
        node = yamlio.node_at(root, base)
        if node is not None and question.key not in self.declarations._questions:
            self.declarations._questions[question.key] = (filename, node)
        self.declarations.questions.append(question)

    def _read_dashboard(self, filename: str, root: yamlio.Lines, index: int, item: Any) -> None:
        base: tuple[str | int, ...] = ("dashboards", index)
        dashboard, prefix = self._validated(filename, root, base, item, Dashboard,
                                            self._dashboard_keys)
        self._named.append((prefix, _named_questions(item), filename, root, base))
        if not isinstance(dashboard, Dashboard):
            return
        problems = [*dashboard_problems(dashboard),
                    *_email_case_problems(dashboard.subscriptions, "subscriptions")]
        for sub, message in problems:
            self._problem(filename, root, (*base, *sub), prefix + message)
        node = yamlio.node_at(root, base)
        if node is not None:
            self.declarations._dashboards.setdefault(dashboard.key, (filename, node))
        self.declarations.dashboards.append(dashboard)


def _named_questions(item: Any) -> list[tuple[int, str]]:
    """(index, key) of the items of a raw dashboard that name a question by a valid key."""
    cards = item.get("cards") if isinstance(item, dict) else None
    out: list[tuple[int, str]] = []
    for index, card in enumerate(cards if isinstance(cards, list) else []):
        key = card.get("question") if isinstance(card, dict) else card
        if isinstance(key, str) and _SLUG.fullmatch(key):
            out.append((index, key))
    return out


def _declared_hint(key: str, declared: dict[str, Location]) -> str:
    """``; did you mean 'x'?`` and the declared keys (the first 20), for an unknown key."""
    names = sorted(declared)
    if not names:
        return "; no question is declared"
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return f"{suggest(key, names)}; declared questions: {shown}"


def _bare_item_path(item: Any, base: tuple[str | int, ...],
                    path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A problem of a bare question key in ``cards`` is the item itself, not a field of it."""
    cards = item.get("cards") if isinstance(item, dict) else None
    rest = path[len(base):]
    if (isinstance(cards, list) and len(rest) > 2 and rest[0] == "cards"
            and isinstance(rest[1], int) and 0 <= rest[1] < len(cards)
            and isinstance(cards[rest[1]], str)):
        return (*base, "cards", rest[1])
    return path


def _email_case_problems(
    senders: Sequence[Alert | Subscription], field: str = "alerts"
) -> list[tuple[tuple[str | int, ...], str]]:
    """E-mail addresses listed twice in different case: the same rule as exact duplicates.

    Metabase keeps e-mail recipients as typed, but mail servers treat the address as one
    mailbox, so ``A@x.org`` and ``a@x.org`` would be one person mailed twice.
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    for a, sender in enumerate(senders):
        seen: dict[str, str] = {}
        for i, address in enumerate(sender.email):
            first = seen.setdefault(address.lower(), address)
            if first != address:
                out.append(((field, a, "email", i),
                            f"{address!r} is listed twice (as {first!r}: e-mail addresses are "
                            "compared without case)"))
    return out


_COMMENT_AFTER_COLON = re.compile(r":\s+#")


def _comment_hint(problem: Problem, lines: Sequence[str]) -> Problem:
    """``slack: #alerts`` reads as an empty value: say that ``#`` starts a YAML comment."""
    if problem.line is None or "empty value" not in problem.message:
        return problem
    source = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
    if not _COMMENT_AFTER_COLON.search(source):
        return problem
    return replace(problem, message=problem.message + "; '#' after a space starts a YAML "
                   "comment: quote the value, as slack: ['#alerts']")


def _clean_loc(error: ErrorDetails) -> tuple[str | int, ...]:
    loc = list(error["loc"])
    # Drop the union tag pydantic puts after "schedule" (the form chosen by the discriminator).
    for i in range(len(loc) - 1):
        if loc[i] == "schedule" and loc[i + 1] in SCHEDULE_TAGS:
            del loc[i + 1]
            break
    # ... and the one after a dashboard item's index (question, heading or text).
    loc = [element for element in loc if element not in ITEM_TAGS]
    ctx = error.get("ctx") or {}
    return (*loc, *ctx.get("subloc", ()))


# The model expected at a location, named by the last field name before it.
_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "questions": (Question, "a question"),
    "alerts": (Alert, "an alert"),
    "goal": (Goal, "the goal"),
    "dashboards": (Dashboard, "a dashboard"),
    "subscriptions": (Subscription, "a subscription"),
    "QuestionItem": (QuestionItem, "a question item"),
    "HeadingItem": (HeadingItem, "a heading"),
    "TextItem": (TextItem, "a text item"),
}
_SCHEDULE_FORMS: dict[str, tuple[type[BaseModel], str]] = {
    "hour": (HourlySchedule, "an hourly schedule {every: hour}"),
    "day": (DailySchedule, "a daily schedule {every: day}"),
    "week": (WeeklySchedule, "a weekly schedule {every: week}"),
    "month": (MonthlySchedule, "a monthly schedule {every: month}"),
    "cron": (CronSchedule, "a cron schedule"),
}


def _unknown_field(name: Any, allowed: Sequence[str], where: str) -> str:
    hint = suggest(name, allowed) if isinstance(name, str) else ""
    if not hint:
        hint = f"; expected one of: {', '.join(allowed)}"
    return f"unknown field {name!r} in {where}{hint}"


def _extra_message(error: ErrorDetails, base: tuple[str | int, ...]) -> str:
    loc = (*base, *error["loc"])
    name = loc[-1]
    parent = [element for element in loc[:-1] if isinstance(element, str)]
    if len(parent) >= 2 and parent[-2] == "schedule" and parent[-1] in _SCHEDULE_FORMS:
        model, label = _SCHEDULE_FORMS[str(parent[-1])]
        allowed = list(model.model_fields)
        all_keys = {k for m, _ in _SCHEDULE_FORMS.values() for k in m.model_fields}
        if name in all_keys:
            return f"{name!r} does not apply to {label}; allowed: {', '.join(allowed)}"
        return _unknown_field(name, allowed, label)
    context = str(parent[-1]) if parent else "questions"
    model, label = _MODELS.get(context, _MODELS["questions"])
    return _unknown_field(name, list(model.model_fields), label)


_KINDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(error: ErrorDetails, path: tuple[str | int, ...],
             base: tuple[str | int, ...] = ()) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return f"required field {path[-1]!r} is missing"
    if kind == "extra_forbidden":
        return _extra_message(error, base)
    if kind in _KINDS:
        return f"expected {_KINDS[kind]}, got {_kind(value)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        hint = suggest(value, choices) if isinstance(value, str) else ""
        return f"expected one of {', '.join(choices)}; got {value!r}{hint}"
    if kind == "finite_number":
        return "expected a finite number"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def describe_value(value: Any) -> str:
    """What a YAML value is, for messages: ``an integer (3)``, ``a list``."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_kind = describe_value


def load(paths: Sequence[str | Path] = ("alerts",)) -> Declarations:
    """:func:`load_declarations` with garbage collection paused (``engine.load``).

    The thousands of objects a large project builds hold no cycle, and each burst of them
    triggered a full collection walking every earlier one.
    """
    from metabase_guard._gc import gc_paused

    with gc_paused():
        return load_declarations(list(paths))


def load_declarations(paths: Sequence[str | Path]) -> Declarations:
    """Read and validate every declaration file under ``paths`` (see :func:`discover`).

    Returns the :class:`Declarations`; raises :class:`~metabase_guard.errors.DeclarationError`
    with every problem of every file when anything is wrong.
    """
    reader = _Reader()
    for path in discover(paths):
        try:
            # Read one byte past the limit, never the whole file: a huge (or endless) file
            # is refused by ``decode`` without being loaded into memory.
            with path.open("rb") as handle:
                data = handle.read(yamlio.MAX_BYTES + 1)
        except OSError as exc:
            reader.problems.append(Problem(str(path), None, "", f"cannot read: {exc.strerror}"))
            continue
        reader.read_bytes(data, str(path))
    reader.finish()
    if reader.problems:
        raise DeclarationError(reader.problems)
    return reader.declarations


def load_text(text: str, filename: str = "<string>") -> Declarations:
    """Read declarations from a string, for tests and tools; raises as :func:`load_declarations`."""
    reader = _Reader()
    reader.read_text(text, filename)
    reader.finish()
    if reader.problems:
        raise DeclarationError(reader.problems)
    return reader.declarations


SCHEMA_ID = "urn:metabase-guard:declarations:v1"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a declaration file, for editors and ``schema``."""
    schema = DeclarationFile.model_json_schema()
    schema.setdefault("properties", {})["moved"] = {
        "description": "Renamed keys: the card declared under `from` is kept and re-keyed to "
                       "`to`, with its alerts, instead of a new card being created.",
        "title": "Moved",
        "type": "array",
        "items": {"type": "object", "additionalProperties": False, "required": ["from", "to"],
                  "properties": {
                      "from": {"title": "From", "type": "string",
                               "pattern": f"^{_SLUG.pattern}$",
                               "description": "The key the card was declared under before."},
                      "to": {"title": "To", "type": "string", "pattern": f"^{_SLUG.pattern}$",
                             "description": "The key it is declared under now."},
                  }},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        # the format's identity, not a download address: editors take the schema from the file
        # `schema --out` writes (see metabase_guard/editor.py); v1 changes only when files
        # written for it stop being valid
        "$id": SCHEMA_ID,
        **schema,
        "title": "metabase-guard declarations",
        "description": DeclarationFile.__doc__ or "",
    }
