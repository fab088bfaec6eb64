"""The Celery worker stopped or killed while webhooks are due, on the production stack
(``harness.py``): the door keeps working without it, and once a worker runs again every
webhook that was due is delivered, with what pretix promises when a worker dies mid-delivery.

pretix sends webhooks from log entries: a log entry of an action a webhook listens to queues
``notify_webhooks`` when its transaction commits, that task queues one ``send_webhook`` per
webhook, and ``send_webhook`` POSTs the payload and records a ``WebHookCall``. Both tasks are
``acks_late``: Redis keeps a message a worker has taken (``unacked``) until the task has run,
and gives it to a worker again only when it is older than the broker's visibility timeout
(kombu's default, one hour: pretix sets none), or when the worker that took it hands it back
in its warm shutdown. What the tests assert, per way of stopping the worker, is in
docs/reliability.rst.

The webhook's target is a small HTTP server in this process (``Receiver``) that can hold a
delivery open, so that the worker is stopped with a delivery in flight and another message
reserved (prefetched) behind it."""
import base64
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.stack

ORGANIZER = "webhooks"
TICKETS = 16
SEND = "pretix.api.webhooks.send_webhook"
NOTIFY = "pretix.api.webhooks.notify_webhooks"
# what the webhook listens to; pretix has no webhook for a refused check-in
# ("pretix.event.checkin.denied" is no webhook action type: its API refuses it)
ACTIONS = ("pretix.event.checkin", "pretix.event.order.paid", "pretix.event.order.placed")


def celery_facts():
    """For Stack.call: what pretix configures that decides whether a delivery survives a
    worker's death."""
    from pretix.api.webhooks import notify_webhooks, send_webhook
    from pretix.celery_app import app

    with app.connection_for_write() as connection:
        visibility_timeout = connection.default_channel.visibility_timeout
    return {
        "acks_late": [send_webhook.acks_late, notify_webhooks.acks_late],
        "reject_on_worker_lost": bool(send_webhook.reject_on_worker_lost or app.conf.task_reject_on_worker_lost),
        "visibility_timeout": visibility_timeout,
    }


def seed_world(organizer, tickets):
    from tests.stack import seed

    return {"ids": seed.seed(attendees=tickets, organizer=organizer, order_events=False), "celery": celery_facts()}


class Receiver:
    """A webhook target on loopback: records every POST's payload; ``hold_next()`` keeps
    the next request open (payload recorded, no answer) until ``release()``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.payloads = []
        self.arrived = threading.Event()
        self.released = threading.Event()
        self._hold = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.payloads.append(json.loads(body))
                    hold, receiver._hold = receiver._hold, False
                if hold:
                    receiver.arrived.set()
                    receiver.released.wait(120)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (killed mid-delivery)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:{}/hook".format(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold_next(self):
        self.arrived.clear()
        self.released.clear()
        with self.lock:
            self._hold = True

    def wait_held(self, timeout=60):
        assert self.arrived.wait(timeout), "no delivery arrived to hold"
        return self.payloads[-1]

    def release(self):
        self.released.set()

    def received(self):
        """{(notification id, action, order code, position, list): times received}"""
        with self.lock:
            out = {}
            for p in self.payloads:
                key = (p["notification_id"], p["action"], p.get("code"), p.get("orderposition_id"),
                       p.get("checkin_list"))
                out[key] = out.get(key, 0) + 1
            return out

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def call(url, token, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if body is not None else "GET"), headers={
        "Authorization": "Token " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")[:300]


def eventually(what, fn, timeout=60, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not within {} s: {}".format(timeout, what))
        time.sleep(interval)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def world(stack, receiver):
    seeded = stack.call("tests.stack.test_webhooks:seed_world", ORGANIZER, TICKETS)
    w = dict(seeded["ids"], celery=seeded["celery"])
    w["event"] = w["attendees"]["event"]
    w["api"] = "/api/v1/organizers/{}/".format(ORGANIZER)
    w["event_api"] = "{}events/{}/".format(w["api"], w["event"])
    w["event_id"] = stack.sql("SELECT e.id FROM pretixbase_event e JOIN pretixbase_organizer o "
                              "ON e.organizer_id = o.id WHERE o.slug = %s AND e.slug = %s",
                              (ORGANIZER, w["event"]))[0][0]
    url = stack.nodes["a"].url
    status, hook = call(url + w["api"] + "webhooks/", w["token"], {
        "target_url": receiver.url, "enabled": True, "all_events": False, "limit_events": [w["event"]],
        "action_types": list(ACTIONS)})
    assert status == 201, hook
    status, rule = call(url + w["event_api"] + "auto_checkin_rules/", w["token"],
                        {"mode": "paid", "list": w["attendees"]["main"]})
    assert status == 201, rule
    # tickets: [position id, secret, add-on position id], handed out one by one
    rows = stack.sql("SELECT p.id, p.secret, a.id FROM pretixbase_orderposition p "
                     "JOIN pretixbase_orderposition a ON a.addon_to_id = p.id "
                     "WHERE p.order_id IN (SELECT id FROM pretixbase_order WHERE event_id = %s) ORDER BY p.id",
                     (w["event_id"],))
    tickets = iter(rows)
    w["take"] = lambda: next(tickets)
    return w


@pytest.fixture
def worker_back(stack):
    """Whatever happens in the test, a Celery worker runs afterwards."""
    yield
    if not stack.celery_pids():
        stack.start_celery()


def desk(stack, world, node, endpoint, list_key="main"):
    return "{}{}checkinlists/{}/desk/{}/".format(stack.nodes[node].url, world["event_api"],
                                                 world["attendees"][list_key], endpoint)


def scan(stack, world, node, ticket):
    status, body = call(desk(stack, world, node, "scan"), world["token"],
                        {"access_code": ticket[1], "nonce": uuid.uuid4().hex})
    assert status == 201 and body["status"] == "ok" and body["attendee"]["position_id"] == ticket[0], body
    return ticket[0]


def last_log_id(stack):
    return stack.sql("SELECT coalesce(max(id), 0) FROM pretixbase_logentry")[0][0]


def log_entries(stack, world, after):
    """The event's log entries after id ``after``: [(id, action, order code, data)]."""
    rows = stack.sql(
        "SELECT l.id, l.action_type, o.code, l.data FROM pretixbase_logentry l "
        "LEFT JOIN pretixbase_order o ON o.id = l.object_id AND l.content_type_id = "
        "(SELECT id FROM django_content_type WHERE app_label = 'pretixbase' AND model = 'order') "
        "WHERE l.event_id = %s AND l.id > %s ORDER BY l.id", (world["event_id"], after))
    return [(i, action, code, json.loads(data or "{}")) for i, action, code, data in rows]


def due(stack, world, after):
    """What the receiver must get for the log entries after ``after``: one POST per entry
    of an action the webhook listens to, keyed as ``Receiver.received()``."""
    return {(i, action, code, data.get("position"), data.get("list"))
            for i, action, code, data in log_entries(stack, world, after) if action in ACTIONS}


def entry_of(stack, world, after, action, position):
    """The id of the one log entry of ``action`` for ``position`` after ``after``."""
    ids = [i for i, a, _, data in log_entries(stack, world, after) if a == action and data.get("position") == position]
    assert len(ids) == 1, (action, position, ids)
    return ids[0]


def broker(stack):
    """pretix's webhook tasks in the broker, each (task, args): {"queued": [...], "unacked":
    [...]} (unacked: taken by a worker, not acknowledged yet). Other tasks (mail of other
    tests' payments) are left out."""
    r = stack.redis_client()

    def tasks(messages):
        out = [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]
        return [t for t in out if t[0] in (SEND, NOTIFY)]

    queued = tasks(json.loads(raw) for key in r.scan_iter() if r.type(key) == b"list" for raw in r.lrange(key, 0, -1))
    # kombu keeps [message, exchange, routing key] per delivery tag
    return {"queued": queued, "unacked": tasks(json.loads(raw)[0] for raw in r.hvals("unacked"))}


def settled(stack, entries):
    """Whether the webhook tasks of ``entries`` (log entry ids) are over: pretix recorded a
    call of each (``send_webhook`` writes it before its message is acknowledged), and the
    broker holds no webhook task, every message acknowledged. A message a worker has just
    popped is in neither the queue nor ``unacked`` for a moment, but none of these can be
    then: each was taken before the calls it leads to were recorded."""
    return (all(webhook_calls(stack, entry) for entry in entries)
            and broker(stack) == {"queued": [], "unacked": []})


def holds(tasks, name, entry):
    """Whether one of ``tasks`` is ``name`` for log entry ``entry``."""
    return any(t == name and (args[0] == entry or (isinstance(args[0], list) and entry in args[0]))
               for t, args in tasks)


def webhook_calls(stack, entry):
    """pretix's record of deliveries of a log entry: [(return code, success)]."""
    return [tuple(r) for r in stack.sql(
        "SELECT return_code, success FROM pretixapi_webhookcall WHERE (payload::json ->> 'notification_id')::bigint = %s",
        (entry,))]


def delivery_in_flight_and_one_reserved(stack, world, receiver):
    """A scan whose webhook delivery the receiver holds open, and a second scan whose
    ``notify_webhooks`` the worker has reserved behind it. Returns both log entry ids."""
    after = last_log_id(stack)
    receiver.hold_next()
    first = scan(stack, world, "a", world["take"]())
    held = receiver.wait_held()
    second = scan(stack, world, "b", world["take"]())
    in_flight = entry_of(stack, world, after, "pretix.event.checkin", first)
    reserved = entry_of(stack, world, after, "pretix.event.checkin", second)
    assert held["notification_id"] == in_flight, held
    eventually("the worker reserves the second scan's notify_webhooks",
               lambda: holds(broker(stack)["unacked"], NOTIFY, reserved))
    unacked = broker(stack)["unacked"]
    assert holds(unacked, SEND, in_flight), unacked
    return in_flight, reserved


def door(stack, world):
    """What the door does while no worker runs, every answer asserted: two scans (one per
    node), a refused scan, a redemption, an order placed and paid through pretix's API
    (the rule checks its ticket in on Main). Returns what it did."""
    token = world["token"]
    one, two = world["take"](), world["take"]()
    done = {"scanned": [scan(stack, world, "a", one), scan(stack, world, "b", two)], "refused": one[0],
            "redeemed": one[2]}
    status, body = call(desk(stack, world, "a", "scan"), token, {"access_code": one[1], "nonce": uuid.uuid4().hex})
    assert status == 400 and body["reason"] == "already_redeemed", body
    status, body = call(desk(stack, world, "b", "redeem", "merch"), token,
                        {"access_code": one[1], "line_item_id": one[2], "nonce": uuid.uuid4().hex})
    assert status == 201 and body["status"] == "redeemed", body
    status, order = call(stack.nodes["a"].url + world["event_api"] + "orders/", token, {
        "email": "door@example.org", "locale": "en", "sales_channel": "web", "send_email": False,
        "positions": [{"item": world["attendees"]["ticket"], "price": "10.00"}]})
    assert status == 201 and order["status"] == "n", order
    status, paid = call("{}{}orders/{}/mark_paid/".format(stack.nodes["b"].url, world["event_api"], order["code"]),
                        token, {"send_email": False})
    assert status == 200 and paid["status"] == "p", paid
    done["order"], done["order_position"] = order["code"], order["positions"][0]["id"]
    return done


def assert_door_recorded(stack, world, after, done):
    """The check-ins, the refusal, the redemption and their log entries are in the database."""
    main = world["attendees"]["main"]
    positions = done["scanned"] + [done["order_position"]]
    rows = stack.sql("SELECT position_id, successful, auto_checked_in FROM pretixbase_checkin "
                     "WHERE list_id = %s AND position_id = ANY(%s) ORDER BY id", (main, positions))
    assert sorted(rows) == sorted([(done["scanned"][0], True, False), (done["scanned"][1], True, False),
                                   (done["refused"], False, False), (done["order_position"], True, True)]), rows
    assert stack.sql("SELECT count(*) FROM pretix_desk_redemption WHERE position_id = %s AND annulled IS NULL",
                     (done["redeemed"],)) == [(1,)]
    subject = {"pretix.event.order.placed": "code", "pretix.event.order.paid": "code", "pretix_desk.redeemed": "line_item"}
    logged = sorted((a, code if subject.get(a) == "code" else data.get(subject.get(a, "position")))
                    for _, a, code, data in log_entries(stack, world, after)
                    if a in ACTIONS + ("pretix.event.checkin.denied", "pretix_desk.redeemed"))
    assert logged == sorted([
        ("pretix.event.checkin", done["scanned"][0]), ("pretix.event.checkin", done["scanned"][1]),
        ("pretix.event.checkin.denied", done["refused"]), ("pretix_desk.redeemed", done["redeemed"]),
        ("pretix.event.order.placed", done["order"]), ("pretix.event.order.paid", done["order"]),
        ("pretix.event.checkin", done["order_position"]),
    ]), logged


def delivered(receiver, expected):
    """Whether every expected delivery arrived."""
    received = receiver.received()
    return all(key in received for key in expected)


def test_pretix_sends_webhooks_acks_late_and_acks_a_lost_task(world):
    """The premises of the tests below (if pretix changes them, so do its guarantees)."""
    assert world["celery"] == {"acks_late": [True, True], "reject_on_worker_lost": False,
                               "visibility_timeout": 3600}, world["celery"]


def test_warm_shutdown_finishes_the_delivery_and_hands_back_what_it_reserved(stack, world, receiver, worker_back):
    """SIGTERM to the worker (warm shutdown) while a delivery is in flight and another
    message reserved; the door works without a worker; started again, the worker delivers
    every webhook that was due exactly once."""
    start = last_log_id(stack)
    in_flight, reserved = delivery_in_flight_and_one_reserved(stack, world, receiver)
    timer = threading.Timer(0.5, receiver.release)
    timer.start()
    stack.stop_celery(signal.SIGTERM)  # returns once the worker is gone: after the release
    timer.join()
    # the delivery in flight was finished and recorded; the reserved message went back
    assert webhook_calls(stack, in_flight) == [(200, True)]
    parked = broker(stack)
    assert not parked["unacked"] and holds(parked["queued"], NOTIFY, reserved), parked
    sent = len(receiver.payloads)

    after = last_log_id(stack)
    done = door(stack, world)
    assert_door_recorded(stack, world, after, done)
    expected = due(stack, world, start)
    assert len(expected) == 2 + 5
    assert len(receiver.payloads) == sent  # nothing is sent without a worker

    stack.start_celery()
    eventually("every due webhook delivered", lambda: delivered(receiver, expected))
    eventually("every delivery recorded and acknowledged", lambda: settled(stack, [key[0] for key in expected]))
    received = receiver.received()
    assert {k: n for k, n in received.items() if k[0] > start} == {k: 1 for k in expected}, received
    assert all(webhook_calls(stack, key[0]) == [(200, True)] for key in expected)


def test_worker_killed_mid_delivery_redelivers_after_the_visibility_timeout(stack, world, receiver, worker_back):
    """SIGKILL to the whole worker while a delivery is in flight and another message is
    reserved. The door works without a worker; started again, the worker delivers what was
    queued meanwhile at once, but the two messages the dead worker had taken stay in Redis's
    ``unacked`` until they are older than the visibility timeout (an hour: simulated by
    ageing them). Then both are delivered: the one in flight a second time (at least once,
    not exactly once)."""
    start = last_log_id(stack)
    in_flight, reserved = delivery_in_flight_and_one_reserved(stack, world, receiver)
    stack.stop_celery(signal.SIGKILL)
    receiver.release()
    parked = broker(stack)["unacked"]
    assert holds(parked, SEND, in_flight) and holds(parked, NOTIFY, reserved), parked
    assert webhook_calls(stack, in_flight) == []  # its transaction died with the worker

    after = last_log_id(stack)
    done = door(stack, world)
    assert_door_recorded(stack, world, after, done)
    expected = due(stack, world, start)
    assert len(expected) == 2 + 5
    meanwhile = {k for k in expected if k[0] > after}

    stack.start_celery()
    eventually("what was queued meanwhile delivered", lambda: delivered(receiver, meanwhile))
    eventually("the broker has only the dead worker's messages",
               lambda: not broker(stack)["queued"] and len(broker(stack)["unacked"]) == 2)
    received = receiver.received()
    # the one in flight reached the receiver before the kill; the reserved one waits
    assert {k: n for k, n in received.items() if k[0] > start} == dict.fromkeys(
        meanwhile | {k for k in expected if k[0] == in_flight}, 1), received
    parked = broker(stack)["unacked"]
    assert holds(parked, SEND, in_flight) and holds(parked, NOTIFY, reserved), parked

    # an hour later (kombu restores unacked messages older than the visibility timeout when
    # a worker starts, and every 100 s)
    stack.stop_celery(signal.SIGTERM)
    r = stack.redis_client()
    for tag, score in r.zrange("unacked_index", 0, -1, withscores=True):
        r.zadd("unacked_index", {tag: score - world["celery"]["visibility_timeout"] - 1})
    stack.start_celery()
    eventually("the dead worker's messages delivered, recorded and acknowledged",
               lambda: delivered(receiver, expected) and settled(stack, [key[0] for key in expected]))
    received = receiver.received()
    assert {k: n for k, n in received.items() if k[0] > start} == {
        k: 2 if k[0] == in_flight else 1 for k in expected}, received
    assert all(webhook_calls(stack, key[0]) == [(200, True)] for key in expected)


@pytest.mark.parametrize("how", ["oom-kill", "systemctl-stop"])
def test_delivery_in_flight_is_lost_when_its_pool_process_dies(stack, world, receiver, worker_back, how):
    """The process that runs the delivery dies, the worker's main process does not:
    ``oom-kill``, SIGKILL to the pool process only (the kernel's OOM killer picks the process
    that grew); ``systemctl-stop``, SIGTERM to every process of the worker at once, as systemd
    stops pretix's documented ``pretix-worker.service`` (no ``KillMode``), e.g. to upgrade:
    Celery's pool process does not handle SIGTERM and dies mid-task. Either way Celery
    acknowledges the delivery as failed (``WorkerLostError``; pretix does not set
    ``reject_on_worker_lost``): pretix never sends it again and records no call. The message
    reserved behind it is delivered (by the same worker, or after the restart)."""
    start = last_log_id(stack)
    in_flight, reserved = delivery_in_flight_and_one_reserved(stack, world, receiver)
    main, pool = stack.celery_pids()
    log = stack.celery_service.log.stat().st_size
    if how == "oom-kill":
        os.kill(pool, signal.SIGKILL)
    else:
        stack.stop_celery(signal.SIGTERM, group=True)
        # the warm shutdown handed back what it had reserved, and acknowledged the other
        assert broker(stack) == {"queued": [(NOTIFY, [reserved])], "unacked": []}
        stack.start_celery()
    receiver.release()
    expected = due(stack, world, start)
    eventually("the reserved one delivered", lambda: delivered(receiver, expected))
    # recorded, and the one in flight acknowledged as failed
    eventually("the reserved one recorded, both acknowledged", lambda: settled(stack, [reserved]))
    if how == "oom-kill":
        assert stack.celery_pids()[0] == main and pool not in stack.celery_pids()
    # the POST in flight reached the receiver once (it was holding it); nothing more comes
    received = receiver.received()
    assert {k: n for k, n in received.items() if k[0] > start} == {k: 1 for k in expected}, received
    assert webhook_calls(stack, in_flight) == []
    assert webhook_calls(stack, reserved) == [(200, True)]
    assert stack.sql("SELECT count(*) FROM pretixapi_webhookcallretry") == [(0,)]
    with open(stack.celery_service.log, "rb") as f:
        f.seek(log)
        assert b"WorkerLostError('Worker exited prematurely: signal" in f.read()
