"""Races over HTTP on the production stack (``harness.py``): concurrent clients on both
gunicorn nodes, counted afterwards in the database.

Every race starts its clients behind a barrier so that their requests reach the workers
together; each is repeated (``ROUNDS_*``) because one lucky ordering proves nothing. The
numbers of runs and requests are in docs/reliability.rst."""
import json
import threading
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.stack

ORGANIZER = "races"
CLIENTS = 8
ROUNDS_ONE_TICKET = 20
ROUNDS_DISTINCT = 10
ROUNDS_REDEEM = 10
ROUNDS_BATCH = 3
BATCH = 12
PAID_RACES = 12
PAUSED_PAYMENTS = 2


def request(url, token, body=None, method=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if body is not None else "GET"), headers={
        "Authorization": "Token " + token, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")[:300]


def together(calls):
    """Run the callables at once (one thread each, released by a barrier); their results."""
    barrier = threading.Barrier(len(calls))

    def run(fn):
        barrier.wait(30)
        return fn()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture(scope="module")
def world(stack):
    ids = stack.call("tests.stack.seed:seed", attendees=ROUNDS_ONE_TICKET + CLIENTS * ROUNDS_DISTINCT
                     + ROUNDS_REDEEM + ROUNDS_BATCH * BATCH, organizer=ORGANIZER, order_events=False)
    ids["tickets"] = stack.call("tests.stack.probes:tickets_with_addons", "attendees", ORGANIZER)
    ids["paid"] = stack.call("tests.stack.probes:seed_pending_with_paid_rule", ORGANIZER, PAID_RACES + PAUSED_PAYMENTS)
    ids["base"] = "/api/v1/organizers/{}/events/".format(ORGANIZER)
    tickets = iter(ids["tickets"])
    ids["take"] = lambda n: [next(tickets) for _ in range(n)]
    return ids


def desk(stack, world, node, endpoint, event="attendees", list_key="main", ids=None):
    ids = ids or world["attendees"]
    return "{}{}{}/checkinlists/{}/desk/{}/".format(stack.nodes[node].url, world["base"], event, ids[list_key], endpoint)


def checkins(stack, list_id):
    return {int(k): v for k, v in stack.call("tests.stack.probes:checkins_per_position", list_id).items()}


def node_of(i):
    return "ab"[i % 2]


def test_eight_clients_scanning_one_ticket_admit_it_once(stack, world):
    """8 clients (4 per node) scan the same ticket at once, 20 times over: one ok each time."""
    token = world["token"]
    for _ in range(ROUNDS_ONE_TICKET):
        (secret, _addon), = world["take"](1)
        answers = together([
            lambda i=i: request(desk(stack, world, node_of(i), "scan"), token, {"access_code": secret})
            for i in range(CLIENTS)])
        statuses = sorted(s for s, _ in answers)
        assert statuses == [201] + [400] * (CLIENTS - 1), answers
        assert all(body["reason"] == "already_redeemed" for s, body in answers if s == 400), answers
    per_position = checkins(stack, world["attendees"]["main"])
    assert len(per_position) == ROUNDS_ONE_TICKET and set(per_position.values()) == {1}, per_position


def test_eight_clients_on_two_nodes_check_in_distinct_tickets_once_each(stack, world):
    token, main = world["token"], world["attendees"]["main"]
    before = checkins(stack, main)
    for _ in range(ROUNDS_DISTINCT):
        tickets = world["take"](CLIENTS)
        answers = together([
            lambda i=i, t=t: request(desk(stack, world, node_of(i), "scan"), token, {"access_code": t[0]})
            for i, t in enumerate(tickets)])
        assert [s for s, _ in answers] == [201] * CLIENTS, answers
        assert all(body["status"] == "ok" for _, body in answers)
    after = checkins(stack, main)
    new = {p: n for p, n in after.items() if p not in before}
    assert len(new) == CLIENTS * ROUNDS_DISTINCT and set(new.values()) == {1}, new
    assert all(after[p] == n for p, n in before.items())


def test_eight_clients_redeeming_one_line_item_redeem_it_once(stack, world):
    token = world["token"]
    for _ in range(ROUNDS_REDEEM):
        (secret, addon), = world["take"](1)
        answers = together([
            lambda i=i: request(desk(stack, world, node_of(i), "redeem", list_key="merch"), token,
                                {"access_code": secret, "line_item_id": addon})
            for i in range(CLIENTS)])
        statuses = sorted(s for s, _ in answers)
        assert statuses == [201] + [409] * (CLIENTS - 1), answers
        assert all(body["reason"] == "already_redeemed" for s, body in answers if s == 409)
    counts = stack.call("tests.stack.probes:redemptions", ORGANIZER)
    # every redeemed line item: one redemption and its one log entry
    assert len(counts) == ROUNDS_REDEEM and all(c == [1, 1] for c in counts.values()), counts


def test_one_offline_batch_uploaded_twice_at_once_with_live_scans(stack, world):
    """Two tabs upload the same queue (same nonces) at once, one on each node, while a third
    desk scans the same tickets live: each ticket is checked in exactly once, and both
    uploads get the same answer for a nonce."""
    token, main = world["token"], world["attendees"]["main"]
    for _ in range(ROUNDS_BATCH):
        tickets = world["take"](BATCH)
        batch = [{"access_code": t[0], "nonce": "offline-" + uuid.uuid4().hex, "datetime": "2026-01-01T10:00:00Z"}
                 for t in tickets]

        def upload(node):
            return [request(desk(stack, world, node, "scan"), token, scan) for scan in batch]

        def live(node, order):
            return [request(desk(stack, world, node, "scan"), token, {"access_code": t[0]}) for t in order]

        first, second, live_a, live_b = together([
            lambda: upload("a"), lambda: upload("b"),
            lambda: live("a", tickets[::-1]), lambda: live("b", tickets[BATCH // 2:] + tickets[:BATCH // 2])])
        for i in range(BATCH):
            answers = [first[i], second[i], live_a[i], live_b[i]]
            assert all(s in (201, 400) for s, _ in answers), answers
            # a nonce answers the same wherever and whenever it is replayed
            assert first[i][0] == second[i][0], (first[i], second[i])
        oks = sum(s == 201 for s, _ in first) + sum(s == 201 for s, _ in live_a + live_b)
        assert oks == BATCH, (first, live_a, live_b)
        # replayed once more, later: the nonces still answer as before and record nothing
        again = upload("a")
        assert [s for s, _ in again] == [s for s, _ in first]
    per_position = checkins(stack, main)
    assert all(n == 1 for n in per_position.values()), per_position


def test_payment_with_auto_checkin_racing_a_manual_scan(stack, world):
    """An order paid through pretix's API (a pretix-desk rule checks its ticket in on Main
    when paid) and a desk scan of its ticket (Main includes pending orders): one check-in
    on Main, whichever comes first. The first order is scanned, then paid (no race: that
    ordering happens in every race the scan wins); the others race."""
    token, paid = world["token"], world["paid"]

    def pay(i, code):
        url = "{}{}{}/orders/{}/mark_paid/".format(stack.nodes[node_of(i)].url, world["base"], paid["event"], code)
        return request(url, token, {})

    def scan(i, secret):
        url = desk(stack, world, node_of(i + 1), "scan", event=paid["event"], ids=paid)
        return request(url, token, {"access_code": secret, "ignore_unpaid": True})

    (code, secret), *racing = paid["orders"][:PAID_RACES]
    answers = [(scan(0, secret), pay(0, code))]
    for i, (code, secret) in enumerate(racing, 1):
        answers.append(tuple(together([lambda: scan(i, secret), lambda: pay(i, code)])))
    for scanned, payment in answers:
        assert payment[0] == 200, (scanned, payment)
        assert scanned[0] == 201 or scanned[1]["reason"] == "already_redeemed", (scanned, payment)
    orders = stack.sql("SELECT count(*) FROM pretixbase_order o JOIN pretixbase_event e ON o.event_id = e.id "
                       "JOIN pretixbase_organizer g ON e.organizer_id = g.id "
                       "WHERE g.slug = %s AND e.slug = 'paid-race' AND o.status = 'p'", [ORGANIZER])[0][0]
    assert orders == PAID_RACES
    per_position = checkins(stack, paid["main"])
    assert len(per_position) == PAID_RACES, per_position
    twice = {p: n for p, n in per_position.items() if n != 1}
    assert not twice, "checked in more than once on Main: {} (scan won {} of {})".format(
        twice, sum(s[0] == 201 for s, _ in answers), PAID_RACES)


def test_payment_arriving_while_a_scan_holds_the_ticket(stack, world):
    """The interleaving that deadlocked: a scan holds the ticket's position lock (paused
    right after ``perform_checkin`` took it) when the payment comes in; pretix locks the
    order to mark it paid and the rule then wants the position, while the scan, resumed,
    touches the order. The scan locks the order before the position, so the payment waits
    for the scan instead: both succeed, the ticket is checked in once (by the scan)."""
    token, paid = world["token"], world["paid"]
    for code, secret in paid["orders"][PAID_RACES:]:
        outcome = {}

        def held_scan():
            url = desk(stack, world, "a", "scan", event=paid["event"], ids=paid)
            outcome["scan"] = request(url, token, {"access_code": secret, "ignore_unpaid": True}, headers={
                "X-Stack-Pause-After": 'FOR UPDATE OF "pretixbase_orderposition"', "X-Stack-Pause-Seconds": "3"})

        client = threading.Thread(target=held_scan)
        client.start()
        stack.wait_for_pause()
        url = "{}{}{}/orders/{}/mark_paid/".format(stack.nodes["b"].url, world["base"], paid["event"], code)
        payment = request(url, token, {})
        client.join(60)
        assert payment[0] == 200, payment
        assert outcome["scan"][0] == 201, outcome
        state = stack.call("tests.stack.probes:order_state", "paid-race", ORGANIZER, code)
        assert state == ["p", 1, 1], state
