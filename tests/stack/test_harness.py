"""The harness starts pretix as production runs it and leaves nothing behind."""
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.stack.harness import REDIS_CLAIM_KEY, Stack, StackError

pytestmark = pytest.mark.stack


def get(url, token=None, method="GET", body=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    if token:
        request.add_header("Authorization", "Token " + token)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_with(url, token, body, headers=None):
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(), headers={
        "Authorization": "Token " + token, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def all_pids(stack):
    return {pid for pids in stack.processes().values() for pid in pids}


def alive(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def database_exists(stack):
    with stack._pg() as conn:
        return stack._exists(conn, stack.db_name)


def test_stack_serves_pretix_on_two_nodes_and_stops_cleanly():
    stack = Stack()
    with stack:
        a, b = stack.nodes["a"], stack.nodes["b"]
        pids = all_pids(stack)
        # every service runs: two gunicorn nodes with two workers each, fronts, Celery
        assert set(stack.processes()) == {"gunicorn-a", "gunicorn-b", "front-a", "front-b", "celery"}
        assert len(a.worker_pids()) == len(b.worker_pids()) == 2
        config = stack.config_file.read_text()
        assert "debug=off" in config and "backend=postgresql" in config and stack.redis_url in config

        # the database is the stack's own, migrated, and reachable from ORM code
        ids = stack.call("tests.stack.seed:seed", attendees=3, order_events=False)
        assert stack.sql("SELECT count(*) FROM pretixbase_order")[0][0] == 3
        secret = stack.call("tests.stack.seed:secrets_of", ids["attendees"]["event"])[0]

        # a scan on node a is seen by node b: no state in a process
        desk = "/api/v1/organizers/{}/events/{}/checkinlists/{}/desk/".format(
            ids["organizer"], ids["attendees"]["event"], ids["attendees"]["main"])
        status, headers, _ = get(a.url + desk + "scan/", ids["token"], "POST", {"access_code": secret})
        assert status == 201 and int(headers["X-Stack-Worker"]) in a.worker_pids()
        status, headers, body = get(b.url + desk + "lookup/{}/".format(secret), ids["token"])
        assert status == 200 and json.loads(body)["attendee"]["checked_in"]
        assert int(headers["X-Stack-Worker"]) in b.worker_pids()
        assert stack.call("tests.stack.probes:successful_checkins", ids["attendees"]["main"]) == 1

        # queries are counted for requests that ask, and only for them
        request = urllib.request.Request(b.url + desk + "lookup/{}/".format(secret),
                                         headers={"Authorization": "Token " + ids["token"], "X-Stack-Count-Queries": "1"})
        with urllib.request.urlopen(request) as response:
            assert int(response.headers["X-Stack-Queries"]) > 0
        assert "X-Stack-Queries" not in headers

        # production static files: hashed names from the manifest, served by the front
        manifest = json.loads((stack.static_root / "staticfiles.json").read_text())["paths"]
        hashed = manifest["pretix_desk/desk/main.js"]
        assert hashed != "pretix_desk/desk/main.js"
        status, headers, body = get(a.site_url + "/static/" + hashed)
        assert status == 200 and "max-age=31536000" in headers["Cache-Control"] and b"import" in body
        # the control panel renders with debug off (offline compression) and its CSS is there
        status, _, body = get(b.site_url + "/control/login")
        assert status == 200
        css = re.findall(r'href="(/static/[^"]+\.css)"', body.decode())
        assert css and all(get(b.site_url + url)[0] == 200 for url in css)

        # Celery takes tasks from the stack's broker and answers through its result backend
        assert stack.call("tests.stack.probes:celery_roundtrip") == [1, 2]

        # the fault hook: a scan paused right after its check-in's INSERT, its worker killed
        # there: the client gets no answer, the check-in died with the transaction, gunicorn
        # replaces the worker and the node keeps answering
        second = stack.call("tests.stack.seed:secrets_of", ids["attendees"]["event"])[1]
        outcome = {}

        def scan():
            try:
                outcome["answer"] = get_with(a.url + desk + "scan/", ids["token"], {"access_code": second},
                                             {"X-Stack-Pause-After": 'INSERT INTO "pretixbase_checkin"'})
            except OSError as e:
                outcome["error"] = e

        client = threading.Thread(target=scan)
        client.start()
        victim, statement = stack.wait_for_pause()
        assert victim in a.worker_pids() and "pretixbase_checkin" in statement
        os.kill(victim, signal.SIGKILL)
        client.join(60)
        assert "error" in outcome, outcome
        assert stack.call("tests.stack.probes:successful_checkins", ids["attendees"]["main"]) == 1
        deadline = time.monotonic() + 60
        while (victim in a.worker_pids() or len(a.worker_pids()) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert victim not in a.worker_pids() and len(a.worker_pids()) == 2
        assert get_with(a.url + desk + "scan/", ids["token"], {"access_code": second})[0] == 201
        pids |= all_pids(stack)
        directory, redis_db = stack.dir, stack.redis_db

    assert not [pid for pid in pids if alive(pid)]
    assert not database_exists(stack)
    assert stack._redis(redis_db).get(REDIS_CLAIM_KEY) is None and not directory.exists()
    assert stack.teardown_problems == []


class BrokenStack(Stack):
    def _wait_ready(self):
        self.spawned = all_pids(self)
        raise StackError("simulated failure while waiting")


def test_a_failed_start_leaves_nothing_behind():
    stack = BrokenStack(static=False)
    with pytest.raises(StackError, match="simulated"):
        stack.start()
    assert stack.spawned and not [pid for pid in stack.spawned if alive(pid)]
    assert not database_exists(stack)
    assert not Path(stack.dir).exists()


def test_a_gunicorn_that_cannot_start_is_reported_with_its_log():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack = Stack(nodes=("a",), celery=False, static=False, timeout=60)
        stack.nodes["a"].port = busy.getsockname()[1]
        with pytest.raises(StackError, match="gunicorn-a exited"):
            stack.start()
    assert not database_exists(stack)
    assert not Path(stack.dir).exists()
