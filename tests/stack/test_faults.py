"""Faults mid-write on the production stack (``harness.py``): a gunicorn worker SIGKILLed
at a chosen statement of a redemption and of a payment with auto check-in, and statements
made to fail mid-transaction. Afterwards nothing is half-written, and a retry with the same
nonce succeeds exactly once."""
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.stack

ORGANIZER = "faults"


def request(url, token, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": "Token " + token, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read()[:300]


@pytest.fixture(scope="module")
def world(stack):
    ids = stack.call("tests.stack.seed:seed", attendees=8, organizer=ORGANIZER, order_events=False)
    ids["tickets"] = stack.call("tests.stack.probes:tickets_with_addons", "attendees", ORGANIZER)
    ids["paid"] = stack.call("tests.stack.probes:seed_pending_with_paid_rule", ORGANIZER, 3)
    ids["base"] = "/api/v1/organizers/{}/events/".format(ORGANIZER)
    return ids


def desk(stack, world, endpoint, list_key="main"):
    return "{}{}attendees/checkinlists/{}/desk/{}/".format(
        stack.nodes["a"].url, world["base"], world["attendees"][list_key], endpoint)


def killed_at(stack, url, token, body, statement):
    """Send the request with a pause after ``statement``, SIGKILL the worker there; the
    client's outcome (an OSError: no answer) and the worker's statement."""
    outcome = {}

    def send():
        try:
            outcome["answer"] = request(url, token, body, {"X-Stack-Pause-After": statement})
        except OSError as e:
            outcome["error"] = e

    client = threading.Thread(target=send)
    client.start()
    victim, sql = stack.wait_for_pause()
    os.kill(victim, signal.SIGKILL)
    client.join(60)
    node = stack.nodes["a"]
    deadline = time.monotonic() + 60
    while (victim in node.worker_pids() or len(node.worker_pids()) < node.workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim not in node.worker_pids() and len(node.worker_pids()) == node.workers
    return outcome, sql


def checkins(stack, list_id):
    return stack.call("tests.stack.probes:checkins_per_position", list_id)


def test_worker_killed_mid_redemption_leaves_nothing_and_the_retry_redeems_once(stack, world):
    token = world["token"]
    secret, addon = world["tickets"][0]
    body = {"access_code": secret, "line_item_id": addon, "nonce": "kill-" + uuid.uuid4().hex}
    # killed after the redemption's log entry was written, before the commit
    outcome, sql = killed_at(stack, desk(stack, world, "redeem", "merch"), token, body,
                             'INSERT INTO "pretixbase_logentry"')
    assert "error" in outcome and "pretixbase_logentry" in sql, outcome
    assert str(addon) not in stack.call("tests.stack.probes:redemptions", ORGANIZER)
    first = request(desk(stack, world, "redeem", "merch"), token, body)
    again = request(desk(stack, world, "redeem", "merch"), token, body)
    assert first[0] == again[0] == 201 and first[1]["redemption"] == again[1]["redemption"], (first, again)
    assert stack.call("tests.stack.probes:redemptions", ORGANIZER)[str(addon)] == [1, 1]


def test_worker_killed_mid_scan_then_the_retry_checks_in_once(stack, world):
    token, main = world["token"], world["attendees"]["main"]
    secret, _ = world["tickets"][1]
    body = {"access_code": secret, "nonce": "kill-" + uuid.uuid4().hex}
    outcome, sql = killed_at(stack, desk(stack, world, "scan"), token, body, 'INSERT INTO "pretixbase_logentry"')
    assert "error" in outcome, outcome
    before = checkins(stack, main)
    assert sum(before.values()) == 0, before
    assert request(desk(stack, world, "scan"), token, body)[0] == 201
    assert request(desk(stack, world, "scan"), token, body)[0] == 201  # the nonce's first answer
    assert list(checkins(stack, main).values()) == [1]


def test_worker_killed_mid_payment_with_auto_checkin(stack, world):
    """mark_paid paused right after the auto check-in's INSERT and killed: the payment and
    its check-in are both there or both not; paying again ends with one check-in."""
    token, paid = world["token"], world["paid"]
    code, _secret = paid["orders"][0]
    url = "{}{}{}/orders/{}/mark_paid/".format(stack.nodes["a"].url, world["base"], paid["event"], code)
    outcome, sql = killed_at(stack, url, token, {}, 'INSERT INTO "pretixbase_checkin"')
    assert "error" in outcome, outcome
    status, checked_in, paid_logs = stack.call("tests.stack.probes:order_state", paid["event"], ORGANIZER, code)
    assert (status, checked_in) in (("n", 0), ("p", 1)), (status, checked_in, paid_logs)
    print("payment killed after its check-in's INSERT: order {!r} afterwards".format(status))
    if status == "n":
        assert request(url, token, {})[0] == 200
    assert stack.call("tests.stack.probes:order_state", paid["event"], ORGANIZER, code)[:2] == ["p", 1]


@pytest.mark.parametrize("endpoint,statement", [
    ("scan", 'INSERT INTO "pretixbase_checkin"'),
    ("scan", 'INSERT INTO "pretixbase_logentry"'),
    ("redeem", 'INSERT INTO "pretix_desk_redemption"'),
    ("redeem", 'INSERT INTO "pretixbase_logentry"'),
])
def test_a_statement_failing_mid_transaction_writes_nothing(stack, world, endpoint, statement):
    token = world["token"]
    index = 2 + ["scan", "redeem"].index(endpoint) * 2 + (statement.endswith('logentry"'))
    secret, addon = world["tickets"][index]
    list_key = "main" if endpoint == "scan" else "merch"
    body = {"access_code": secret, "nonce": "fail-" + uuid.uuid4().hex}
    if endpoint == "redeem":
        body["line_item_id"] = addon
    url = desk(stack, world, endpoint, list_key)
    status, answer = request(url, token, body, {"X-Stack-Fail-At": statement})
    # an error the client can see (pretix answers a database error with 500), and nothing written
    assert status == 500, (status, answer)
    if endpoint == "scan":
        assert str(stack.sql("SELECT id FROM pretixbase_orderposition WHERE secret = %s", (secret,))[0][0]) \
            not in checkins(stack, world["attendees"]["main"])
    else:
        assert str(addon) not in stack.call("tests.stack.probes:redemptions", ORGANIZER)
    first, again = request(url, token, body), request(url, token, body)
    assert first[0] == again[0] == 201, (first, again)
    if endpoint == "scan":
        position = str(stack.sql("SELECT id FROM pretixbase_orderposition WHERE secret = %s", (secret,))[0][0])
        assert checkins(stack, world["attendees"]["main"])[position] == 1
    else:
        assert stack.call("tests.stack.probes:redemptions", ORGANIZER)[str(addon)] == [1, 1]
