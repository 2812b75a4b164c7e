"""``import``: write declarations for cards that exist, and adopt them.

Adopting is explicit and is two writes per object: the card's description gets the
metabase-guard marker, and each of its alerts made by someone else is handed over to
metabase-guard's user (``creator_id``, which Metabase lets a superuser change). A plan right
after an import shows no changes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import Card, Notification
from metabase_guard.api.query import read_native
from metabase_guard.api.resources import split_path
from metabase_guard.config import Settings
from metabase_guard.errors import (
    ConfigError,
    MetabaseGuardError,
    NotFoundError,
    PermissionDeniedError,
)
from metabase_guard.reconcile.alerts import alert_view_of
from metabase_guard.reconcile.cards import GRAPH_DISPLAYS, card_view_of
from metabase_guard.reconcile.identity import compose_description, managed_key, user_description
from metabase_guard.reconcile.live import LiveState, read_live
from metabase_guard.spec.schedule import schedule_from_cron

__all__ = ["ImportResult", "declarations_for", "dump_yaml", "run_import", "slugify"]

_GOAL_DISPLAYS = GRAPH_DISPLAYS | {"progress"}


def slugify(name: str) -> str:
    """A declaration key from a card name: ``"Daily signups!"`` → ``daily-signups``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (slug or "question")[:60].strip("-")


@dataclass
class ImportResult:
    """Declarations written for live cards, with what was skipped and why."""

    questions: list[dict[str, Any]] = field(default_factory=list)
    cards: list[tuple[str, Card]] = field(default_factory=list)
    alerts: list[Notification] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _relative(path: str, root: str | None) -> str | None:
    parts = split_path(path)
    base = split_path(root or "")
    if base and parts[: len(base)] == base:
        parts = parts[len(base):]
    return "/".join(parts) or None


def declarations_for(
    cards: Iterable[Card],
    live: LiveState,
    *,
    default_collection: str | None = None,
    keys: dict[int, str] | None = None,
) -> ImportResult:
    """Declarations for ``cards`` (pure: reads only ``live``); ``keys`` fixes a card's key."""
    result = ImportResult()
    taken: set[str] = set()
    for card in sorted(cards, key=lambda c: c.id):
        if read_native(card.dataset_query) is None:
            result.skipped.append(
                f"card #{card.id} {card.name!r}: not a native SQL question; metabase-guard "
                "manages native SQL questions only"
            )
            continue
        key = (keys or {}).get(card.id) or managed_key(card.description) or slugify(card.name)
        base, n = key, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        taken.add(key)
        view = card_view_of(card, live)
        question: dict[str, Any] = {"key": key, "name": card.name}
        description = user_description(card.description)
        if description:
            question["description"] = description
        collection = _relative(view.collection, default_collection)
        if collection:
            question["collection"] = collection
        question["database"] = view.database
        question["sql"] = view.sql + "\n"
        question["display"] = card.display
        if view.metric:
            question["metric"] = view.metric
        if view.dimension:
            question["dimension"] = view.dimension
        if view.goal is not None:
            goal: dict[str, Any] = {"value": _number(view.goal)}
            if view.goal_label and view.goal_label != "Goal":
                goal["label"] = view.goal_label
            question["goal"] = goal
        alerts: list[dict[str, Any]] = []
        for notification in live.alerts_of(card.id):
            if not notification.active:
                continue
            alert_view = alert_view_of(notification, live)
            if alert_view.when != "has_rows" and (
                view.goal is None or card.display not in _GOAL_DISPLAYS
            ):
                result.skipped.append(
                    f"alert #{notification.id} on card #{card.id}: a goal alert on a card with "
                    "no goal line can never fire; not imported"
                )
                continue
            if not (alert_view.email or alert_view.groups or alert_view.slack
                    or alert_view.webhook):
                result.skipped.append(f"alert #{notification.id}: it has no recipient")
                continue
            alert: dict[str, Any] = {
                "when": alert_view.when,
                "schedule": schedule_from_cron(alert_view.schedule),
            }
            if alert_view.once:
                alert["once"] = True
            for name in ("email", "groups", "slack", "webhook"):
                values = getattr(alert_view, name)
                if values:
                    alert[name] = list(values)
            alerts.append(alert)
            result.alerts.append(notification)
        if alerts:
            question["alerts"] = alerts
        result.questions.append(question)
        result.cards.append((key, card))
    return result


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(questions: list[dict[str, Any]]) -> str:
    """Declarations as YAML, keys in the documented order, SQL as a block."""
    return yaml.dump({"questions": questions}, Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, width=100)


def adopt(client: MetabaseClient, live: LiveState, result: ImportResult) -> list[str]:
    """Mark the imported cards and take over their alerts; returns what was done."""
    done: list[str] = []
    for key, card in result.cards:
        if managed_key(card.description) != key:
            client.cards.update(card.id, {
                "description": compose_description(user_description(card.description), key)
            })
            done.append(f"card #{card.id} marked as {key}")
    for notification in result.alerts:
        if notification.creator_id != live.me.id:
            try:
                adopted, replaced = client.notifications.adopt(notification.id, live.me.id)
            except PermissionDeniedError:
                raise MetabaseGuardError(
                    f"alert #{notification.id} belongs to someone else and only a Metabase "
                    "admin may hand it over; use an admin API key to import alerts"
                ) from None
            if replaced:
                done.append(
                    f"alert #{notification.id} replaced by #{adopted.id} (this Metabase cannot "
                    "hand an alert over to another user, so metabase-guard made its own copy "
                    "and deactivated the original; its recipients get Metabase's e-mails)"
                )
            else:
                done.append(f"alert #{notification.id} adopted")
    return done


def _no_cards_in(live: LiveState, path: str) -> str:
    """Why ``--collection PATH`` chose nothing, with the collections that do hold cards."""
    holding = sorted({live.collection_path(c.collection_id) for c in live.cards} - {""})
    known = {live.collection_path(c.id) for c in live.collections if isinstance(c.id, int)}
    head = (f"--collection {path!r}: the collection has no cards" if path in known else
            f"--collection {path!r}: no such collection")
    if not holding:
        return head + "; no collection holds a card"
    shown = ", ".join(holding[:20]) + (f" and {len(holding) - 20} more" if len(holding) > 20
                                       else "")
    return f"{head}; collections with cards: {shown} (paths like Team/Recs)"


def run_import(
    client: MetabaseClient,
    args: argparse.Namespace,
    settings: Settings,
    *,
    confirm: Callable[[str], bool],
    say: Callable[[str], None],
) -> int:
    """The ``import`` command."""
    if not (args.card or args.collection or args.all_alerts):
        raise ConfigError("say what to import: --card ID, --collection PATH or --all-alerts")
    if args.key and len(args.card) != 1:
        raise ConfigError("--key names the key of one card: give exactly one --card")
    if args.key and not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", args.key):
        raise ConfigError(f"--key {args.key!r} is not a slug (lowercase letters, digits, -)")
    live = read_live(client)
    by_id = {c.id: c for c in live.cards}
    chosen: dict[int, Card] = {}
    for card_id in args.card:
        try:
            card = by_id.get(card_id) or client.cards.get(card_id)
        except NotFoundError:
            raise ConfigError(
                f"--card {card_id}: there is no card #{card_id} on {client.url} (the number is "
                "the one in the card's URL, /question/ID-...)"
            ) from None
        chosen[card.id] = card
    for path in args.collection:
        wanted = "/".join(split_path(path))
        found = False
        for card in live.cards:
            here = live.collection_path(card.collection_id)
            if here == wanted or here.startswith(wanted + "/"):
                chosen[card.id] = card
                found = True
        if not found:
            raise ConfigError(_no_cards_in(live, wanted or path))
    if args.all_alerts:
        with_alerts = {n.payload.card_id for n in live.notifications if n.active and n.payload}
        for card_id in with_alerts:
            if card_id in by_id:
                chosen[card_id] = by_id[card_id]
    # the snapshot keeps unmanaged cards slim (no query): read the chosen ones whole
    whole = [c if managed_key(c.description) else client.cards.get(c.id) for c in chosen.values()]
    result = declarations_for(whole, live,
                              default_collection=settings.default_collection,
                              keys={args.card[0]: args.key} if args.key else None)
    for reason in result.skipped:
        say(f"skipped: {reason}")
    if not result.questions:
        say("Nothing to import.")
        return 1
    text = dump_yaml(result.questions)
    if args.out:
        from metabase_guard.editor import DEFAULT_SCHEMA_FILE, schema_comment, write_schema

        schema_file = Path(getattr(args, "schema", None) or DEFAULT_SCHEMA_FILE)
        if not schema_file.exists():
            say(f"Wrote the JSON Schema to {write_schema(schema_file)} (for editors).")
        try:
            Path(args.out).write_text(schema_comment(args.out, schema_file) + text,
                                      encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        say(f"Wrote {len(result.questions)} question(s) to {args.out}.")
    else:
        print(text, end="")
    if args.no_adopt:
        return 0
    pending = [k for k, c in result.cards if managed_key(c.description) != k]
    foreign = [n for n in result.alerts if n.creator_id != live.me.id]
    if pending or foreign:
        prompt = (f"\nAdopt {len(pending)} card(s) and {len(foreign)} alert(s) so that "
                  "metabase-guard manages them? Only 'yes' is accepted: ")
        if not args.yes and not sys.stdin.isatty():
            say("Not adopted: no terminal to ask on; rerun with --yes to adopt, or with "
                "--no-adopt to only write the YAML.")
            return 1
        if not args.yes and not confirm(prompt):
            say("Not adopted: the YAML was written, but plan will offer to create new cards.")
            return 1
    for line in adopt(client, live, result):
        say(f"  {line}")
    return 0
