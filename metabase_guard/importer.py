"""``import``: write declarations for cards and dashboards that exist, and adopt them.

Adopting is explicit and is two writes per object: the card's description gets the
metabase-guard marker, and each of its alerts made by someone else is handed over to
metabase-guard's user (``creator_id``, which Metabase lets a superuser change). A dashboard is
adopted the same way: its description gets the marker, the cards on it that are not managed
are imported and adopted with it, and its subscriptions made by someone else are replaced by
copies made by metabase-guard's user (a pulse's creator cannot be changed), except those a
copy could not repeat exactly, which stay theirs (:func:`_not_adoptable`). A plan right after
an import shows no changes, except that a dashboard whose geometry is not what the layout rule
makes is laid out by the rule (``import`` says which cards move).
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
from metabase_guard.api.models import (
    Card,
    Dashboard,
    Dashcard,
    Notification,
    Pulse,
    PulseChannel,
)
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
from metabase_guard.spec.layout import TEXT_SIZE, Placement, default_size, layout
from metabase_guard.spec.models import (
    GRID_WIDTH,
    MAX_HEIGHT,
    SIZE_PRESETS,
    DashboardItem,
    HeadingItem,
    QuestionItem,
    TextItem,
)
from metabase_guard.spec.schedule import schedule_from_cron, schedule_from_pulse

__all__ = [
    "DashboardImport",
    "ImportResult",
    "dashboard_declaration",
    "declarations_for",
    "dump_yaml",
    "run_import",
    "slugify",
]

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


_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # a time is quoted, as the docs write it: YAML 1.1 readers take a plain 10:00 for 600
    style = "|" if "\n" in value else '"' if _TIME_OF_DAY.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(questions: list[dict[str, Any]],
              dashboards: list[dict[str, Any]] | None = None) -> str:
    """Declarations as YAML, keys in the documented order, SQL as a block."""
    document: dict[str, Any] = {"questions": questions} if questions or not dashboards else {}
    if dashboards:
        document["dashboards"] = dashboards
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


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


# -- dashboards ---------------------------------------------------------------------------

#: The virtual dashcards a declaration can say (``virtual_card.display``); links, iframes and
#: action buttons have no declaration form.
_VIRTUAL = ("heading", "text")


@dataclass
class DashboardImport:
    """A live dashboard as a declaration, and what adopting it takes."""

    dashboard: Dashboard
    key: str
    declaration: dict[str, Any]
    #: the subscriptions the declaration says (one per pulse), the ones adoption takes over
    pulses: list[Pulse] = field(default_factory=list)
    #: by pulse id, the channels of it the declaration says (the ones our copies deliver on)
    channels: dict[int, list[PulseChannel]] = field(default_factory=dict)
    #: items the layout rule places elsewhere than they are now, for the import's output
    moved: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def reading_order(dashcards: Iterable[Dashcard]) -> list[Dashcard]:
    """Dashcards as a person reads them: by row, then column (Metabase returns creation order)."""
    return sorted(dashcards, key=lambda d: (d.row, d.col, d.id))


def virtual_display(dashcard: Dashcard) -> str:
    """The display of a card-less dashcard: ``heading``, ``text``, ``link``..."""
    virtual = (dashcard.visualization_settings or {}).get("virtual_card") or {}
    return str(virtual.get("display") or "text")


def _size_of(dashcard: Dashcard) -> tuple[int, int]:
    # the server stores any geometry (metabase-dashboards.md 1.4); a declaration cannot say more
    return (min(max(dashcard.size_x, 1), GRID_WIDTH), min(max(dashcard.size_y, 1), MAX_HEIGHT))


def _size_word(size: tuple[int, int], default: tuple[int, int]) -> str | list[int] | None:
    """What ``size:`` says: nothing for the default size, a preset where one fits, else [w, h]."""
    if size == default:
        return None
    preset = next((name for name, wh in SIZE_PRESETS.items() if wh == size), None)
    return preset or [size[0], size[1]]


def _where(place: Placement) -> str:
    return f"row {place.row}, col {place.col}, {place.size_x}x{place.size_y}"


def _not_adoptable(pulse: Pulse) -> str | None:
    """Why a subscription someone else made cannot be replaced by our copy, or None.

    Our copy says only what a declaration says: a filter, ``disable_links`` (which
    ``POST /api/pulse`` cannot set, src/metabase/pulse/api/pulse.clj), a webhook or a disabled
    channel, or a schedule without a declaration form would be lost or changed by it.
    """
    wire = pulse.wire()
    if wire.get("parameters"):
        return "it filters the dashboard (parameters), which a declaration cannot say"
    if wire.get("disable_links"):
        return "it is sent without links, which Metabase's API cannot set on a copy"
    for channel in pulse.channels:
        if channel.channel_type not in ("email", "slack"):
            return (f"it delivers by {channel.channel_type!r}; dashboard subscriptions are "
                    "declared for e-mail and Slack only")
        if not channel.enabled:
            return f"its {channel.channel_type} channel is disabled"
        if schedule_from_pulse(channel.model_dump()) is None:
            return (f"its {channel.channel_type} schedule has no declaration form (a monthly "
                    "send on a weekday)")
    return None


def _subscriptions_of(pulses: Iterable[Pulse], live: LiveState, skipped: list[str]
                      ) -> tuple[list[dict[str, Any]], list[Pulse], dict[int, list[PulseChannel]]]:
    """Declarations of a dashboard's live subscriptions: one per enabled e-mail or Slack channel.

    Returns the declarations, the pulses they come from and, by pulse id, the channels
    declared. A subscription someone else made that our copy could not repeat exactly is
    neither declared nor adopted: it stays theirs (:func:`_not_adoptable`).
    """
    out: list[dict[str, Any]] = []
    taken: list[Pulse] = []
    declared: dict[int, list[PulseChannel]] = {}
    for pulse in sorted(pulses, key=lambda p: p.id):
        if pulse.archived:
            continue
        why = _not_adoptable(pulse) if pulse.creator_id != live.me.id else None
        if why is not None:
            skipped.append(f"subscription #{pulse.id}: {why}; not imported and left as it is "
                           f"(it stays {live.user_label(pulse.creator_id)}'s)")
            continue
        for channel in pulse.channels:
            if not channel.enabled:
                continue
            schedule = schedule_from_pulse(channel.model_dump())
            if schedule is None:
                skipped.append(f"subscription #{pulse.id} ({channel.channel_type}): its schedule "
                               "has no declaration form (a monthly send on a weekday); not "
                               "imported")
                continue
            entry: dict[str, Any] = {"schedule": schedule}
            if channel.channel_type == "email":
                emails = sorted({str(r["email"]) for r in channel.recipients if r.get("email")},
                                key=str.lower)
                if emails:
                    entry["email"] = emails
            elif channel.channel_type == "slack":
                name = channel.details.get("channel")
                if isinstance(name, str) and name:
                    entry["slack"] = [live.slack_renames.get(name, name)]
            else:
                skipped.append(f"subscription #{pulse.id}: a {channel.channel_type!r} channel; "
                               "dashboard subscriptions are declared for e-mail and Slack only")
                continue
            if len(entry) == 1:
                skipped.append(f"subscription #{pulse.id} ({channel.channel_type}): it has no "
                               "recipient; not imported")
                continue
            if pulse.skip_if_empty:
                entry["skip_if_empty"] = True
            out.append(entry)
            declared.setdefault(pulse.id, []).append(channel)
        if pulse.id in declared:
            taken.append(pulse)
    return out, taken, declared


def dashboard_declaration(
    dash: Dashboard,
    live: LiveState,
    cards: dict[int, tuple[str, str]],
    pulses: Iterable[Pulse] = (),
    *,
    default_collection: str | None = None,
) -> DashboardImport:
    """The declaration of a live dashboard (pure).

    ``cards`` maps the id of every card on it to its question key and display. Items come in
    reading order; a size is left out where it is the default, a preset where one fits, else
    ``[w, h]``. The layout rule then places the items: where that differs from the live
    geometry, :attr:`DashboardImport.moved` says how.
    """
    key = managed_key(dash.description) or slugify(dash.name)
    declaration: dict[str, Any] = {"key": key, "name": dash.name}
    description = user_description(dash.description)
    if description:
        declaration["description"] = description
    collection = _relative(live.collection_path(dash.collection_id), default_collection)
    if collection:
        declaration["collection"] = collection
    declaration["width"] = dash.width
    result = DashboardImport(dash, key, declaration)
    items: list[DashboardItem] = []
    written: list[Any] = []
    actual: list[Placement] = []
    displays = {k: display for k, display in cards.values()}
    for dashcard in reading_order(dash.dashcards):
        size = _size_of(dashcard)
        if dashcard.card_id is not None:
            question, display = cards[dashcard.card_id]
            word = _size_word(size, default_size(display))
            items.append(QuestionItem(question=question, size=size if word else None))
            written.append({"question": question, "size": word} if word else question)
        else:
            text = str((dashcard.visualization_settings or {}).get("text") or "").strip()
            if not text:
                result.skipped.append(f"dashcard #{dashcard.id} on dashboard #{dash.id}: an "
                                      "empty text card; not imported")
                continue
            if virtual_display(dashcard) == "heading":
                items.append(HeadingItem(heading=text))
                written.append({"heading": text})
            else:
                word = _size_word(size, TEXT_SIZE)
                items.append(TextItem(text=text, size=size if word else None))
                written.append({"text": text, "size": word} if word else {"text": text})
        actual.append(Placement(dashcard.row, dashcard.col, dashcard.size_x, dashcard.size_y))
    declaration["cards"] = written
    for index, (item, now, then) in enumerate(zip(
            items, actual, layout(items, lambda k: displays[k]), strict=True)):
        if now != then:
            what = (item.question if isinstance(item, QuestionItem) else
                    f"heading {item.heading!r}" if isinstance(item, HeadingItem) else
                    f"text {item.text[:30]!r}")
            result.moved.append(f"cards[{index}] {what}: {_where(now)} -> {_where(then)}")
    subscriptions, result.pulses, result.channels = _subscriptions_of(pulses, live,
                                                                      result.skipped)
    if subscriptions:
        declaration["subscriptions"] = subscriptions
    return result


def _read_dashboard(client: MetabaseClient, dashboard_id: int) -> Dashboard:
    """Dashboard ``dashboard_id`` whole, or one clear error when it cannot be imported."""
    try:
        dash = client.dashboards.get(dashboard_id)
    except NotFoundError:
        raise ConfigError(
            f"--dashboard {dashboard_id}: there is no dashboard #{dashboard_id} on {client.url} "
            "(the number is the one in the dashboard's URL, /dashboard/ID-...)"
        ) from None
    if dash.archived:
        raise ConfigError(f"--dashboard {dashboard_id}: dashboard {dash.name!r} is in the Trash; "
                          "restore it in Metabase first")
    if dash.tabs:
        raise ConfigError(
            f"--dashboard {dashboard_id}: dashboard {dash.name!r} has {len(dash.tabs)} tab(s); "
            "metabase-guard lays out dashboards without tabs, so it cannot be declared as it is"
        )
    odd = [f"dashcard #{d.id} is a {virtual_display(d)} card" for d in dash.dashcards
           if d.card_id is None and virtual_display(d) not in _VIRTUAL]
    if odd:
        raise ConfigError(
            f"--dashboard {dashboard_id}: {'; '.join(odd)}: a declared dashboard holds "
            "questions, headings and texts only; remove those cards in Metabase first"
        )
    seen: set[int] = set()
    for d in dash.dashcards:
        if d.card_id is not None and d.card_id in seen:
            raise ConfigError(f"--dashboard {dashboard_id}: card #{d.card_id} is on it twice; "
                              "a question can be on a declared dashboard once")
        if d.card_id is not None:
            seen.add(d.card_id)
    return dash


def _cards_of_dashboard(client: MetabaseClient, dash: Dashboard, live: LiveState,
                        managed: dict[int, str]) -> list[Card]:
    """The unmanaged cards on ``dash``, read whole, to import with it; non-SQL ones are an error."""
    out: list[Card] = []
    refused: list[str] = []
    for dashcard in reading_order(dash.dashcards):
        if dashcard.card_id is None or dashcard.card_id in managed:
            continue
        card = client.cards.get(dashcard.card_id)
        if read_native(card.dataset_query) is None:
            refused.append(f"card #{card.id} {card.name!r}")
        out.append(card)
    if refused:
        verb = "is not a native SQL question" if len(refused) == 1 else "are not native SQL"
        raise ConfigError(
            f"--dashboard {dash.id}: {', '.join(refused)} on it {verb}; metabase-guard manages "
            "native SQL questions only, so the dashboard cannot be declared with them: remove "
            "them from the dashboard in Metabase first"
        )
    return out


def _channel_copy(channel: PulseChannel) -> dict[str, Any]:
    """The body of a copy of ``channel``: its schedule, details and recipients, enabled."""
    body = channel.model_dump(include={"channel_type", "schedule_type", "schedule_hour",
                                       "schedule_day", "schedule_frame", "details"})
    recipients = [{"id": r["id"]} if r.get("id") is not None else {"email": r.get("email")}
                  for r in channel.recipients]
    return {**body, "enabled": True, "recipients": recipients}


def adopt_dashboards(client: MetabaseClient, live: LiveState,
                     imports: Iterable[DashboardImport]) -> list[str]:
    """Mark the imported dashboards and replace the subscriptions others made by our copies."""
    done: list[str] = []
    for item in imports:
        dash = item.dashboard
        if managed_key(dash.description) != item.key:
            client.dashboards.update(dash.id, {
                "description": compose_description(user_description(dash.description), item.key)
            })
            done.append(f"dashboard #{dash.id} marked as {item.key}")
        for pulse in item.pulses:
            if pulse.creator_id == live.me.id:
                continue
            # a pulse's creator cannot be changed (no creator_id in PUT /api/pulse,
            # src/metabase/pulse/api/pulse.clj): make our copies first, then archive theirs.
            # One copy per declared channel, as metabase-guard keeps its subscriptions
            # (reconcile/subscriptions.py), so that the plan after the import is empty.
            copies = [client.pulses.create({
                "name": dash.name, "dashboard_id": dash.id, "skip_if_empty": pulse.skip_if_empty,
                "parameters": [],
                "cards": [{k: c.get(k) for k in ("id", "dashboard_card_id", "include_csv",
                                                  "include_xls")} for c in pulse.cards],
                "channels": [_channel_copy(channel)],
            }) for channel in item.channels.get(pulse.id, [])]
            client.pulses.archive(pulse.id, pulse.skip_if_empty)
            made = ", ".join(f"#{c.id}" for c in copies)
            done.append(f"subscription #{pulse.id} replaced by {made} (a subscription "
                        "cannot be handed over to another user, so metabase-guard made its own "
                        "copy and archived the original)")
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
    dashboard_ids: list[int] = list(getattr(args, "dashboard", None) or [])
    if not (args.card or args.collection or args.all_alerts or dashboard_ids):
        raise ConfigError("say what to import: --card ID, --collection PATH, --all-alerts or "
                          "--dashboard ID")
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
    managed = {card.id: key for key, card in live.managed_cards().items()}
    dashboards = [_read_dashboard(client, n) for n in dict.fromkeys(dashboard_ids)]
    for dash in dashboards:
        for card in _cards_of_dashboard(client, dash, live, managed):
            chosen.setdefault(card.id, card)
    # the snapshot keeps unmanaged cards slim (no query): read the chosen ones whole
    whole = [c if managed_key(c.description) else client.cards.get(c.id) for c in chosen.values()]
    result = declarations_for(whole, live,
                              default_collection=settings.default_collection,
                              keys={args.card[0]: args.key} if args.key else None)
    known = {card.id: (key, card.display) for key, card in live.managed_cards().items()}
    known.update({card.id: (key, card.display) for key, card in result.cards})
    imports = [dashboard_declaration(dash, live, known, client.pulses.list(dashboard_id=dash.id),
                                     default_collection=settings.default_collection)
               for dash in dashboards]
    for reason in [*result.skipped, *(r for item in imports for r in item.skipped)]:
        say(f"skipped: {reason}")
    for item in imports:
        if item.moved:
            say(f"dashboard #{item.dashboard.id} is not laid out as metabase-guard's layout rule "
                f"lays it out (items in reading order, rows packed left to right, headings on "
                f"their own row): the first apply moves {len(item.moved)} item(s), sizes kept:")
            for line in item.moved:
                say(f"  {line}")
    if not result.questions and not imports:
        say("Nothing to import.")
        return 1
    text = dump_yaml(result.questions, [item.declaration for item in imports])
    what = ", ".join(
        f"{n} {noun}" for n, noun in ((len(result.questions), "question(s)"),
                                      (len(imports), "dashboard(s)")) if n)
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
        say(f"Wrote {what} to {args.out}.")
    else:
        print(text, end="")
    if args.no_adopt:
        return 0
    pending = [k for k, c in result.cards if managed_key(c.description) != k]
    foreign = [n for n in result.alerts if n.creator_id != live.me.id]
    boards = [i for i in imports if managed_key(i.dashboard.description) != i.key]
    subs = [p for i in imports for p in i.pulses if p.creator_id != live.me.id]
    if pending or foreign or boards or subs:
        counts = (f"{len(pending)} card(s), {len(foreign)} alert(s), {len(boards)} "
                  f"dashboard(s) and {len(subs)} subscription(s)" if imports else
                  f"{len(pending)} card(s) and {len(foreign)} alert(s)")
        prompt = (f"\nAdopt {counts} so that metabase-guard manages them? Only 'yes' is "
                  "accepted: ")
        if not args.yes and not sys.stdin.isatty():
            say("Not adopted: no terminal to ask on; rerun with --yes to adopt, or with "
                "--no-adopt to only write the YAML.")
            return 1
        if not args.yes and not confirm(prompt):
            say("Not adopted: the YAML was written, but plan will offer to create new cards.")
            return 1
    for line in [*adopt(client, live, result), *adopt_dashboards(client, live, imports)]:
        say(f"  {line}")
    return 0
