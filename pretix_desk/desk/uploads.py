"""Scans a desk answered offline, uploaded later: what the door did, recorded as pretix records
pretixSCAN's offline uploads (``docs/offline.rst``).

An admission is a fact: the person is inside. pretixSCAN uploads it as a forced check-in;
the desk does the same, but only where pretix's refusal comes from something the desk
could not know when it answered: the signed sync token of its download says when that was,
and what of the list decided admission then. A login that may only check in therefore
cannot force a live scan by calling it an offline one.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from django.contrib.contenttypes.models import ContentType
from pretix.base.models import Checkin, LogEntry, Order, RevokedTicketSecret

#: The other check-ins a conflict shows, newest first.
MAX_OTHERS = 10

ADMITTED = "ok"
REFUSED = "error"

#: What the server recorded for an upload.
RECORDED_CHECKIN = "checkin"
RECORDED_FORCED = "forced"
RECORDED_REFUSED = "refused"

#: Log entries of an order that record scans and hand-outs, not a change to the order:
#: anyone who may check in can cause them.
DOOR_ACTIONS = ("pretix.event.checkin", "pretix_desk.")


@dataclass(frozen=True)
class OfflineClaim:
    """What a desk says it answered offline, and from which download."""

    answer: str  # ADMITTED or REFUSED
    reason: Optional[str]  # with REFUSED: the desk's reason code
    since: datetime  # the download's time, less the sync overlap
    admission: Optional[str]  # the list's ``sync.admission_fingerprint`` at that download

    @property
    def admitted(self):
        return self.answer == ADMITTED


def changed_since_download(*, claim, position, checkin_list, admission_now, revoked_code=None):
    """Whether the desk's download could not show why pretix refuses this ticket now: the
    ticket was checked in since (on any list: list rules count entries elsewhere), its order
    was changed since (a log entry of the order that is no scan or hand-out: a failed scan
    touches the order too, and must not excuse anything), its code was revoked since, or
    what of the list decides admission changed. ``admission_now`` is called only if needed.
    """
    since = claim.since
    if Checkin.objects.filter(position_id=position.pk, created__gte=since).exists():
        return True
    changes = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Order), object_id=position.order_id, datetime__gte=since,
    )
    for prefix in DOOR_ACTIONS:
        changes = changes.exclude(action_type__startswith=prefix)
    if changes.exists():
        return True
    if revoked_code is not None and RevokedTicketSecret.objects.filter(
        event_id=checkin_list.event_id, secret=revoked_code, created__gte=since,
    ).exists():
        return True
    return claim.admission is not None and admission_now() != claim.admission


def other_checkins(*, position, checkin_list, exclude=None):
    """The position's other successful check-ins on the list, newest first, with the
    names a desk shows for gate and device."""
    qs = Checkin.objects.filter(position_id=position.pk, list_id=checkin_list.pk).select_related("gate", "device")
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return list(qs.order_by("-datetime", "-pk")[:MAX_OTHERS])
