"""Checking in what rules select for some orders: in bulk, never twice on one list."""
from django.db import transaction
from django.utils.timezone import now
from pretix.base.models import Checkin, LogEntry, Order
from pretix.base.signals import checkin_created

from .. import rules as matching
from .queries import load_checkins_and_payments, load_positions, load_rules


def check_in_order(*, order, modes, ruleset=False):
    """Check the order's tickets in as the event's rules for ``modes`` say (or ``ruleset``,
    loaded already); return the new check-ins.

    Reads the rules (one query; nothing more if none could apply to the order's sales
    channel), then as ``check_in_orders``.
    """
    if not modes:
        return []
    if ruleset is False:
        ruleset = load_rules(event=order.event, modes=modes)
    if ruleset is None or not ruleset.may_apply(modes=modes, sales_channel_id=order.sales_channel_id):
        return []
    # Part of the caller's transaction if there is one (a payment): an error here undoes
    # it anyway, so a savepoint would only cost two statements.
    return check_in_orders(
        event=order.event, order_ids=[order.pk], ruleset=ruleset, modes=modes,
        known_orders={order.pk: order}, savepoint=False,
    )


def check_in_orders(*, event, order_ids, ruleset, modes, statuses=None, known_orders=None,
                    dry_run=False, savepoint=True):
    """Check in what ``ruleset`` selects for these orders; return the new check-ins
    (unsaved ones on a dry run, which writes and locks nothing). Each gets what a scan
    gets: a ``pretix.event.checkin`` entry in its order's log (which drives webhooks) and
    the ``checkin_created`` signal; what pretix's ``Checkin.save()`` does besides writing
    the row is repeated once for all (``tests/test_rules_checkin_effects.py`` fails when
    pretix's does more).

    Reads two statements (the positions, locked, then their existing check-ins together
    with the orders' payments if a rule asks for payment methods; one more for the
    orders the caller does not hold) and, unless nothing is new, writes three
    (check-ins, log entries, the orders' modification time), however many orders and
    positions there are.

    The lock is on the positions, taken in id order, and only positions are locked while
    the check-ins are written: a scan at the door locks its position (the desk its order
    first), a payment its order first and the positions after (through these signals),
    so holding positions without ever waiting for an order row deadlocks against
    neither. The orders' modification time is updated once the positions are released
    (inside a payment's transaction pretix holds the order already). The lock serialises
    concurrent runs for the same tickets (a re-sent signal, ``placed`` and ``paid`` in
    quick succession, a rule applied to existing orders), so the check-ins read after it
    are complete.
    ``statuses``, if given, skips orders no longer in a state the run covers.
    ``known_orders`` are order objects the caller holds, used instead of loading them
    (their modification time is updated in place).
    """
    known_orders = known_orders or {}
    with transaction.atomic(savepoint=savepoint):
        positions = load_positions(order_ids, lock=not dry_run)
        orders = dict(known_orders)
        missing = {op.order_id for op in positions}.difference(orders)
        if missing:
            orders.update(Order.objects.in_bulk(missing))
        for op in positions:
            op.order = orders[op.order_id]
            op.order.event = event  # log entries and receivers reach the event without a query
        if statuses is not None:
            positions = [op for op in positions if op.order.status in statuses]
        if not positions:
            return []
        # Read after the lock: a concurrent run (or a scan, which locks the position too)
        # that held it has committed by now. Any successful entry counts, automatic or
        # scanned: a ticket is never checked in twice on one list.
        existing, payment_methods = load_checkins_and_payments(
            positions, with_payments=ruleset.needs_payment_methods,
        )
        pairs = _select(
            positions=positions, ruleset=ruleset, modes=modes,
            payment_methods=payment_methods, already_checked_in=existing,
        )
        if not pairs:
            return []
        by_id = {op.pk: op for op in positions}
        checkins = _checkins(positions=by_id, pairs=pairs)
        if dry_run:
            return checkins
        _save_checkins(checkins)

    _touch({ci.position.order_id: ci.position.order for ci in checkins})
    _clear_counts(event, {ci.list_id for ci in checkins})
    for ci in checkins:
        checkin_created.send(event, checkin=ci)
    return checkins


def _select(*, positions, ruleset, modes, payment_methods, already_checked_in):
    """The pairs to check in, order by order and mode by mode (a pair selected for the
    first mode counts as done for the next)."""
    by_order, order_of = {}, {}
    for op in positions:
        order_of[op.pk] = op.order
        by_order.setdefault(op.order_id, []).append(matching.Position(
            id=op.pk, item_id=op.item_id, variation_id=op.variation_id,
            subevent_id=op.subevent_id, canceled=op.canceled,
        ))
    done = {}
    for position_id, list_id in already_checked_in:
        if position_id in order_of:
            done.setdefault(order_of[position_id].pk, set()).add((position_id, list_id))
    pairs = []
    for order_id, order_positions in by_order.items():
        order = order_of[order_positions[0].id]
        seen = done.get(order_id, set())
        for mode in modes:
            selected = matching.select_checkins(
                mode=mode,
                sales_channel_id=order.sales_channel_id,
                payment_methods=payment_methods.get(order_id, frozenset()),
                positions=order_positions,
                rules=ruleset.rules,
                lists=ruleset.lists.values(),
                already_checked_in=seen,
            )
            seen = seen | set(selected)
            pairs.extend(selected)
    return pairs


def _checkins(*, positions, pairs):
    dt = now()
    return [
        Checkin(
            position=positions[position_id],
            list_id=list_id,
            type=Checkin.TYPE_ENTRY,
            auto_checked_in=True,
            datetime=dt,
        )
        for position_id, list_id in pairs
    ]


def _save_checkins(checkins):
    # Exactly the row pretix's bundled auto check-in looks up with get_or_create, so
    # with both plugins active it finds ours instead of adding a second one.
    Checkin.objects.bulk_create(checkins)
    LogEntry.bulk_create_and_postprocess([
        ci.position.order.log_action(
            "pretix.event.checkin",
            data={
                "position": ci.position.pk,
                "positionid": ci.position.positionid,
                "first": True,
                "forced": False,
                "datetime": ci.datetime,
                "type": Checkin.TYPE_ENTRY,
                "answers": {},
                "list": ci.list_id,
                "auto_checked_in": True,
            },
            save=False,
        )
        for ci in checkins
    ])


def _touch(orders):
    """What ``Order.touch()`` does, for all orders at once: pretixSCAN and other clients
    sync by the order's modification time."""
    dt = now()
    Order.objects.filter(pk__in=sorted(orders)).update(last_modified=dt)
    for order in orders.values():
        order.last_modified = dt


def _clear_counts(event, list_ids):
    """The cached counts ``Checkin.save()`` clears: the event's check-in count and what
    ``CheckinList.touch()`` clears for each list, in one call to the cache
    (``tests/test_rules_checkin_effects.py`` compares the two)."""
    event.cache.delete_many(["checkin_count"] + [
        key.format(list_id) for list_id in sorted(list_ids)
        for key in ("checkin_list_{}_position_count", "checkin_list_{}_checkin_count")
    ])
