"""Test-only instrumentation, installed by ``tests/stack/settings.py`` and nowhere else.

Every answer names the process that made it (``X-Stack-Worker``), so the harness knows
when every gunicorn worker is up and a fault test knows which worker to kill.

A request may ask for more with headers; without them the middleware costs one dictionary
look-up per header:

``X-Stack-Count-Queries: 1``
    the number of SQL statements the request ran comes back in ``X-Stack-Queries``, counted
    with ``connection.execute_wrapper`` around the whole middleware chain (the statements
    Django's ``CaptureQueriesContext`` sees, savepoints included). Streamed bodies run some
    queries after the headers are sent; those are not counted.
``X-Stack-Pause-Before: <text>`` / ``X-Stack-Pause-After: <text>``
    before (after) the first statement whose SQL (without comments) contains ``<text>``, the worker writes
    ``<data dir>/stack-pauses/<pid>`` (the statement) and sleeps ``X-Stack-Pause-Seconds``
    (default 30): a fault test waits for the file and kills the worker at exactly that point
    (``Stack.wait_for_pause``).
``X-Stack-Fail-At: <text>``
    the first statement whose SQL contains ``<text>`` fails with a ``DatabaseError`` instead of
    running, as a statement that fails mid-transaction would.
"""
import os
import re
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

PAUSE_DIR = "stack-pauses"
COMMENT = re.compile(r"/\*.*?\*/ ?")


class StackMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        wanted = [h for h in ("HTTP_X_STACK_COUNT_QUERIES", "HTTP_X_STACK_PAUSE_BEFORE", "HTTP_X_STACK_PAUSE_AFTER",
                              "HTTP_X_STACK_FAIL_AT") if h in meta]
        if not wanted:
            response = self.get_response(request)
        else:
            wrapper = StatementHooks(
                pause_before=meta.get("HTTP_X_STACK_PAUSE_BEFORE"), pause_after=meta.get("HTTP_X_STACK_PAUSE_AFTER"),
                pause_seconds=float(meta.get("HTTP_X_STACK_PAUSE_SECONDS", 30)), fail_at=meta.get("HTTP_X_STACK_FAIL_AT"),
            )
            with connection.execute_wrapper(wrapper):
                response = self.get_response(request)
            if "HTTP_X_STACK_COUNT_QUERIES" in meta:
                response["X-Stack-Queries"] = str(wrapper.count)
        response["X-Stack-Worker"] = str(os.getpid())
        return response


class StatementHooks:
    def __init__(self, *, pause_before=None, pause_after=None, pause_seconds=30, fail_at=None):
        self.count = 0
        self.pause_before, self.pause_after, self.fail_at = pause_before, pause_after, fail_at
        self.pause_seconds = pause_seconds

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        if self.fail_at or self.pause_before or self.pause_after:
            # pretix's query tagger writes a comment into each statement: INSERT /* url=… */ INTO
            plain = COMMENT.sub("", sql)
        if self.fail_at and self.fail_at in plain:
            self.fail_at = None
            raise DatabaseError("stack: injected failure of " + plain[:200])
        if self.pause_before and self.pause_before in plain:
            self.pause_before = None
            self._pause(plain)
        result = execute(sql, params, many, context)
        if self.pause_after and self.pause_after in plain:
            self.pause_after = None
            self._pause(plain)
        return result

    def _pause(self, sql):
        directory = Path(settings.DATA_DIR) / PAUSE_DIR
        directory.mkdir(exist_ok=True)
        (directory / str(os.getpid())).write_text(sql)
        time.sleep(self.pause_seconds)
