"""Scans a desk answered offline, uploaded later: what the door did, recorded as pretix records
pretixSCAN's offline uploads (``docs/offline.rst``).

An admission is a fact: the person is inside. pretixSCAN uploads it as a forced check-in;
the desk does the same, but only where the refusal comes from something the desk could
not know: its order changed after the download the desk answered from (pretix touches the
order with every change, check-ins included), its code was revoked since, or the list
changed. The signed sync token of that download says when it was made, so a login that may
only check in cannot force a live scan by calling it an offline one.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from pretix.base.models import Checkin, RevokedTicketSecret

#: The other check-ins a conflict shows, newest first.
MAX_OTHERS = 10

ADMITTED = "ok"
REFUSED = "error"

#: What the server recorded for an upload.
RECORDED_CHECKIN = "checkin"
RECORDED_FORCED = "forced"
RECORDED_REFUSED = "refused"


@dataclass(frozen=True)
class OfflineClaim:
    """What a desk says it answered offline, and from which download."""

    answer: str  # ADMITTED or REFUSED
    reason: Optional[str]  # with REFUSED: the desk's reason code
    since: datetime  # the download's time, less the sync overlap
    fingerprint: str  # the list's fingerprint at that download

    @property
    def admitted(self):
        return self.answer == ADMITTED


def changed_since_download(*, claim, position, checkin_list, fingerprint_now, revoked_code=None):
    """Whether the desk's download could not show why pretix refuses this ticket now.

    ``position.order.last_modified`` must be the one read before this upload wrote
    anything (answers touch the order). ``fingerprint_now`` is called only when needed.
    """
    if position.order.last_modified >= claim.since:
        return True
    if revoked_code is not None and RevokedTicketSecret.objects.filter(
        event_id=checkin_list.event_id, secret=revoked_code, created__gte=claim.since,
    ).exists():
        return True
    return fingerprint_now() != claim.fingerprint


def other_checkins(*, position, checkin_list, exclude=None):
    """The position's other successful check-ins on the list, newest first, with the
    names a desk shows for gate and device."""
    qs = Checkin.objects.filter(position_id=position.pk, list_id=checkin_list.pk).select_related("gate", "device")
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return list(qs.order_by("-datetime", "-pk")[:MAX_OTHERS])
