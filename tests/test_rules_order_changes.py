"""Orders that change after they were placed or paid, through pretix's own services: new
positions, products and dates get the rules of the state the order is in; approvals,
reactivations and payments after a refund behave as docs/rules-api.rst says."""
from decimal import Decimal

import pytest
from django.utils.timezone import now
from pretix.base.models import (
    Checkin, CheckinList, ItemCategory, Order, OrderPayment, OrderRefund, Quota,
)
from pretix.base.services.orders import (
    OrderChangeManager, _cancel_order, approve_order, reactivate_order,
)
from pretix.base.signals import order_changed, order_placed

from pretix_desk.models import AutoCheckinRule

from .conftest import make_order


def checkins(order):
    return sorted(
        (ci.position.positionid, ci.list.name)
        for ci in Checkin.all.filter(position__order=order).select_related("position", "list")
    )


@pytest.fixture
def merch(event, tshirt):
    cl = CheckinList.objects.create(event=event, name="Merch", all_products=False)
    cl.limit_products.add(tshirt)
    return cl


@pytest.fixture
def anylist(event):
    return CheckinList.objects.create(event=event, name="Any", all_products=True)


def free(event, items, **kwargs):
    order = make_order(event, items, **kwargs)
    order.positions.update(price=Decimal("0.00"))
    order.total = Decimal("0.00")
    order.save(update_fields=["total"])
    return order


def change(order, fn):
    order.refresh_from_db()
    ocm = OrderChangeManager(order, notify=False)
    fn(ocm, order)
    ocm.commit()
    order.refresh_from_db()
    return order


# --- changes to pending and paid orders -------------------------------------------------------


def test_new_ticket_on_paid_order_gets_placed_and_paid_rules(event, ticket, clist, anylist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid")
    order = make_order(event, [ticket])
    order = change(order, lambda ocm, o: ocm.add_position(ticket, None, Decimal("0.00")))
    assert order.status == Order.STATUS_PAID
    # Position 1 existed before the rules and the rules never ran for it (no signal);
    # the change evaluates the rules for the whole order, as docs/rules-api.rst says.
    assert checkins(order) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Main")]


def test_new_ticket_on_pending_order_gets_placed_rules_only(event, ticket, clist, anylist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid")
    order = make_order(event, [ticket], status=Order.STATUS_PENDING)
    order = change(order, lambda ocm, o: ocm.add_position(ticket, None, Decimal("23.00")))
    assert order.status == Order.STATUS_PENDING
    assert checkins(order) == [(1, "Main"), (2, "Main")]


def test_new_addon(event, ticket, tshirt, clist, merch, anylist, quota):
    category = ItemCategory.objects.create(event=event, name="Merch", is_addon=True)
    tshirt.category = category
    tshirt.save()
    ticket.addons.create(addon_category=category, min_count=0, max_count=2)
    AutoCheckinRule.objects.create(event=event, mode="placed")
    order = make_order(event, [ticket])
    order_placed.send(event, order=order, bulk=False)
    assert checkins(order) == [(1, "Any"), (1, "Main")]
    small = tshirt.variations.get(value="S")
    order = change(order, lambda ocm, o: ocm.add_position(tshirt, small, Decimal("0.00"),
                                                          addon_to=o.positions.get(positionid=1)))
    assert checkins(order) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Merch")]


def test_changed_product_is_checked_in_where_the_new_product_is_admitted(event, ticket, tshirt, clist,
                                                                         merch, quota):
    AutoCheckinRule.objects.create(event=event, mode="placed")
    order = make_order(event, [ticket])
    order_placed.send(event, order=order, bulk=False)
    assert checkins(order) == [(1, "Main")]
    medium = tshirt.variations.get(value="M")
    order = change(order, lambda ocm, o: ocm.change_item(o.positions.get(), tshirt, medium))
    # The check-in on Main stays (pretix keeps check-ins when a product changes).
    assert checkins(order) == [(1, "Main"), (1, "Merch")]


def test_changed_variation_limited_rule(event, tshirt, merch, quota):
    small, medium = tshirt.variations.get(value="S"), tshirt.variations.get(value="M")
    rule = AutoCheckinRule.objects.create(event=event, mode="paid", all_products=False)
    rule.limit_variations.set([medium])
    order = make_order(event, [{"item": tshirt, "variation": small}])
    order = change(order, lambda ocm, o: ocm.change_item(o.positions.get(), tshirt, medium))
    assert checkins(order) == [(1, "Merch")]


def test_changed_date(event, ticket):
    event.has_subevents = True
    event.save()
    day1 = event.subevents.create(name="Day 1", date_from=now(), active=True)
    day2 = event.subevents.create(name="Day 2", date_from=now(), active=True)
    for day in (day1, day2):
        Quota.objects.create(event=event, subevent=day, name=str(day.name), size=None).items.add(ticket)
        CheckinList.objects.create(event=event, name=str(day.name), subevent=day)
    AutoCheckinRule.objects.create(event=event, mode="paid")
    order = make_order(event, [{"item": ticket, "subevent": day1}])
    order = change(order, lambda ocm, o: ocm.change_subevent(o.positions.get(), day2))
    assert checkins(order) == [(1, "Day 2")]


def test_paid_order_that_owes_money_after_a_change_waits_for_the_payment(event, ticket, clist, anylist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid")
    order = make_order(event, [ticket])
    order = change(order, lambda ocm, o: ocm.add_position(ticket, None, Decimal("23.00")))
    assert order.status == Order.STATUS_PENDING
    assert checkins(order) == [(1, "Main"), (2, "Main")]
    order.payments.create(provider="banktransfer", amount=order.pending_sum).confirm()
    assert checkins(order) == [(1, "Any"), (1, "Main"), (2, "Any"), (2, "Main")]


def test_canceled_and_expired_orders_get_nothing(event, ticket, clist):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    for status in (Order.STATUS_CANCELED, Order.STATUS_EXPIRED):
        order = make_order(event, [ticket], status=status)
        order_changed.send(event, order=order)
        assert checkins(order) == []


def test_split_order_keeps_its_checkins(event, ticket, clist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    order = make_order(event, [ticket, ticket])
    order_placed.send(event, order=order, bulk=False)
    order = change(order, lambda ocm, o: ocm.split(o.positions.get(positionid=2)))
    split = Order.objects.exclude(pk=order.pk).get()
    assert checkins(order) == [(1, "Main")]
    assert checkins(split) == [(2, "Main")]  # moved along with the position, not made anew
    assert Checkin.objects.count() == 2


# --- approvals, reactivation, paid again after a refund -----------------------------------------


def test_approval(event, ticket, clist, anylist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid")
    gratis = free(event, [ticket], status=Order.STATUS_PENDING, require_approval=True)
    priced = make_order(event, [ticket], status=Order.STATUS_PENDING, require_approval=True)
    for order in (gratis, priced):
        order_placed.send(event, order=order, bulk=False)
        # Placed means placed, as pretix's order_placed (and its bundled plugin) has it.
        assert checkins(order) == [(1, "Main")]
        approve_order(order, send_mail=False)
    # A free order is paid by its approval (pretix confirms a "free" payment); a priced
    # one waits for its payment.
    assert checkins(gratis) == [(1, "Any"), (1, "Main")]
    assert checkins(priced) == [(1, "Main")]
    priced.payments.create(provider="banktransfer", amount=Decimal("23.00")).confirm()
    assert checkins(priced) == [(1, "Any"), (1, "Main")]


def test_reactivated_orders_get_the_rules_of_their_new_state(event, ticket, clist, anylist, quota):
    paid = make_order(event, [ticket])
    paid.payments.create(provider="paypal", amount=paid.total, state=OrderPayment.PAYMENT_STATE_CONFIRMED)
    pending = make_order(event, [ticket], status=Order.STATUS_PENDING)
    for order in (paid, pending):
        _cancel_order(order.pk, send_mail=False)
    # Rules made while the orders were canceled: applying them skipped these orders.
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid")
    for order in (paid, pending):
        order.refresh_from_db()
        reactivate_order(order)
    assert Order.objects.get(pk=paid.pk).status == Order.STATUS_PAID
    assert checkins(paid) == [(1, "Any"), (1, "Main")]
    assert Order.objects.get(pk=pending.pk).status == Order.STATUS_PENDING
    assert checkins(pending) == [(1, "Main")]


def test_paid_again_after_a_refund(event, ticket, clist, anylist, quota):
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid", all_payment_methods=False,
                                   limit_payment_methods=["paypal", "banktransfer"])
    order = make_order(event, [ticket], status=Order.STATUS_PENDING)
    payment = order.payments.create(provider="paypal", amount=Decimal("23.00"))
    payment.confirm()
    assert checkins(order) == [(1, "Any")]

    # Refunded in full and marked unpaid, as pretix's refund flow does.
    payment.state = OrderPayment.PAYMENT_STATE_REFUNDED
    payment.save()
    order.refunds.create(provider="paypal", amount=Decimal("23.00"), state=OrderRefund.REFUND_STATE_DONE,
                         source=OrderRefund.REFUND_SOURCE_ADMIN, payment=payment)
    order.status = Order.STATUS_PENDING
    order.save()
    order = change(order, lambda ocm, o: ocm.add_position(ticket, None, Decimal("23.00")))
    assert checkins(order) == [(1, "Any")]  # pending: the paid rule waits

    order.payments.create(provider="banktransfer", amount=order.pending_sum).confirm()
    assert Order.objects.get(pk=order.pk).status == Order.STATUS_PAID
    assert checkins(order) == [(1, "Any"), (2, "Any")]
    assert Checkin.objects.filter(position__order=order).count() == 2


def test_pending_order_paid_in_full_by_a_change(event, ticket, clist, anylist, quota):
    # pretix marks it paid without sending order_paid; the change brings the paid rules.
    AutoCheckinRule.objects.create(event=event, list=anylist, mode="paid")
    order = make_order(event, [ticket, ticket], status=Order.STATUS_PENDING)
    order.payments.create(provider="banktransfer", amount=Decimal("23.00"), state=OrderPayment.PAYMENT_STATE_CONFIRMED)
    order = change(order, lambda ocm, o: ocm.cancel(o.positions.get(positionid=2)))
    assert order.status == Order.STATUS_PAID
    assert checkins(order) == [(1, "Any")]


# --- the same through pretix's REST API and control panel ----------------------------------------


def orders_api(event, order, action):
    return f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/orders/{order.code}/{action}/"


def test_order_change_through_pretix_api(token_client, event, ticket, tshirt, clist, merch, quota):
    AutoCheckinRule.objects.create(event=event, mode="paid")
    order = make_order(event, [ticket])
    medium = tshirt.variations.get(value="M")
    resp = token_client.post(orders_api(event, order, "change"), {
        "patch_positions": [{"position": order.positions.get().pk, "body": {"item": tshirt.pk, "variation": medium.pk}}],
        "create_positions": [{"item": ticket.pk, "price": "0.00"}],
    }, format="json")
    assert resp.status_code == 200, resp.content
    assert checkins(order) == [(1, "Merch"), (2, "Main")]


def test_reactivate_and_approve_through_pretix_api(token_client, event, ticket, clist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="paid")
    canceled = free(event, [ticket], status=Order.STATUS_CANCELED)
    assert token_client.post(orders_api(event, canceled, "reactivate"), {}, format="json").status_code == 200
    assert checkins(canceled) == [(1, "Main")]
    waiting = free(event, [ticket], status=Order.STATUS_PENDING, require_approval=True)
    assert token_client.post(orders_api(event, waiting, "approve"), {"send_email": False},
                             format="json").status_code == 200
    assert checkins(waiting) == [(1, "Main")]


def test_reactivate_and_approve_in_the_control_panel(client, admin_team, admin_user, event, ticket, clist, quota):
    AutoCheckinRule.objects.create(event=event, list=clist, mode="paid")
    client.login(email="admin@example.org", password="admin")
    base = f"/control/event/{event.organizer.slug}/{event.slug}/orders/"
    canceled = free(event, [ticket], status=Order.STATUS_CANCELED)
    assert client.post(f"{base}{canceled.code}/reactivate", {}).status_code == 302
    assert Order.objects.get(pk=canceled.pk).status == Order.STATUS_PAID
    assert checkins(canceled) == [(1, "Main")]
    waiting = free(event, [ticket], status=Order.STATUS_PENDING, require_approval=True)
    assert client.post(f"{base}{waiting.code}/approve", {}).status_code == 302
    assert checkins(waiting) == [(1, "Main")]
