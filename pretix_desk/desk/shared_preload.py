"""A list's full download rendered once per change and shared by every desk and node.

At the doors' opening every desk of a list downloads the same list in the same minute.
Desks of one list get the same document for the same ETag (the ETag changes whenever
anything a record shows does, which is what makes a 304 safe; the same holds for a body
rendered for that ETag, sync token and seals included). So the first full download of an
ETag is kept, compressed, in pretix's cache (Redis in production, shared by the nodes), and
the others are answered from it; while one request renders, the others of that ETag wait
for it rather than render too. Only gzip-accepting clients (every browser) share: the body
is kept as gzip. Incremental syncs differ per desk and are rendered each time.
"""
import hashlib
import time

from django.core.cache import cache

#: A download kept longer is of an old ETag anyway.
KEPT_SECONDS = 600
#: Larger bodies are not kept (about 200,000 attendees): the cache is no file store.
MAX_BYTES = 32 * 1024 * 1024
#: How long a rendering holds its lock: others wait for it at most this long (a worker
#: killed while rendering costs the desks waiting for it no more); a longer rendering
#: (a list of several hundred thousand) lets the next request render too.
LOCK_SECONDS = 15
POLL_SECONDS = 0.1


def cache_key(*, checkin_list, product_id, etag):
    digest = hashlib.sha256("{}|{}|{}".format(checkin_list.pk, product_id, etag).encode()).hexdigest()[:32]
    return "pretix_desk:preload:" + digest


def shared_body(key, render):
    """The gzip body of this download, as bytes chunks: kept by an earlier request, or
    ``render()`` (an iterator of gzip chunks) teed into the cache as it streams."""
    body = cache.get(key)
    if body is not None:
        return iter((body,))
    if cache.add(key + ":lock", 1, LOCK_SECONDS):
        return _rendering(key, render())
    deadline = time.monotonic() + LOCK_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        body = cache.get(key)
        if body is not None:
            return iter((body,))
        if cache.get(key + ":lock") is None:
            break  # the rendering request gave up (or its lock ran out): render this one
    return render()


def _rendering(key, chunks):
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
            cache.set(key, b"".join(kept), KEPT_SECONDS)
        cache.delete(key + ":lock")
