"""The preload compressed by the application, for a client that accepts it.

pretix documents nginx in front of it compressing static files only, and neither pretix
nor gunicorn compresses JSON: without this, a 20,000-attendee preload crosses a venue's
Wi-Fi as 11 MB instead of 3. The body stays a stream (compressed as it is produced), and
a proxy that compresses itself leaves a response alone that already says
``Content-Encoding`` (nginx's gzip does; so does Django's GZipMiddleware).
"""
import zlib

LEVEL = 6


def accepts_gzip(accept_encoding):
    """Whether an ``Accept-Encoding`` value admits gzip (``q=0`` refuses it)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def gzip_stream(chunks, level=LEVEL):
    """The gzip stream of ``chunks`` (text or bytes), yielding as the compressor does."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk.encode() if isinstance(chunk, str) else chunk)
        if out:
            yield out
    yield compressor.flush()
