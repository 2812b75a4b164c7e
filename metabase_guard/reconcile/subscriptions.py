"""The subscription kind: dashboard subscriptions (``/api/pulse``), resolved, diffed, written.

Each declared subscription is one Metabase pulse for its ``email`` list and one per Slack
channel, as Metabase's UI makes them. A pulse may hold more channels (the PUT's ``channels``
are matched by id, the rest deleted: metabase/metabase src/metabase/pulse/models/pulse.clj
``update-notification-channels!``); on a managed pulse any channel beyond its first e-mail or
Slack one shows as a recipient the update removes. A pulse is managed
when it sits on a managed dashboard, was created by metabase-guard's user and delivers by
e-mail or Slack; other people's subscriptions are reported and never touched. Pulses have no
description to carry a marker and Metabase rewrites their ``name`` from the dashboard
(src/metabase/pulse/events/dashboard_subscription.clj), so live pulses are paired with declared
ones by channel type and Slack channel or recipients, then schedule, then in order.

The pulse's card references need the dashcard ids of the dashboard's question cards
(metabase-dashboards.md 3.2): a new dashboard's are only known once it is written, so ``write``
reads the dashboard back. Updates GET then PUT with ``archived`` and ``skip_if_empty``, which
Metabase resets to false when left out (src/metabase/pulse/api/pulse.clj); prune archives.
An update sends ``cards`` only when the plan changes them (never on a dashboard with
hand-made tabs): Metabase leaves the cards of a PUT without them alone, while cards sent are
written anew with ``card->ref``'s defaults (src/metabase/pulse/models/pulse.clj,
``update-notification!``), so the ``format_rows`` and ``pivot_results`` of the live cards, set
in the UI and not declared, are sent back as found. The cards' order is not compared: Metabase
renders a dashboard subscription in the dashboard's order and takes from its cards only each
one's attachment settings (src/metabase/channel/impl/email.clj, ``assoc-attachment-booleans``).
A dashboard that is pruned takes its pulses with it, so they are not retired here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from metabase_guard.api.models import Dashboard, Pulse, PulseChannel
from metabase_guard.errors import ApiError, Problem
from metabase_guard.reconcile import dashboards
from metabase_guard.reconcile.alerts import (
    EMAIL_OFF,
    SLACK_OFF,
    active_users,
    slack_channel_problem,
)
from metabase_guard.reconcile.kind import Defaults, Desired, Kind, PlanWalk
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Unmanaged, field_changes
from metabase_guard.reconcile.writes import create_verified, retire_live, write_idempotent
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import QuestionItem
from metabase_guard.spec.schedule import pulse_schedule

if TYPE_CHECKING:
    from metabase_guard.reconcile.writes import WriteContext

__all__ = ["KIND", "DesiredSubscription", "SubscriptionView", "pulse_words", "view_of_pulse"]

CHANNELS = ("email", "slack")
_FIELDS = ("schedule", "recipients", "skip_if_empty", "cards", "enabled")
_DAYS = {"sun": "sunday", "mon": "monday", "tue": "tuesday", "wed": "wednesday",
         "thu": "thursday", "fri": "friday", "sat": "saturday"}
_FRAMES = {"first": "the first", "mid": "the 15th", "last": "the last"}


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as compared: schedule in words, recipients and cards sorted."""

    channel: str
    schedule: str
    recipients: tuple[str, ...]
    skip_if_empty: bool
    cards: tuple[str, ...]
    enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Field name → value (lists for the tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in ((k, getattr(self, k)) for k in self.__dataclass_fields__)}


@dataclass(frozen=True)
class DesiredSubscription:
    """One Metabase pulse a declared subscription asks for (the e-mails, or one channel)."""

    dashboard: str
    index: int
    channel: str
    schedule: tuple[tuple[str, Any], ...]
    recipients: tuple[str, ...]
    #: the Metabase user of each address that is one (sent as ``{id}``, the rest as ``{email}``)
    user_ids: tuple[tuple[str, int], ...]
    skip_if_empty: bool
    #: the question keys of the dashboard, in reading order
    cards: tuple[str, ...]
    address: str
    #: the dashboard has tabs made by hand (its layout is not ours): the pulse's cards are
    #: left as they are on an update, and only the questions found on it attached on a create
    keep_cards: bool = False

    def view(self) -> SubscriptionView:
        """The declared side of the comparison."""
        return SubscriptionView(self.channel, pulse_words(dict(self.schedule)), self.recipients,
                                self.skip_if_empty, tuple(sorted(self.cards)))

    def channel_body(self) -> dict[str, Any]:
        """The one channel of the pulse, enabled."""
        users = dict(self.user_ids)
        body: dict[str, Any] = {"channel_type": self.channel, "enabled": True,
                                **dict(self.schedule)}
        if self.channel == "slack":
            body |= {"recipients": [], "details": {"channel": self.recipients[0]}}
        else:
            body |= {"details": {}, "recipients": [
                {"id": users[a]} if a in users else {"email": a} for a in self.recipients]}
        return body


def pulse_words(fields: dict[str, Any]) -> str:
    """``weekly on monday at 08:00`` for a pulse channel's schedule fields."""
    kind = fields.get("schedule_type")
    hour = fields.get("schedule_hour")
    at = f" at {hour:02d}:00" if isinstance(hour, int) else ""
    day = _DAYS.get(str(fields.get("schedule_day")), fields.get("schedule_day"))
    if kind == "hourly":
        return "hourly"
    if kind == "daily":
        return f"daily{at}"
    if kind == "weekly":
        return f"weekly on {day}{at}"
    if kind == "monthly":
        frame = _FRAMES.get(str(fields.get("schedule_frame")), "?")
        return f"monthly on {frame} {day if fields.get('schedule_day') else 'day'}{at}"
    return f"schedule {kind}"


def _channel(pulse: Pulse) -> PulseChannel | None:
    return next((c for c in pulse.channels if c.channel_type in CHANNELS), None)


def view_of_pulse(pulse: Pulse, keys: dict[int, str], dashcards: dict[int, int | None]
                  ) -> SubscriptionView | None:
    """The comparable view of a live pulse, or None when it has no e-mail or Slack channel.

    ``keys`` maps managed card ids to question keys; ``dashcards`` each card id to the dashcard
    that will show it. A reference to another dashcard is shown with its id, so it is rewritten.
    """
    channel = _channel(pulse)
    if channel is None:
        return None
    if channel.channel_type == "slack":
        recipients: tuple[str, ...] = tuple(
            [str(channel.details["channel"])] if channel.details.get("channel") else [])
    else:
        recipients = tuple(sorted({str(r["email"]).lower() for r in channel.recipients
                                   if r.get("email")}))
    # a second channel on our pulse (added by hand) is dropped by our PUT: show it going
    recipients += tuple(sorted(_other_channel(c) for c in pulse.channels if c is not channel))
    cards = []
    for ref in pulse.cards:
        card_id = ref.get("id")
        label = keys.get(card_id, f"card #{card_id}") if isinstance(card_id, int) else "?"
        if not isinstance(card_id, int) or ref.get("dashboard_card_id") != dashcards.get(card_id):
            label += f" (dashcard #{ref.get('dashboard_card_id')})"
        if ref.get("include_csv") or ref.get("include_xls"):
            label += " (with attachment)"
        cards.append(label)
    schedule = {k: getattr(channel, k) for k in
                ("schedule_type", "schedule_hour", "schedule_day", "schedule_frame")}
    return SubscriptionView(channel.channel_type, pulse_words(schedule), recipients,
                            pulse.skip_if_empty, tuple(sorted(cards)), channel.enabled)


def _other_channel(channel: PulseChannel) -> str:
    """``(also a slack channel: #data)``: a channel the pulse has beyond the managed one."""
    where = channel.details.get("channel") if channel.channel_type == "slack" else None
    return f"(also a {channel.channel_type} channel{f': {where}' if where else ''})"


def _audience(view: SubscriptionView) -> str:
    return ", ".join(view.recipients) or "nobody"


def _summary(address: str, view: SubscriptionView) -> str:
    """``subscription recommender-health email weekly on monday at 08:00 -> pm@example.com``."""
    if view.channel == "slack" and view.recipients and view.recipients[0] in address:
        return f"{address} {view.schedule}"  # the address names the channel already
    return f"{address} {view.schedule} -> {_audience(view)}"


def _stop_effect(view: SubscriptionView) -> str:
    verb = "posting the dashboard to" if view.channel == "slack" else "e-mailing the dashboard to"
    return f"Metabase stops {verb} {_audience(view)}"


# -- resolving ------------------------------------------------------------------------------------


def _resolve(decls: Declarations, live: LiveState, problems: list[Problem]
             ) -> list[DesiredSubscription]:
    users = active_users(live)
    out: list[DesiredSubscription] = []

    def fail(key: str, where: str, message: str) -> None:
        at = decls.locate_dashboard(key, where)
        problems.append(Problem(at.file, at.line, where, f"dashboard {key!r}: {message}"))

    for dash in decls.dashboards:
        cards = tuple(i.question for i in dash.cards if isinstance(i, QuestionItem))
        emails = sum(1 for s in dash.subscriptions if s.email)
        for index, sub in enumerate(dash.subscriptions):
            where = f"subscriptions[{index}]"
            schedule = tuple(pulse_schedule(sub.schedule).items())
            base = DesiredSubscription(dash.key, index, "email", schedule, (), (),
                                       sub.skip_if_empty, cards, "")
            if sub.email:
                if not live.email_configured:
                    fail(dash.key, f"{where}.email", EMAIL_OFF.format("subscriptions"))
                addresses = tuple(sorted({e.lower() for e in sub.email}))
                suffix = f" #{index + 1}" if emails > 1 else ""
                out.append(replace(
                    base, recipients=addresses,
                    user_ids=tuple((a, users[a].id) for a in addresses if a in users),
                    address=f"subscription {dash.key} email{suffix}"))
            if sub.slack and not live.slack_configured:
                fail(dash.key, f"{where}.slack", SLACK_OFF.format("subscriptions"))
            for n, name in enumerate(sub.slack):
                why = slack_channel_problem(name, live) if live.slack_configured else None
                if why is not None:
                    fail(dash.key, f"{where}.slack[{n}]", why)
                out.append(replace(
                    base, channel="slack", recipients=(name,),
                    address=f"subscription {dash.key} slack {name}"
                    + (f" #{index + 1}" if _slack_twice(dash.subscriptions, name) else "")))
    return out


def _slack_twice(subscriptions: Sequence[Any], name: str) -> bool:
    return sum(1 for s in subscriptions if name in s.slack) > 1


# -- pairing ---------------------------------------------------------------------------------------


def _pair(desired: Sequence[DesiredSubscription], live: Sequence[tuple[Pulse, SubscriptionView]]
          ) -> tuple[list[tuple[DesiredSubscription, Pulse, SubscriptionView]],
                     list[DesiredSubscription], list[tuple[Pulse, SubscriptionView]]]:
    """Equal first, then same channel and recipients, then same schedule, then in order."""
    free = sorted(live, key=lambda pv: pv[0].id)
    pairs: list[tuple[DesiredSubscription, Pulse, SubscriptionView]] = []
    pending = list(desired)
    for rule in ("equal", "target", "schedule", "any"):
        left = []
        for want in pending:
            view = want.view()
            for i, (_, seen) in enumerate(free):
                if seen.channel == want.channel and (
                        (rule == "equal" and seen == view)
                        or (rule == "target" and seen.recipients == view.recipients)
                        or (rule == "schedule" and seen.schedule == view.schedule)
                        or rule == "any"):
                    pairs.append((want, *free.pop(i)))
                    break
            else:
                left.append(want)
        pending = left
    return pairs, pending, free


class Subscriptions(Kind):
    """Dashboard subscriptions: written after the dashboards whose dashcards they name."""

    name = "subscription"
    retired_as = "archive those subscriptions"
    depends_on = ("dashboard",)

    def resolve(self, decls: Declarations, live: LiveState, defaults: Defaults,
                problems: list[Problem], desired: Desired) -> Desired:
        """One desired pulse per e-mail list and per Slack channel; delivery checked."""
        return replace(desired, subscriptions=tuple(_resolve(decls, live, problems)))

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """Pair declared subscriptions with ours on each declared dashboard; others reported."""
        live = walk.live
        keys = {card.id: key for key, card in walk.managed_cards.items()}
        by_dashboard: dict[str, list[DesiredSubscription]] = {}
        for sub in desired.subscriptions:
            by_dashboard.setdefault(sub.dashboard, []).append(sub)
        for want in desired.dashboards:
            subs = by_dashboard.get(want.key, [])
            state = walk.dashboard_states.get(want.key)
            dash = state.dashboard if state else None
            if dash is None or state is None:
                walk.changes.extend(self._create(s) for s in subs)
                continue
            dashcards: dict[int, int | None] = {}
            for item, kept in zip(want.items, state.dashcard_ids, strict=True):
                card = walk.managed_cards.get(item.content)
                if item.display == "card" and card is not None:
                    dashcards.setdefault(card.id, kept)
            ours: list[tuple[Pulse, SubscriptionView]] = []
            for pulse in live.pulses_of(dash.id):
                view = view_of_pulse(pulse, keys, dashcards)
                if pulse.creator_id != live.me.id or view is None:
                    walk.unmanaged.append(self._theirs(pulse, want.key, live, view is None))
                else:
                    ours.append((pulse, view))
            walk.existing += len(ours)
            if dash.tabs and (subs or ours):
                subs = self._on_tabs(want.key, dash, subs, dashcards, walk)
            self._diff_dashboard(want.key, dash, subs, ours, walk)

    @staticmethod
    def _on_tabs(key: str, dash: Dashboard, subs: Sequence[DesiredSubscription],
                 dashcards: dict[int, int | None], walk: PlanWalk) -> list[DesiredSubscription]:
        """Subscriptions of a dashboard with hand-made tabs: their cards are not compared.

        Its layout is left alone (dashboards.py), so a declared question may be missing from
        it; attaching that question would fail at apply time. A create attaches the declared
        questions found on the dashboard, and is not planned when there is none.
        """
        walk.unmanaged.append(Unmanaged(
            f"cards of the subscriptions of dashboard {key}",
            f"dashboard #{dash.id} has tabs made by hand, so its layout is not managed: the "
            "cards its subscriptions attach are left as they are (their schedules and "
            "recipients are managed); remove the tabs in Metabase to manage them"))
        found = {k for k, card in walk.managed_cards.items() if card.id in dashcards
                 and dashcards[card.id] is not None}
        out: list[DesiredSubscription] = []
        for sub in subs:
            there = tuple(k for k in sub.cards if k in found)
            if there:
                out.append(replace(sub, cards=there, keep_cards=True))
            else:
                walk.unmanaged.append(Unmanaged(
                    sub.address, f"not created: none of its questions is on dashboard #{dash.id}, "
                    "whose tabs were made by hand"))
        return out

    @staticmethod
    def _theirs(pulse: Pulse, key: str, live: LiveState, other_channel: bool) -> Unmanaged:
        why = ("delivers neither by e-mail nor by Slack" if other_channel and
               pulse.creator_id == live.me.id else
               f"created by {live.user_label(pulse.creator_id)}, not by metabase-guard's user "
               f"{live.me.email}")
        return Unmanaged(f"subscription #{pulse.id} on dashboard {key}", f"{why}; left alone")

    @staticmethod
    def _create(sub: DesiredSubscription) -> Change:
        view = sub.view()
        return Change("create", "subscription", sub.address, key=sub.dashboard,
                      values=tuple(view.as_dict().items()), payload=sub,
                      summary=_summary(sub.address, view))

    def _diff_dashboard(self, key: str, dash: Dashboard, subs: Sequence[DesiredSubscription],
                        ours: Sequence[tuple[Pulse, SubscriptionView]], walk: PlanWalk) -> None:
        pairs, creates, leftovers = _pair(subs, ours)
        walk.changes.extend(self._create(s) for s in creates)
        for want, pulse, seen in pairs:
            names = [f for f in _FIELDS if f != "cards" or not want.keep_cards]
            fields = field_changes(seen.as_dict(), want.view().as_dict(), names)
            if fields:
                walk.changes.append(Change(
                    "update", "subscription", want.address, key=key, live_id=pulse.id,
                    fields=tuple(fields), payload=want))
        for pulse, seen in leftovers:
            address = f"subscription {key}#{pulse.id}"
            walk.delete(Change(
                "delete", "subscription", address, key=key, live_id=pulse.id,
                values=tuple(seen.as_dict().items()), effects=(_stop_effect(seen),),
                summary=_summary(f"{address} {seen.channel}", seen)))

    # -- writes -----------------------------------------------------------------------------

    def write(self, change: Change, ctx: WriteContext) -> None:
        """Create, update (GET then PUT) or archive one pulse."""
        if change.action == "delete":
            retire_live(change, lambda pulse_id: ctx.client.pulses.archive(
                pulse_id, ctx.client.pulses.get(pulse_id).skip_if_empty))
            return
        sub = change.payload
        assert isinstance(sub, DesiredSubscription)
        made = ctx.dashboards.get(sub.dashboard)
        live_dash = dashboards.KIND.managed(ctx.live).get(sub.dashboard)
        dashboard_id = made if made is not None else live_dash.id if live_dash else None
        if dashboard_id is None:
            raise ApiError(f"dashboard {sub.dashboard} does not exist, so its subscription "
                           "cannot be written")
        dash = ctx.client.dashboards.get(dashboard_id)
        body: dict[str, Any] = {"name": dash.name, "channels": [sub.channel_body()],
                                "skip_if_empty": sub.skip_if_empty}
        if change.action == "create":
            body["cards"] = self._cards(sub, dash, ctx)
            known = {p.id for p in ctx.live.pulses}
            me = ctx.live.me.id

            def find() -> Pulse | None:
                for p in ctx.client.pulses.list(dashboard_id=dashboard_id):
                    seen = view_of_pulse(p, {}, {})
                    if (p.id not in known and p.creator_id == me and seen is not None
                            and (seen.channel, seen.recipients) == (sub.channel,
                                                                    sub.recipients)):
                        return p
                return None

            create_verified(lambda: ctx.client.pulses.create(
                {**body, "dashboard_id": dashboard_id, "parameters": []}), find)
            return
        assert change.live_id is not None
        pulse_id = change.live_id
        # GET first: Metabase resets an omitted archived to false, so it is carried over
        current = ctx.client.pulses.get(pulse_id)
        # the diff never changes cards on hand-made tabs (keep_cards), so this covers them
        if any(f.field == "cards" for f in change.fields):
            body["cards"] = _carried(self._cards(sub, dash, ctx), current.cards)
        write_idempotent(lambda: ctx.client.pulses.update(
            pulse_id, {**body, "archived": current.archived}))

    @staticmethod
    def _cards(sub: DesiredSubscription, dash: Dashboard, ctx: WriteContext
               ) -> list[dict[str, Any]]:
        """Card refs: each question's card id with the dashcard showing it on ``dash``."""
        dashcards: dict[int, int] = {}
        for dashcard in sorted(dash.dashcards, key=lambda d: (d.row, d.col, d.id)):
            if dashcard.card_id is not None:
                dashcards.setdefault(dashcard.card_id, dashcard.id)
        refs = []
        for key in sub.cards:
            card_id = ctx.cards.get(key)
            if sub.keep_cards and card_id not in dashcards:
                continue  # hand-made tabs: the plan attaches only what is on the dashboard
            if card_id is None or card_id not in dashcards:
                raise ApiError(f"card {key} is not on dashboard {sub.dashboard}, so the "
                               "subscription cannot attach it")
            refs.append({"id": card_id, "dashboard_card_id": dashcards[card_id],
                         "include_csv": False, "include_xls": False})
        return refs


#: What a card of a pulse has that declarations do not set, kept as found when cards are sent.
_HAND_SET = ("format_rows", "pivot_results")


def _carried(refs: list[dict[str, Any]], live: Sequence[dict[str, Any]]
             ) -> list[dict[str, Any]]:
    """``refs`` with each card's ``format_rows`` and ``pivot_results`` as the live pulse has them.

    Metabase writes every card of a PUT with cards anew, an absent ``format_rows`` as true and
    ``pivot_results`` as false (src/metabase/pulse/models/pulse.clj, ``card->ref``), so a
    value set by hand would be reset by an update that only meant to add a card.
    """
    found = {ref.get("id"): ref for ref in live}
    out = []
    for ref in refs:
        was = found.get(ref["id"], {})
        out.append({**ref, **{k: was[k] for k in _HAND_SET if isinstance(was.get(k), bool)}})
    return out


KIND = Subscriptions()
