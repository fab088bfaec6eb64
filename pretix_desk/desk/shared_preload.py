"""A list's download rendered once and shared for a moment by every desk and node that asks
for the same, kept gzipped in pretix's cache (Redis in production).

At the doors' opening every desk downloads the whole list in the same minute while the door
scans, so the ETag moves with every scan and a body kept per ETag would be rendered for
nearly every desk (the door simulation saw 94 ETags among 100 first downloads). A download
is a snapshot with its own token and ETag, and the desk's next sync brings what changed
after it; so a body rendered a moment ago for the same list, product filter, fingerprint and
sync window (``sync.WINDOW_STEP``) is served again, with the ETag it was rendered for. Only
gzip-accepting clients (every browser) share.

A full download is shared for SHARED_SECONDS; an incremental sync for SYNC_SHARED_SECONDS,
and never one rendered before the desk's own token: the page updates a record when it
admits its ticket online, and an older body would show the ticket not yet in. Under load an
unshared sync takes seconds to render too, so the shared copy is no older.
"""
import hashlib
import time

from django.core.cache import cache

#: How old a shared full download may be: no older than the desk's own copy between two syncs.
SHARED_SECONDS = 30
#: How old a shared incremental sync may be.
SYNC_SHARED_SECONDS = 5
#: Larger bodies are not kept (about 200,000 attendees): the cache is no file store.
MAX_BYTES = 32 * 1024 * 1024
#: How long a rendering holds its lock: others wait for it at most this long (a worker
#: killed while rendering costs the desks waiting for it no more); a longer rendering
#: (a list of several hundred thousand) lets the next request render too.
LOCK_SECONDS = 15
POLL_SECONDS = 0.1


def shared_download(preload, etag, render):
    """``shared_body`` for the desks that ask for what ``preload`` (``preload.Preload``) asks."""
    key = cache_key(checkin_list=preload.checkin_list, product_id=preload.product_id,
                    fingerprint=preload.fingerprint, since=preload.since)
    full = preload.since is None
    return shared_body(
        key, etag, render, rendered_at=preload.started_at, not_before=preload.issued,
        seconds=SHARED_SECONDS if full else SYNC_SHARED_SECONDS, wait=full,
    )


def cache_key(*, checkin_list, product_id, fingerprint, since=None):
    parts = "{}|{}|{}|{}".format(checkin_list.pk, product_id, fingerprint, since and since.timestamp())
    return "pretix_desk:preload:" + hashlib.sha256(parts.encode()).hexdigest()[:32]


def shared_body(key, etag, render, *, rendered_at, seconds=SHARED_SECONDS, not_before=None, wait=True):
    """``(etag, chunks)``: the gzip body of this download and the ETag it was rendered for,
    kept by an earlier request (rendered at ``not_before`` or later), or ``render()`` (an
    iterator of gzip chunks, for ``etag``, the current one, started at ``rendered_at``)
    teed into the cache for ``seconds`` as it streams. ``wait``: while another request
    renders, wait for it rather than render too. pretix runs gunicorn's sync workers, and
    a waiting request holds one, idle, from the scans: worth it for a full download of
    thousands of records at the doors' opening, not for a sync's few changes."""
    def usable(kept):
        return kept is not None and (not_before is None or kept[2] >= not_before.timestamp())

    kept = cache.get(key)
    if usable(kept):
        return kept[0], iter((kept[1],))
    if cache.add(key + ":lock", 1, LOCK_SECONDS):
        return etag, _rendering(key, (etag, rendered_at.timestamp()), render(), seconds)
    if not wait:
        return etag, render()
    deadline = time.monotonic() + LOCK_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        kept = cache.get(key)
        if usable(kept):
            return kept[0], iter((kept[1],))
        if cache.get(key + ":lock") is None:
            break  # the rendering request gave up (or its lock ran out): render this one
    return etag, render()


def _rendering(key, stamp, chunks, seconds):
    kept, size, complete = [], 0, False
    try:
        for chunk in chunks:
            if size <= MAX_BYTES:
                kept.append(chunk)
                size += len(chunk)
            yield chunk
        complete = True
    finally:
        if complete and size <= MAX_BYTES:
            etag, rendered_at = stamp
            cache.set(key, (etag, b"".join(kept), rendered_at), seconds)
        cache.delete(key + ":lock")
