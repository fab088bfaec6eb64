"""The desks' reports about themselves: what the door page shows of every desk.

A desk page sends ``X-Desk-Status`` with the list syncs it makes anyway (every 30 seconds
online, and after coming back; a desk that downloads nothing, with an empty search): its
connectivity state and since when, its queue, its scans of the last five minutes, gate and
version. Nothing else is asked of it, so a desk that stops syncing (offline, or closed)
shows as quiet. A report is a courtesy: a malformed one is ignored and never fails the
request that carried it.
"""
import datetime
import logging
import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qsl

from django.db import DatabaseError, transaction

from pretix_desk.models import DeskReport

logger = logging.getLogger(__name__)

HEADER = "X-Desk-Status"
STATES = ("online", "syncing", "offline", "unavailable")
#: Not heard from for this long: the desk is offline, or closed (it syncs every 30 s).
QUIET_AFTER = datetime.timedelta(seconds=90)
#: Desks not heard from for this long are no longer shown.
SHOWN_FOR = datetime.timedelta(hours=12)
MAX_LENGTH = 600
MAX_COUNT = 10 ** 6
_ID = re.compile(r"[A-Za-z0-9_-]{8,40}")
_VERSION = re.compile(r"[A-Za-z0-9.+_-]{1,40}")
_TIMES = {"since": "state_since", "sync": "last_sync", "off": "offline_from", "on": "offline_until"}
_COUNTS = {"q": "queued", "p": "parked", "f": "failing", "s5": "scans_5min"}


@dataclass
class Report:
    desk: str
    version: str
    state: str
    gate: str  # the identifier of the gate, as pretix's check-in API takes it, or ""
    times: dict  # model field -> aware datetime (server clock) or None
    counts: dict  # model field -> int


def _int(value, upper):
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise ValueError(value)
    number = int(value)
    if number > upper:
        raise ValueError(value)
    return number


def parse_report(value, *, at) -> Optional[Report]:
    """The report in a header value, or None if it is not one. Times are milliseconds
    since the epoch on the desk's clock, which ``now`` tells: they are moved by the
    difference to the server's clock ``at``. A time that lands in the future or before the
    desk's clock could have been right is dropped, not the report."""
    if not value or len(value) > MAX_LENGTH or not value.isascii():
        return None
    try:
        pairs = parse_qsl(value, strict_parsing=True, max_num_fields=20)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        return None  # a key twice: which one would be meant?
    desk, state, version = fields.get("id", ""), fields.get("st", ""), fields.get("v", "")
    if not _ID.fullmatch(desk) or state not in STATES or not _VERSION.fullmatch(version):
        return None
    try:
        desk_now = _int(fields["now"], 10 ** 14)
        counts = {name: _int(fields.get(key, "0"), MAX_COUNT) for key, name in _COUNTS.items()}
        gate = fields.get("g", "")
        if len(gate) > 190:
            raise ValueError(gate)
        raw_times = {name: _int(fields[key], 10 ** 14) for key, name in _TIMES.items() if fields.get(key)}
    except (KeyError, ValueError):
        return None
    skew = at - datetime.datetime.fromtimestamp(desk_now / 1000, tz=datetime.timezone.utc)
    times = {name: None for name in _TIMES.values()}
    for name, ms in raw_times.items():
        moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc) + skew
        if moment <= at + datetime.timedelta(seconds=5) and moment.year >= 2000:
            times[name] = moment
    return Report(desk=desk, version=version, state=state, gate=gate, times=times, counts=counts)


def record_report(value, *, event, checkin_list, user, at):
    """Keep the report in the header value ``value`` (or nothing, if it is none); one
    statement, an insert that updates the desk's row if it has one."""
    report = parse_report(value, at=at)
    if report is None:
        return None
    gate_id = None
    if report.gate:
        gate_id = event.organizer.gates.filter(identifier=report.gate).values_list("pk", flat=True).first()
    row = DeskReport(
        event=event, desk=report.desk, checkin_list=checkin_list, gate_id=gate_id,
        user=user if user is not None and user.is_authenticated else None,
        version=report.version, state=report.state, first_seen=at, last_seen=at,
        **report.times, **report.counts,
    )
    updated = [f for f in ("checkin_list", "gate", "user", "version", "state", "last_seen",
                           *report.times, *report.counts)]
    try:
        with transaction.atomic():
            DeskReport.objects.bulk_create(
                [row], update_conflicts=True, unique_fields=["event", "desk"], update_fields=updated,
            )
    except DatabaseError:
        logger.warning("A desk's report could not be kept", exc_info=True)
        return None
    return report


@dataclass
class DeskStatus:
    report: DeskReport
    quiet: bool

    @property
    def state(self):
        return "quiet" if self.quiet else self.report.state

    @property
    def scans_per_minute(self):
        return 0.0 if self.quiet else self.report.scans_5min / 5


def desks(event, lists, *, at):
    """The desks that reported on these lists within SHOWN_FOR, those still reporting
    first, each the newest first."""
    rows = (
        DeskReport.objects.filter(event=event, checkin_list__in=lists, last_seen__gte=at - SHOWN_FOR)
        .select_related("user", "gate")
    )
    statuses = [DeskStatus(report=r, quiet=r.last_seen < at - QUIET_AFTER) for r in rows]
    statuses.sort(key=lambda s: (s.quiet, -s.report.first_seen.timestamp(), s.report.desk))
    return statuses
