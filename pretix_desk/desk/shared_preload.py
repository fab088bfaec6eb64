"""A list's full download rendered once and shared by every desk and node for a moment.

At the doors' opening every desk of a list downloads the whole list in the same minute, and
the door is already scanning: the ETag moves with every scan, so a body kept per ETag would
be rendered anew for nearly every desk (the door simulation saw 94 ETags among 100 first
downloads). A full download is a snapshot with its own sync token and ETag, and the desk's
next sync (every 30 seconds, from that token, with the two-minute overlap) brings whatever
changed after it, as it does between any two syncs. So a body rendered within the last
SHARED_SECONDS for the same list, product filter and fingerprint (the catalog, language,
sealing and whether the caller gets the search index) is served again, with the ETag it was
rendered for; it is kept compressed in pretix's cache (Redis in production, shared by the
nodes), and while one request renders, the others wait for it rather than render too. Only
gzip-accepting clients (every browser) share. Incremental syncs are each desk's own.
"""
import hashlib
import time

from django.core.cache import cache

#: How old a shared download may be: no older than the desk's own copy between two syncs.
SHARED_SECONDS = 30
#: Larger bodies are not kept (about 200,000 attendees): the cache is no file store.
MAX_BYTES = 32 * 1024 * 1024
#: How long a rendering holds its lock: others wait for it at most this long (a worker
#: killed while rendering costs the desks waiting for it no more); a longer rendering
#: (a list of several hundred thousand) lets the next request render too.
LOCK_SECONDS = 15
POLL_SECONDS = 0.1


def cache_key(*, checkin_list, product_id, fingerprint):
    digest = hashlib.sha256("{}|{}|{}".format(checkin_list.pk, product_id, fingerprint).encode()).hexdigest()[:32]
    return "pretix_desk:preload:" + digest


def shared_body(key, etag, render):
    """``(etag, chunks)``: the gzip body of this download and the ETag it was rendered for,
    kept by an earlier request within SHARED_SECONDS, or ``render()`` (an iterator of gzip
    chunks, for ``etag``, the current one) teed into the cache as it streams."""
    kept = cache.get(key)
    if kept is not None:
        return kept[0], iter((kept[1],))
    if cache.add(key + ":lock", 1, LOCK_SECONDS):
        return etag, _rendering(key, etag, render())
    deadline = time.monotonic() + LOCK_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        kept = cache.get(key)
        if kept is not None:
            return kept[0], iter((kept[1],))
        if cache.get(key + ":lock") is None:
            break  # the rendering request gave up (or its lock ran out): render this one
    return etag, render()


def _rendering(key, etag, chunks):
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
            cache.set(key, (etag, b"".join(kept)), SHARED_SECONDS)
        cache.delete(key + ":lock")
