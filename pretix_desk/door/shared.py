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
from django.utils.timezone import now

from pretix_desk.desk.sync import SyncState, with_sync_state
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
    """What changes when a figure may have: the event's changes as a preload follows them
    (``desk.sync.SyncState``, loaded with the lists by ``with_sync_state``: index reads),
    and what of each list decides who counts."""
    return [
        (clist.pk, clist.subevent_id, clist.include_pending, clist.all_products, clist.exit_all_at,
         SyncState.of(clist).values)
        for clist in lists
    ]


def _at_time(figures, at):
    """Figures computed a moment ago, as of ``at``: the last two hours and the rate move on."""
    figures.recent = [row for row in figures.recent if row[0] >= at - RECENT]
    forecast(figures.lists, figures.recent, at)
    figures.at = at
    return figures


def count_and_share(event, lists, *, locked):
    """Count the figures of these lists (a queryset) now and share them; ``locked``: the
    caller holds the lock, which is released here."""
    lists = list(with_sync_state(lists))
    return _count(event, lists, _key(event, lists), locked=locked)


def _count(event, lists, key, *, locked):
    try:
        at = now()
        figures = door_figures(event, lists, at=at, live=False)
        cache.set(key, (change_marker(lists), at, figures), int(KEPT_FOR.total_seconds()) * 2)
        return figures
    finally:
        if locked:
            cache.delete(key + ":lock")


def shared_door_figures(event, lists, *, at):
    """``door_figures`` of these lists at ``at``, counted at most once per change (and per
    FRESH_FOR) for everyone who asks; the desks' reports and capacities are read at every
    call. When figures are held but out of date, a worker counts (``tasks.count_door``) and
    this refresh shows the held ones: no manager waits for a count but the very first."""
    lists = list(with_sync_state(lists))
    key = _key(event, lists)
    held = cache.get(key)
    if held is not None and at - held[1] < KEPT_FOR and (held[0] == change_marker(lists) or at - held[1] < FRESH_FOR):
        figures = held[2]
    elif held is not None:
        if cache.add(key + ":lock", 1, LOCK_SECONDS):
            from pretix_desk.tasks import count_door

            count_door.apply_async(kwargs={"event": event.pk, "list_ids": [clist.pk for clist in lists]})
        # without a worker, pretix runs the task at once: then its figures are there now
        fresh = cache.get(key)
        figures = (fresh if fresh is not None and fresh[1] > held[1] else held)[2]
    else:
        figures = _count(event, lists, key, locked=cache.add(key + ":lock", 1, LOCK_SECONDS))
    return live_parts(_at_time(figures, at), event, lists, at=at)
