"""The door at a glance, read from pretix's own check-ins: who is expected, who came, who is
inside (pretix's notion, exits and ``exit_all_at`` included), arrivals over time by list,
gate and source, and the forced check-ins that are conflicts. Aggregates only: the cost of
a refresh does not grow with the attendees' number, only with the lists and the buckets."""
import datetime
from dataclasses import dataclass, field
from typing import Optional

from django.db.models import (
    Case, CharField, Count, Exists, OuterRef, Subquery, Value, When,
)
from django.db.models.functions import TruncHour, TruncMinute
from pretix.base.models import Checkin, Gate

from pretix_desk.door.reports import desks as desk_statuses
from pretix_desk.models import DoorCapacity

#: The recent plot: per minute, this far back.
RECENT = datetime.timedelta(hours=2)
#: The arrival rate behind the forecast: entries per minute over this span.
RATE_SPAN = datetime.timedelta(minutes=10)
#: Forced check-ins listed, newest first.
CONFLICTS_SHOWN = 50

SOURCE_AUTO = "auto"  # auto check-in rules: nobody walked through a door
SOURCE_DEVICE = "device"  # pretixSCAN and other devices
SOURCE_DESK = "desk"  # a user or team token with a nonce: the desk page (live and uploads)
SOURCE_WEB = "web"  # one without: pretix's web check-in and control panel, API scripts


@dataclass
class ListFigures:
    list_id: int
    name: str
    subevent_id: Optional[int]
    expected: int  # admissible tickets (pretix's positions of the list)
    entered: int  # of them, those with a successful entry
    inside: int  # pretix's positions_inside_query
    inside_by_gate: dict = field(default_factory=dict)  # of them, by the gate of their last entry
    rate_per_minute: float = 0.0  # entries (not auto check-ins) over RATE_SPAN
    all_in_at: Optional[datetime.datetime] = None  # at that rate, when the rest are in

    @property
    def not_arrived(self):
        return max(self.expected - self.entered, 0)


@dataclass
class Conflict:
    """A forced check-in, as the door shows it (plain data: figures are shared through
    pretix's cache, ``door.shared``)."""
    checkin_id: int
    list_id: int
    position_id: int
    datetime: datetime.datetime
    type: str
    gate: Optional[str]
    device: Optional[str]
    force_sent: bool
    order_code: str

    @classmethod
    def of(cls, checkin):
        return cls(
            checkin_id=checkin.pk, list_id=checkin.list_id, position_id=checkin.position_id,
            datetime=checkin.datetime, type=checkin.type, gate=str(checkin.gate.name) if checkin.gate else None,
            device=str(checkin.device.name) if checkin.device else None, force_sent=bool(checkin.force_sent),
            order_code=checkin.position.order.code,
        )


@dataclass
class DoorFigures:
    at: datetime.datetime
    lists: list
    recent: list = field(default_factory=list)  # (minute, list, gate, source, type, count)
    whole: list = field(default_factory=list)  # (hour, list, gate, source, type, count)
    conflicts: list = field(default_factory=list)  # Conflict, newest first
    gates: dict = field(default_factory=dict)  # names of the gates in the rows, by id
    desks: list = field(default_factory=list)  # reports.DeskStatus, those reporting first
    capacities: list = field(default_factory=list)  # (list id, gate id or None, capacity)


def _source():
    return Case(
        When(auto_checked_in=True, then=Value(SOURCE_AUTO)),
        When(device__isnull=False, then=Value(SOURCE_DEVICE)),
        # the desk sends a nonce with every scan; pretix's web check-in and its control
        # panel send none (pretix keeps no other mark of where a check-in came from)
        When(nonce__isnull=False, then=Value(SOURCE_DESK)),
        default=Value(SOURCE_WEB), output_field=CharField(),
    )


def _arrivals(lists, trunc, since=None):
    """Successful check-ins per bucket, list, gate, source and direction."""
    qs = Checkin.objects.filter(list__in=lists, successful=True)
    if since is not None:
        qs = qs.filter(datetime__gte=since)
    rows = (
        qs.annotate(bucket=trunc("datetime", tzinfo=datetime.timezone.utc), source=_source())
        .order_by()
        .values("bucket", "list_id", "gate_id", "source", "type")
        .annotate(n=Count("id"))
    )
    return sorted(
        ((r["bucket"], r["list_id"], r["gate_id"], r["source"], r["type"], r["n"]) for r in rows),
        key=lambda row: (row[0], row[1], row[2] or 0, row[3], row[4]),
    )


def last_entry_gate(list_id):
    """The gate of a position's (``OuterRef("pk")``) last successful entry on the list."""
    return Subquery(
        Checkin.objects.filter(list_id=list_id, position=OuterRef("pk"), type=Checkin.TYPE_ENTRY, successful=True)
        .order_by("-datetime", "-pk").values("gate_id")[:1]
    )


def _list_figures(clist):
    positions = clist.positions
    entered = positions.filter(
        Exists(Checkin.objects.filter(list_id=clist.pk, position=OuterRef("pk"), type=Checkin.TYPE_ENTRY))
    )
    # pretix's notion of inside, each by the gate of the entry that brought them in
    by_gate = {
        row["gate"]: row["n"]
        for row in clist.positions_inside_query().annotate(gate=last_entry_gate(clist.pk)).order_by()
        .values("gate").annotate(n=Count("pk"))
    }
    return ListFigures(
        list_id=clist.pk, name=str(clist.name), subevent_id=clist.subevent_id, expected=positions.count(),
        entered=entered.count(), inside=sum(by_gate.values()), inside_by_gate=by_gate,
    )


def forecast(figures, recent, at):
    """Set each list's arrival rate (entries at the door, not auto check-ins, over the last
    RATE_SPAN) and, at that rate, when the attendees not yet in will be."""
    since = at - RATE_SPAN
    for f in figures:
        entries = sum(
            n for minute, list_id, _gate, source, kind, n in recent
            if list_id == f.list_id and kind == Checkin.TYPE_ENTRY and source != SOURCE_AUTO
            and minute >= since
        )
        f.rate_per_minute = entries / (RATE_SPAN.total_seconds() / 60)
        f.all_in_at = None
        if f.not_arrived and f.rate_per_minute:
            f.all_in_at = at + datetime.timedelta(minutes=f.not_arrived / f.rate_per_minute)


def live_parts(figures, event, lists, *, at):
    """What is read at every refresh, even when the counts are shared (``door.shared``):
    the desks' reports and the capacities."""
    figures.desks = desk_statuses(event, lists, at=at)
    figures.capacities = list(
        DoorCapacity.objects.filter(checkin_list__in=lists).order_by("checkin_list_id", "gate_id")
        .values_list("checkin_list_id", "gate_id", "capacity")
    )
    return figures


def door_figures(event, lists, *, at, conflicts=True, live=True) -> DoorFigures:
    """Everything the door page shows for these check-in lists of the event, at ``at``
    (``live``: with ``live_parts``)."""
    lists = list(lists)
    figures = [_list_figures(clist) for clist in lists]
    recent = _arrivals(lists, TruncMinute, since=at - RECENT)
    forecast(figures, recent, at)
    forced = []
    if conflicts:
        forced = [Conflict.of(c) for c in (
            Checkin.objects.filter(list__in=lists, successful=True, forced=True)
            .select_related("position__order", "gate", "device")
            .order_by("-datetime", "-pk")[:CONFLICTS_SHOWN]
        )]
    whole = _arrivals(lists, TruncHour)
    gate_ids = {row[2] for row in whole if row[2]} | {g for f in figures for g in f.inside_by_gate if g}
    gates = {pk: str(name) for pk, name in Gate.objects.filter(pk__in=gate_ids).values_list("pk", "name")}
    door = DoorFigures(at=at, lists=figures, recent=recent, whole=whole, conflicts=forced, gates=gates)
    return live_parts(door, event, lists, at=at) if live else door
