"""Auto check-in rules at work: orders placed and paid through pretix check tickets in."""
import json
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import now
from pretix.api.models import WebHook
from pretix.base.models import Checkin, CheckinList, Item, LogEntry, Order, OrderPayment
from pretix.base.signals import checkin_created, order_paid, order_placed
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

from pretix_desk.autocheckin import triggers
from pretix_desk.autocheckin.engine import check_in_order
from pretix_desk.importer import CREATED, import_bundled_rules
from pretix_desk.models import AutoCheckinRule

from .conftest import make_order

#: What running the rules costs an order, whatever the number of tickets and rules (README
#: and docs/benchmarks.rst state them; tests/test_docs_figures.py compares).
STATEMENTS_WITHOUT_RULES = 1
STATEMENTS_CHECKING_IN = 6


def checkins(order):
    return sorted(
        (ci.position.positionid, ci.list.name)
        for ci in Checkin.all.filter(position__order=order).select_related("position", "list")
    )


def rule(event, **kwargs):
    limits = {k: kwargs.pop(k) for k in ("limit_products", "limit_variations", "limit_sales_channels")
              if k in kwargs}
    r = AutoCheckinRule.objects.create(event=event, **kwargs)
    for k, v in limits.items():
        getattr(r, k).set(v)
    return r


@pytest.fixture
def anylist(event):
    return CheckinList.objects.create(event=event, name="Any", all_products=True)


@pytest.fixture
def merch(event, tshirt):
    cl = CheckinList.objects.create(event=event, name="Merch", all_products=False)
    cl.limit_products.add(tshirt)
    return cl


def owing(event, items, total, **kwargs):
    """An order over ``total`` (make_order creates free ones)."""
    order = make_order(event, items, **kwargs)
    order.total = total
    order.save(update_fields=["total"])
    return order


def place(event, items, **kwargs):
    order = make_order(event, items, **kwargs)
    order_placed.send(event, order=order, bulk=False)
    return order


# --- semantics through pretix's signals -------------------------------------------------


def test_placed_rule_checks_in_on_named_list(event, ticket, tshirt, clist, anylist):
    rule(event, list=clist)
    order = place(event, [ticket, tshirt, ticket])
    assert checkins(order) == [(1, "Main"), (3, "Main")]
    ci = Checkin.objects.filter(position__order=order).first()
    assert ci.auto_checked_in and ci.type == Checkin.TYPE_ENTRY and ci.successful


def test_no_list_means_every_list_admitting_the_product(event, ticket, tshirt, clist, anylist, merch):
    rule(event)
    order = place(event, [ticket, {"item": tshirt, "variation": tshirt.variations.first()}])
    assert checkins(order) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Merch")]


def test_named_list_keeps_its_product_limit(event, tshirt, clist):
    rule(event, list=clist)
    order = place(event, [tshirt])
    assert checkins(order) == []


def test_subevent_limits(event, ticket):
    event.has_subevents = True
    event.save()
    day1 = event.subevents.create(name="Day 1", date_from=now())
    day2 = event.subevents.create(name="Day 2", date_from=now())
    CheckinList.objects.create(event=event, name="Day 1", subevent=day1)
    CheckinList.objects.create(event=event, name="Day 2", subevent=day2)
    CheckinList.objects.create(event=event, name="All days")
    rule(event)
    order = place(event, [{"item": ticket, "subevent": day2}])
    assert checkins(order) == [(1, "All days"), (1, "Day 2")]


def test_mode_paid_waits_for_payment(event, ticket, clist):
    rule(event, list=clist, mode="paid")
    order = place(event, [ticket], status=Order.STATUS_PENDING)
    assert checkins(order) == []
    order_paid.send(event, order=order)
    assert checkins(order) == [(1, "Main")]


def test_mode_placed_ignores_payment(event, ticket, clist):
    rule(event, list=clist, mode="placed")
    order = make_order(event, [ticket])
    order_paid.send(event, order=order)
    assert checkins(order) == []


def test_sales_channels(event, ticket, clist, box):
    rule(event, list=clist, all_sales_channels=False, limit_sales_channels=[box])
    assert checkins(place(event, [ticket], sales_channel="web")) == []
    assert checkins(place(event, [ticket], sales_channel="box")) == [(1, "Main")]


def test_products_and_variations(event, ticket, tshirt, anylist):
    small, medium = tshirt.variations.order_by("pk")
    hoodie = Item.objects.create(event=event, name="Hoodie", default_price=Decimal("30"))
    hoodie_xl = hoodie.variations.create(value="XL")
    hoodie.variations.create(value="XXL")
    rule(event, list=anylist, all_products=False, limit_products=[tshirt], limit_variations=[hoodie_xl])
    order = place(event, [
        ticket,
        {"item": tshirt, "variation": small},
        {"item": tshirt, "variation": medium},
        {"item": hoodie, "variation": hoodie_xl},
        {"item": hoodie, "variation": hoodie.variations.get(value="XXL")},
    ])
    assert checkins(order) == [(2, "Any"), (3, "Any"), (4, "Any")]


def test_payment_methods_are_those_of_confirmed_or_refunded_payments(event, ticket, clist):
    rule(event, list=clist, mode="paid", all_payment_methods=False, limit_payment_methods=["paypal"])
    bank = owing(event, [ticket], Decimal("23.00"), status=Order.STATUS_PENDING)
    bank.payments.create(provider="paypal", amount=Decimal("23.00"), state=OrderPayment.PAYMENT_STATE_FAILED)
    bank.payments.create(provider="banktransfer", amount=Decimal("23.00")).confirm()
    assert Order.objects.get(pk=bank.pk).status == Order.STATUS_PAID
    assert checkins(bank) == []

    paypal = owing(event, [ticket], Decimal("23.00"), status=Order.STATUS_PENDING)
    paypal.payments.create(provider="paypal", amount=Decimal("23.00")).confirm()
    assert checkins(paypal) == [(1, "Main")]

    refunded = owing(event, [ticket], Decimal("23.00"), status=Order.STATUS_PAID)
    refunded.payments.create(provider="paypal", amount=Decimal("23.00"),
                             state=OrderPayment.PAYMENT_STATE_REFUNDED)
    order_paid.send(event, order=refunded)
    assert checkins(refunded) == [(1, "Main")]


def test_canceled_positions_are_not_checked_in(event, ticket, clist):
    rule(event, list=clist)
    order = make_order(event, [ticket, ticket])
    order.all_positions.filter(positionid=1).update(canceled=True)
    order_placed.send(event, order=order, bulk=False)
    assert checkins(order) == [(2, "Main")]


def test_rules_of_other_events_do_not_apply(event, other_event, ticket, clist):
    other_list = CheckinList.objects.create(event=other_event, name="Other")
    rule(other_event, list=other_list)
    assert checkins(place(event, [ticket])) == []


def test_nothing_happens_for_events_without_the_plugin(event, ticket, clist):
    event.plugins = "pretix.plugins.banktransfer"
    event.save()
    rule(event, list=clist)
    order = place(event, [ticket])
    assert checkins(order) == []
    # The same rule works as soon as the plugin is on again.
    event.plugins = "pretix_desk"
    event.save()
    order_placed.send(event, order=order, bulk=False)
    assert checkins(order) == [(1, "Main")]


# --- idempotency --------------------------------------------------------------------------


def test_two_rules_and_resent_signals_check_in_once(event, ticket, clist):
    rule(event, list=clist)
    rule(event)
    rule(event, list=clist, mode="paid")
    order = place(event, [ticket])
    order_placed.send(event, order=order, bulk=False)
    order_paid.send(event, order=order)
    assert checkins(order) == [(1, "Main")]


def test_bundled_plugin_active_too_does_not_duplicate(event, ticket, clist, anylist):
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    BundledRule.objects.create(event=event, list=clist, mode="placed")
    rule(event)
    order = place(event, [ticket])
    assert checkins(order) == [(1, "Any"), (1, "Main")]


def test_bundled_rules_do_nothing_where_only_pretix_desk_is_active(event, ticket, clist):
    BundledRule.objects.create(event=event, list=clist, mode="placed")
    assert checkins(place(event, [ticket])) == []


def test_bundled_plugin_finds_our_checkin(event, ticket, clist):
    # If our rule ran first, the bundled plugin's get_or_create must find our row.
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    BundledRule.objects.create(event=event, list=clist, mode="placed")
    rule(event, list=clist)
    order = make_order(event, [ticket])
    check_in_order(order=order, modes=("placed",))
    order_placed.send(event, order=order, bulk=False)
    order_placed.send(event, order=order, bulk=False)
    assert checkins(order) == [(1, "Main")]


@pytest.mark.parametrize("imported", [True, False])
def test_bundled_plugin_active_too_leaves_a_ticket_scanned_before_payment_alone(
        token_client, event, ticket, quota, imported):
    """docs/rules-api.rst: once per list, also while the bundled plugin is still active
    (after its rules were imported, or before): a ticket scanned at the door before its
    order was paid gets no automatic entry when it is paid."""
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    door = CheckinList.objects.create(event=event, name="Door", all_products=True, include_pending=True)
    BundledRule.objects.create(event=event, list=door, mode="paid")
    if imported:
        assert [o.status for o in import_bundled_rules(event=event)] == [CREATED]
    order = owing(event, [ticket], Decimal("23.00"), status=Order.STATUS_PENDING)
    position = order.positions.get()
    scan_url = reverse("api-v1:desk-scan", kwargs={
        "organizer": event.organizer.slug, "event": event.slug, "list": door.pk,
    })
    r = token_client.post(scan_url, {"access_code": position.secret, "ignore_unpaid": True}, format="json")
    assert r.status_code == 201, r.data

    order.payments.create(provider="manual", amount=order.total).confirm()
    order.refresh_from_db()
    assert order.status == Order.STATUS_PAID
    entries = Checkin.all.filter(position=position, list=door)
    assert [(ci.successful, ci.auto_checked_in) for ci in entries] == [(True, False)]


def test_bundled_rules_work_as_before_where_both_plugins_are_active(event, ticket, tshirt, clist, anylist):
    """pretix-desk carries the bundled plugin's rules out in its place (with an entry in the
    order's log, as for its own); what they check in is what the bundled plugin would."""
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    BundledRule.objects.create(event=event, list=clist, mode="placed")
    shirts_paid = BundledRule.objects.create(event=event, mode="paid", all_products=False)
    shirts_paid.limit_products.add(tshirt)
    # never matches in the bundled plugin: a placed order has no payment yet
    BundledRule.objects.create(event=event, list=anylist, mode="placed", all_payment_methods=False,
                               limit_payment_methods=["manual"])
    BundledRule.objects.create(event=event, list=anylist, mode="paid", all_payment_methods=False,
                               limit_payment_methods=["banktransfer"])
    order = make_order(event, [ticket, tshirt])
    order.payments.create(provider="manual", amount=Decimal("0.00"), state=OrderPayment.PAYMENT_STATE_CONFIRMED)
    order_placed.send(event, order=order, bulk=False)
    order_paid.send(event, order=order)
    assert checkins(order) == [(1, "Main"), (2, "Any")]
    assert all(ci.auto_checked_in for ci in Checkin.all.filter(position__order=order))
    assert LogEntry.objects.filter(action_type="pretix.event.checkin").count() == 2


def test_bundled_plugin_alone_runs_its_own_receivers(event, ticket, clist):
    event.plugins = "pretix.plugins.autocheckin"
    event.save()
    BundledRule.objects.create(event=event, list=clist, mode="placed")
    order = place(event, [ticket])
    assert checkins(order) == [(1, "Main")]
    # the bundled plugin's own code: no entry in the order's log
    assert not LogEntry.objects.filter(action_type="pretix.event.checkin").exists()


def test_a_manual_exit_does_not_block_auto_checkin(event, ticket, clist):
    # An exit is no entry: only a successful entry (automatic or scanned) counts as done.
    rule(event, list=clist, mode="paid")
    order = make_order(event, [ticket])
    Checkin.objects.create(position=order.positions.first(), list=clist, type="exit")
    order_paid.send(event, order=order)
    assert Checkin.objects.filter(position__order=order, auto_checked_in=True).count() == 1


# --- visibility: signal, order log, webhooks ---------------------------------------------


def test_checkin_created_signal_log_and_webhook(event, organizer, ticket, clist, monkeypatch,
                                                django_capture_on_commit_callbacks):
    rule(event, list=clist)
    webhook = WebHook.objects.create(organizer=organizer, target_url="https://example.org/hook",
                                     all_events=True)
    webhook.listeners.create(action_type="pretix.event.checkin")
    sent = []

    class Response:
        status_code = 200
        text = "ok"

    def post(url, json=None, **kwargs):
        sent.append((url, json))
        return Response()

    monkeypatch.setattr("pretix.api.webhooks.requests.post", post)

    received = []

    def on_checkin(sender, checkin, **kwargs):
        received.append((sender, checkin))

    setattr(on_checkin, "__mocked_app", "CORE")
    checkin_created.connect(on_checkin)
    try:
        order = make_order(event, [ticket, ticket])
        with django_capture_on_commit_callbacks(execute=True):
            order_placed.send(event, order=order, bulk=False)
    finally:
        checkin_created.disconnect(on_checkin)

    cis = list(Checkin.objects.filter(position__order=order).order_by("position__positionid"))
    assert [(s, c.pk) for s, c in received] == [(event, c.pk) for c in cis]

    logs = LogEntry.objects.filter(action_type="pretix.event.checkin", object_id=order.pk)
    data = sorted((json.loads(le.data) for le in logs), key=lambda d: d["positionid"])
    assert [(d["positionid"], d["list"], d["type"], d["first"]) for d in data] == [
        (1, clist.pk, "entry", True), (2, clist.pk, "entry", True),
    ]
    assert all(d["position"] == ci.position_id for d, ci in zip(data, cis))
    assert "has been checked in" in str(logs.first().display())

    payloads = sorted((p for url, p in sent), key=lambda p: p["orderposition_positionid"])
    assert [(p["action"], p["code"], p["orderposition_positionid"], p["checkin_list"]) for p in payloads] == [
        ("pretix.event.checkin", order.code, 1, clist.pk),
        ("pretix.event.checkin", order.code, 2, clist.pk),
    ]


# --- query count ----------------------------------------------------------------------------


def _count_queries(event, items, *, mode="placed"):
    order = owing(event, items, Decimal("1.00"), status=Order.STATUS_PAID)
    order.payments.create(provider="paypal", amount=Decimal("1.00"), state=OrderPayment.PAYMENT_STATE_CONFIRMED)
    with CaptureQueriesContext(connection) as ctx:
        created = check_in_order(order=order, modes=(mode,))
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip("( ").upper().startswith("SELECT")]
    return len(created), len(reads), len(ctx.captured_queries)


@pytest.mark.parametrize("mode", ["placed", "paid"])
def test_query_count_does_not_grow_with_positions_or_rules(event, ticket, tshirt, clist, anylist,
                                                           merch, mode):
    small = tshirt.variations.first()
    extra = {"all_payment_methods": False, "limit_payment_methods": ["paypal"]} if mode == "paid" else {}
    rule(event, list=clist, mode=mode, **extra)
    _count_queries(event, [ticket], mode=mode)  # warm caches (content types, ...)

    one = _count_queries(event, [ticket], mode=mode)
    many_positions = _count_queries(event, [ticket] * 10 + [{"item": tshirt, "variation": small}] * 10,
                                    mode=mode)
    for _ in range(9):
        rule(event, mode=mode, all_products=False, limit_products=[tshirt], limit_variations=[small],
             all_sales_channels=False, limit_sales_channels=list(event.organizer.sales_channels.all()),
             **extra)
    many_rules = _count_queries(event, [ticket] * 10 + [{"item": tshirt, "variation": small}] * 10,
                                mode=mode)

    # The nine extra rules check the ten T-shirts in on "Any" and "Merch".
    assert one[0] == 1 and many_positions[0] == 10 and many_rules[0] == 30
    assert one[1:] == many_positions[1:] == many_rules[1:]
    # Reads: the rules with their conditions and the lists (one union), the positions
    # (locked), their check-ins [with the payments] (one query). Writes: check-ins, log
    # entries, the order's modification time.
    assert one[1:] == (3, STATEMENTS_CHECKING_IN)


def test_no_rules_costs_one_query(event, ticket, clist):
    order = make_order(event, [ticket])
    with CaptureQueriesContext(connection) as ctx:
        assert check_in_order(order=order, modes=("placed",)) == []
    assert len(ctx.captured_queries) == STATEMENTS_WITHOUT_RULES


def test_rules_for_other_sales_channels_cost_one_query(event, ticket, clist, box):
    rule(event, list=clist, all_sales_channels=False, limit_sales_channels=[box])
    order = make_order(event, [ticket])
    with CaptureQueriesContext(connection) as ctx:
        assert check_in_order(order=order, modes=("placed",)) == []
    assert len(ctx.captured_queries) == STATEMENTS_WITHOUT_RULES


# --- an order placed paid: one run for both signals --------------------------------------


def test_order_placed_paid_runs_both_modes_once(event, ticket, clist, anylist):
    rule(event, list=clist, mode="placed")
    rule(event, list=anylist, mode="paid")
    order = make_order(event, [ticket])
    ContentType.objects.get_for_model(Order)  # cached in a running server (the log entries')
    with CaptureQueriesContext(connection) as placed:
        triggers.placed(order)  # what our order_placed receiver does
    assert checkins(order) == [(1, "Any"), (1, "Main")]
    # pretix sends order_paid right after, for the same object: nothing left to do.
    with CaptureQueriesContext(connection) as paid:
        triggers.paid(order)
    assert len(placed.captured_queries) == STATEMENTS_CHECKING_IN and len(paid.captured_queries) == 0
    order_paid.send(event, order=order)
    assert Checkin.objects.filter(position__order=order).count() == 2


def test_order_paid_runs_again_for_a_saved_or_other_object(event, ticket, clist, anylist):
    rule(event, list=anylist, mode="paid")
    order = make_order(event, [ticket])
    order_placed.send(event, order=order, bulk=False)
    Checkin.objects.filter(position__order=order).delete()
    # Another object of the same order does not carry the mark.
    order_paid.send(event, order=Order.objects.get(pk=order.pk))
    assert checkins(order) == [(1, "Any")]

    Checkin.objects.filter(position__order=order).delete()
    order_placed.send(event, order=order, bulk=False)
    Checkin.objects.filter(position__order=order).delete()
    order.save(update_fields=["email"])  # saved since: the mark no longer counts
    order_paid.send(event, order=order)
    assert checkins(order) == [(1, "Any")]

    # The mark counts once.
    Checkin.objects.filter(position__order=order).delete()
    order_placed.send(event, order=order, bulk=False)
    order_paid.send(event, order=order)
    Checkin.objects.filter(position__order=order).delete()
    order_paid.send(event, order=order)
    assert checkins(order) == [(1, "Any")]


def test_order_placed_pending_leaves_the_paid_rules_to_the_payment(event, ticket, clist, anylist):
    rule(event, list=anylist, mode="paid")
    order = place(event, [ticket], status=Order.STATUS_PENDING)
    assert checkins(order) == []
    order.status = Order.STATUS_PAID
    order.save(update_fields=["status"])
    order_paid.send(event, order=order)
    assert checkins(order) == [(1, "Any")]


# --- orders created through pretix's own order API -----------------------------------------


def _api_order(token_client, event, ticket, *, status, payment_provider=None):
    body = {
        "email": "api@example.org",
        "locale": "en",
        "sales_channel": "web",
        "status": status,
        "positions": [
            {"item": ticket.pk, "price": "23.00", "attendee_name": "Ada"},
            {"item": ticket.pk, "price": "23.00", "attendee_name": "Grace"},
        ],
    }
    if payment_provider:
        body["payment_provider"] = payment_provider
    resp = token_client.post(
        f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/orders/", body, format="json",
    )
    assert resp.status_code == 201, resp.content
    return Order.objects.get(code=resp.data["code"])


def test_orders_from_pretix_order_api(token_client, event, ticket, clist, anylist, quota):
    rule(event, list=clist, mode="placed")
    rule(event, list=anylist, mode="paid", all_payment_methods=False, limit_payment_methods=["manual"])

    pending = _api_order(token_client, event, ticket, status="n")
    assert checkins(pending) == [(1, "Main"), (2, "Main")]

    paid = _api_order(token_client, event, ticket, status="p", payment_provider="manual")
    assert checkins(paid) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Main")]

    # The pending one is checked in on "Any" as soon as it is paid.
    pending.payments.create(provider="manual", amount=pending.total).confirm()
    assert checkins(pending) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Main")]


def _api_order_statements(token_client, event, ticket, tshirt):
    body = {
        "email": "api@example.org", "locale": "en", "sales_channel": "web",
        "status": "p", "payment_provider": "manual", "send_email": False,
        "positions": [
            {"positionid": 1, "item": ticket.pk, "price": "23.00", "attendee_name": "Ada"},
            {"positionid": 2, "item": tshirt.pk, "variation": tshirt.variations.first().pk,
             "price": "15.00"},
        ],
    }
    url = f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/orders/"
    with CaptureQueriesContext(connection) as ctx:
        resp = token_client.post(url, body, format="json")
    assert resp.status_code == 201, resp.content
    return len(ctx.captured_queries), Order.objects.get(code=resp.data["code"])


def test_statements_of_an_order_placed_paid_through_pretix_api(token_client, event, ticket, tshirt, clist,
                                                               anylist, merch, box, quota):
    """The benchmark's order (issue 9): five rules, three of which apply, against the same
    order on the event without the plugin."""
    rule(event, list=clist, mode="placed")
    rule(event, list=merch, mode="placed", all_products=False, limit_products=[tshirt])
    rule(event, mode="paid", all_sales_channels=False,
         limit_sales_channels=[event.organizer.sales_channels.get(identifier="web")])
    rule(event, list=clist, mode="paid", all_payment_methods=False, limit_payment_methods=["banktransfer"])
    rule(event, list=clist, mode="placed", all_sales_channels=False, limit_sales_channels=[box])

    def statements(plugins):
        event.plugins = plugins
        event.save()
        _api_order_statements(token_client, event, ticket, tshirt)  # warm caches
        return _api_order_statements(token_client, event, ticket, tshirt)

    without, _ = statements("pretix.plugins.banktransfer")
    with_rules, order = statements("pretix_desk,pretix.plugins.banktransfer")
    assert checkins(order) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Merch")]
    # The rules with their conditions and the lists, the positions (locked), their
    # check-ins and the payments; check-ins, log entries, the order's modification time.
    assert with_rules - without == STATEMENTS_CHECKING_IN

    AutoCheckinRule.objects.filter(event=event).delete()
    no_rules, order = statements("pretix_desk,pretix.plugins.banktransfer")
    assert checkins(order) == [] and no_rules - without == STATEMENTS_WITHOUT_RULES
