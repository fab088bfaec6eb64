"""Applying a rule to a 10,000-order event: memory stays flat from batch to batch and each
batch costs the same few queries, however many orders there are."""
import datetime
import gc
import tracemalloc
from decimal import Decimal

import pytest
from django.db import connection
from django.utils.timezone import now
from pretix.api.webhooks import notify_webhooks
from pretix.base.models import Checkin, Order, OrderPayment, OrderPosition

from pretix_desk import apply
from pretix_desk.models import AutoCheckinRule

ORDERS = 10_000
BATCH = 500


def bulk_orders(event, item, count):
    """``count`` paid orders of one ticket each, written in bulk (pretix's own save()
    would take minutes here)."""
    channel = event.organizer.sales_channels.get(identifier="web")
    dt = now()
    Order.objects.bulk_create([
        Order(event=event, organizer=event.organizer, code=f"S{i:07d}", status=Order.STATUS_PAID,
              datetime=dt, expires=dt + datetime.timedelta(days=1), total=item.default_price,
              sales_channel=channel, locale="en")
        for i in range(count)
    ], batch_size=1000)
    OrderPosition.objects.bulk_create([
        OrderPosition(order_id=pk, organizer=event.organizer, positionid=1, item=item,
                      price=item.default_price, tax_rate=Decimal("0.00"), tax_value=Decimal("0.00"),
                      secret=f"scale{pk}", pseudonymization_id=f"P{pk:09d}")
        for pk in Order.objects.filter(event=event).values_list("pk", flat=True)
    ], batch_size=1000)


class QueryCounter:
    """Counts statements without keeping their text (that would cost memory itself)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
def test_ten_thousand_orders_in_bounded_memory_and_queries(event, ticket, clist, monkeypatch):
    # pretix's webhook task runs on a worker in production; here it would run eagerly,
    # after every batch's commit, with a query per log entry of its own.
    webhook_tasks = []
    monkeypatch.setattr(notify_webhooks, "apply_async", lambda *a, **kw: webhook_tasks.append(a))
    bulk_orders(event, ticket, ORDERS)
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid", all_payment_methods=False,
                                          limit_payment_methods=["manual"])
    OrderPayment.objects.bulk_create([
        OrderPayment(order_id=pk, provider="manual", amount=Decimal("23.00"), local_id=1,
                     state=OrderPayment.PAYMENT_STATE_CONFIRMED)
        for pk in Order.objects.filter(event=event).values_list("pk", flat=True)
    ], batch_size=1000)

    counter, batches = QueryCounter(), []

    def progress(done, total):
        gc.collect()  # count what is held, not garbage waiting for the collector
        batches.append((done, counter.count, tracemalloc.get_traced_memory()[0]))

    tracemalloc.start()
    try:
        with connection.execute_wrapper(counter):
            result = apply.apply_rule(rule=rule, dry_run=False, batch_size=BATCH, progress=progress)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert result["checkins"] == ORDERS and result["orders"] == ORDERS
    assert Checkin.objects.filter(list=clist, auto_checked_in=True).count() == ORDERS
    assert [done for done, _, _ in batches] == list(range(BATCH, ORDERS + 1, BATCH))
    assert len(webhook_tasks) == len(batches)  # one per batch, for all its log entries

    # Queries: the same number for every batch, a handful of them, and nothing per order.
    per_batch = [b[1] - a[1] for a, b in zip(batches, batches[1:])]
    assert len(set(per_batch)) == 1, per_batch
    limit = 12 if connection.vendor == "postgresql" else 30  # SQLite splits bulk inserts by its parameter limit
    assert per_batch[0] <= limit, per_batch
    assert counter.count <= len(batches) * per_batch[0] + 10

    # Memory: what the first batches allocated is all there ever is.
    memory = [m for _, _, m in batches]
    assert max(memory[2:]) - memory[1] < 2 * 1024 * 1024, memory
    assert peak < 40 * 1024 * 1024, peak
