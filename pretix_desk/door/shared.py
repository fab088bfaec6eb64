"""The door's figures computed once per change of the event's check-ins and shared by
every manager's refresh, on every node (pretix's cache: Redis in production).

Counting a big event's lists costs hundreds of milliseconds (docs/door-api.rst); ten
managers refreshing every 5 seconds must not cost ten times that. A refresh reads a
change marker (the event's orders: pretix touches an order with each of its check-ins,
and so does every change of a ticket) and the desks' reports, and takes the shared
figures while the marker is unchanged. While one process computes new figures, the others
answer with the last ones; the figures follow time (the arrival rate, the last two hours)
at every read without a count.
"""
import datetime
import hashlib

from django.core.cache import cache

from pretix_desk.desk.sync import with_sync_state
from pretix_desk.door.figures import RECENT, door_figures, forecast, live_parts

#: Figures newer than this are shared even if the marker moved: at a busy door the marker
#: changes with every scan, so the lists are counted at most once per this time per
#: event, however many managers watch (the page refreshes every 5 seconds: views/door.py).
FRESH_FOR = datetime.timedelta(seconds=5)
#: Figures older than this are computed again even if the marker did not move (what no
#: order's time shows: a list's products or dates edited, an exit-all time passing).
KEPT_FOR = datetime.timedelta(seconds=60)
#: How long a computation may hold the lock before another may start one.
LOCK_SECONDS = 30


def _key(event, lists):
    ids = ",".join(str(pk) for pk in sorted(clist.pk for clist in lists))
    return "pretix_desk:door:{}:{}".format(event.pk, hashlib.sha256(ids.encode()).hexdigest()[:16])


def change_marker(lists):
    """What changes when a figure may have: the event's latest order change and the sum of
    those just before it (``desk.sync.with_sync_state``, index reads), and what of each list
    decides who counts."""
    return [
        (clist.pk, clist.subevent_id, clist.include_pending, clist.all_products, clist.exit_all_at,
         clist.sync_modified, clist.sync_modified_recent, clist.sync_deleted, clist.sync_revoked)
        for clist in lists
    ]


def _at_time(figures, at):
    """Figures computed a moment ago, as of ``at``: the last two hours and the rate move on."""
    figures.recent = [row for row in figures.recent if row[0] >= at - RECENT]
    forecast(figures.lists, figures.recent, at)
    figures.at = at
    return figures


def shared_door_figures(event, lists, *, at):
    """``door_figures`` of these lists at ``at``, computed at most once per change (and per
    FRESH_FOR) for everyone who asks; the desks' reports and capacities are read at every
    call."""
    lists = list(with_sync_state(lists))
    key = _key(event, lists)
    marker = change_marker(lists)
    held = cache.get(key)
    if held is not None and at - held[1] < KEPT_FOR and (held[0] == marker or at - held[1] < FRESH_FOR):
        figures = held[2]
    else:
        locked = cache.add(key + ":lock", 1, LOCK_SECONDS)
        if not locked and held is not None:
            figures = held[2]  # another process is counting: the last figures meanwhile
        else:
            try:
                figures = door_figures(event, lists, at=at, live=False)
                cache.set(key, (marker, at, figures), int(KEPT_FOR.total_seconds()) * 2)
            finally:
                if locked:
                    cache.delete(key + ":lock")
    return live_parts(_at_time(figures, at), event, lists, at=at)
