"""Running an event's auto check-in rules for orders.

The matching itself lives in ``rules.py``; this module loads its input with a fixed
number of queries, writes the check-ins in bulk and makes them visible the way pretix
makes a scan visible: a ``pretix.event.checkin`` entry in the order's log (which drives
webhooks) and the ``checkin_created`` signal.

One code path serves a single order (the signals, see ``check_in_order``) and a batch of
orders (applying a rule to the orders that exist already, see ``apply.py``): both lock the
positions, read their existing auto check-ins after the lock and write only what is
missing, so no ticket is ever auto-checked-in twice on a list, whoever runs at the same
time.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

from django.db import transaction
from django.db.models import CharField, Value
from django.utils.timezone import now
from pretix.base.models import (
    Checkin, CheckinList, LogEntry, Order, OrderPayment, OrderPosition,
)
from pretix.base.signals import (
    checkin_created, get_defining_app, register_payment_providers,
)
from pretix.helpers.database import OF_SELF

from . import rules as matching
from .models import AutoCheckinRule

#: Payments whose provider counts as "the order was paid with": pretix's own notion of
#: money received, kept when the payment is refunded later.
COUNTED_PAYMENT_STATES = (
    OrderPayment.PAYMENT_STATE_CONFIRMED,
    OrderPayment.PAYMENT_STATE_REFUNDED,
)

#: The order states each mode covers. "placed" is every order pretix still counts as
#: placed: pending (also while it awaits approval, as ``order_placed`` fires for those
#: too) or paid; "paid" is a paid order. Expired and canceled orders are covered by
#: neither: their tickets are not valid, so nothing is checked in for them.
COVERED_STATUSES = {
    AutoCheckinRule.MODE_PLACED: (Order.STATUS_PENDING, Order.STATUS_PAID),
    AutoCheckinRule.MODE_PAID: (Order.STATUS_PAID,),
}


def modes_for_state(status):
    """The modes whose rules an order in this state has earned: a paid order was placed
    and paid, a pending one only placed."""
    return tuple(mode for mode, statuses in COVERED_STATUSES.items() if status in statuses)


@dataclass(frozen=True)
class RuleSet:
    """Some rules of an event with everything matching needs: the event's lists."""
    rules: Tuple[matching.Rule, ...]
    lists: Dict[int, matching.CheckinList]

    @property
    def needs_payment_methods(self):
        return any(not r.all_payment_methods for r in self.rules)


def load_rules(*, event, modes, rule_ids=None):
    """The event's rules for ``modes`` (only ``rule_ids`` if given), or ``None`` if there
    are none: one query, and one more for their conditions and the lists."""
    rows = _load_rules(event=event, modes=modes, rule_ids=rule_ids)
    if not rows:
        return None
    conditions = _load_conditions(event=event, rule_ids=[r["id"] for r in rows])
    return RuleSet(rules=tuple(_rule(r, conditions) for r in rows), lists=conditions["lists"])


def auto_checkin(*, order, mode):
    """Check the order's tickets in as the event's rules for ``mode`` say; return the
    new check-ins."""
    return check_in_order(order=order, modes=(mode,))


def check_in_order(*, order, modes):
    """Check the order's tickets in as the event's rules for ``modes`` say; return the
    new check-ins.

    Reads: the rules, one union over their conditions and the event's lists, the
    order's payments (only if a rule asks for payment methods), the positions (locked)
    and their existing auto check-ins: at most five, whatever the size of the order.
    """
    if not modes:
        return []
    ruleset = load_rules(event=order.event, modes=modes)
    if ruleset is None:
        return []
    payment_methods = {order.pk: frozenset()}
    if ruleset.needs_payment_methods:
        payment_methods = load_payment_methods([order.pk])
    if not any(
        rule.applies_to_order(mode=mode, sales_channel_id=order.sales_channel_id,
                              payment_methods=payment_methods.get(order.pk, ()))
        for rule in ruleset.rules for mode in modes
    ):
        return []
    return check_in_orders(
        event=order.event, order_ids=[order.pk], ruleset=ruleset, modes=modes,
        payment_methods=payment_methods, known_orders={order.pk: order},
    )


def load_payment_methods(order_ids):
    """The providers each order was paid with, in one query."""
    methods = {}
    for order_id, provider in (
        OrderPayment.objects.filter(order_id__in=order_ids, state__in=COUNTED_PAYMENT_STATES)
        .order_by().values_list("order_id", "provider")
    ):
        methods.setdefault(order_id, set()).add(provider)
    return {order_id: frozenset(providers) for order_id, providers in methods.items()}


def check_in_orders(*, event, order_ids, ruleset, modes, payment_methods, statuses=None,
                    known_orders=None, dry_run=False):
    """Check in what ``ruleset`` selects for these orders; return the new check-ins
    (unsaved ones on a dry run, which writes and locks nothing).

    Reads two queries (the positions with their orders, locked, then the existing auto
    check-ins) and, unless nothing is new, writes three (check-ins, log entries, the
    orders' modification time), however many orders and positions there are.

    The lock is on the positions, taken in id order, and only positions are locked while
    the check-ins are written: a scan at the door locks its position first and its order
    after, a payment its order first and the positions after (through these signals), so
    holding positions without ever waiting for an order row deadlocks against neither.
    The orders' modification time is updated once the positions are released. The lock serialises concurrent runs for
    the same tickets (a re-sent signal, ``placed`` and ``paid`` in quick succession, a
    rule applied to existing orders), so the check-ins read after it are complete.
    ``statuses``, if given, skips orders no longer in a state the run covers.
    ``known_orders`` are order objects the caller holds, used instead of the loaded
    copies (their modification time is updated in place).
    """
    known_orders = known_orders or {}
    with transaction.atomic():
        positions = _load_positions(order_ids, lock=not dry_run)
        orders = {}
        for op in positions:
            order = orders.get(op.order_id)
            if order is None:
                order = orders[op.order_id] = known_orders.get(op.order_id, op.order)
                order.event = event  # log entries and receivers reach the event without a query
            op.order = order
        if statuses is not None:
            positions = [op for op in positions if op.order.status in statuses]
        if not positions:
            return []
        # Read after the lock: a concurrent run (or a scan, which locks the position too)
        # that held it has committed by now. Any successful entry counts, automatic or
        # scanned: a ticket is never checked in twice on one list.
        existing = (
            Checkin.objects.filter(position__order_id__in=list(orders), type=Checkin.TYPE_ENTRY)
            .order_by()
            .values_list("position_id", "list_id")
        )
        pairs = _select(
            positions=positions, ruleset=ruleset, modes=modes,
            payment_methods=payment_methods, already_checked_in=list(existing),
        )
        if not pairs:
            return []
        by_id = {op.pk: op for op in positions}
        checkins = _checkins(positions=by_id, pairs=pairs)
        if dry_run:
            return checkins
        _save_checkins(checkins)

    _touch({ci.position.order_id: ci.position.order for ci in checkins})
    event.cache.delete("checkin_count")
    for list_id in {ci.list_id for ci in checkins}:
        CheckinList(pk=list_id, event=event).touch()
    for ci in checkins:
        checkin_created.send(event, checkin=ci)
    return checkins


def _load_positions(order_ids, *, lock):
    qs = OrderPosition.all.filter(order_id__in=order_ids).select_related("order").order_by("pk")
    if lock:
        qs = qs.select_for_update(of=OF_SELF)
    return list(qs)


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


def _touch(orders):
    """What ``Order.touch()`` does, for all orders at once: pretixSCAN and other clients
    sync by the order's modification time."""
    dt = now()
    Order.objects.filter(pk__in=list(orders)).update(last_modified=dt)
    for order in orders.values():
        order.last_modified = dt


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


def _load_rules(*, event, modes, rule_ids=None):
    qs = AutoCheckinRule.objects.filter(event_id=event.pk, mode__in=list(modes))
    if rule_ids is not None:
        qs = qs.filter(pk__in=list(rule_ids))
    return list(
        qs.order_by("id")
        .values(
            "id", "mode", "list_id", "all_sales_channels", "all_products",
            "all_payment_methods", "limit_payment_methods",
        )
    )


def _load_conditions(*, event, rule_ids):
    """Every condition row of the given rules and every list of the event, in one query.

    A union of uniform ``(kind, owner id, value)`` rows: the rules' sales channels,
    products and variations, the event's lists (``value`` is the list's subevent) and
    the lists' product limits.
    """
    def rows(qs, kind, owner, value):
        return qs.order_by().values_list(
            Value(kind, output_field=CharField()), owner, value,
        )

    rule_m2m = AutoCheckinRule._meta
    list_products = CheckinList.limit_products.through.objects.filter(checkinlist__event_id=event.pk)
    lists = CheckinList.objects.filter(event_id=event.pk)
    query = rows(
        rule_m2m.get_field("limit_sales_channels").remote_field.through.objects
        .filter(autocheckinrule_id__in=rule_ids),
        "channel", "autocheckinrule_id", "saleschannel_id",
    ).union(
        rows(rule_m2m.get_field("limit_products").remote_field.through.objects
             .filter(autocheckinrule_id__in=rule_ids),
             "product", "autocheckinrule_id", "item_id"),
        rows(rule_m2m.get_field("limit_variations").remote_field.through.objects
             .filter(autocheckinrule_id__in=rule_ids),
             "variation", "autocheckinrule_id", "itemvariation_id"),
        rows(lists.filter(all_products=True), "list_all", "id", "subevent_id"),
        rows(lists.filter(all_products=False), "list_limited", "id", "subevent_id"),
        rows(list_products, "list_product", "checkinlist_id", "item_id"),
        all=True,
    )
    by_kind = {"channel": {}, "product": {}, "variation": {}, "list_product": {}}
    list_rows = {}
    for kind, owner, value in query:
        if kind in ("list_all", "list_limited"):
            list_rows[owner] = (kind == "list_all", value)
        else:
            by_kind[kind].setdefault(owner, set()).add(value)
    return {
        **by_kind,
        "lists": {
            list_id: matching.CheckinList(
                id=list_id,
                all_products=all_products,
                product_ids=frozenset(by_kind["list_product"].get(list_id, ())),
                subevent_id=subevent_id,
            )
            for list_id, (all_products, subevent_id) in list_rows.items()
        },
    }


def _rule(row, conditions):
    rid = row["id"]
    return matching.Rule(
        id=rid,
        mode=row["mode"],
        list_id=row["list_id"],
        all_sales_channels=row["all_sales_channels"],
        sales_channel_ids=frozenset(conditions["channel"].get(rid, ())),
        all_products=row["all_products"],
        product_ids=frozenset(conditions["product"].get(rid, ())),
        variation_ids=frozenset(conditions["variation"].get(rid, ())),
        all_payment_methods=row["all_payment_methods"],
        payment_methods=frozenset(row["limit_payment_methods"] or ()),
    )


def payment_providers(event):
    """The payment providers a rule of this event may name, by identifier.

    pretix's ``event.get_payment_providers()`` leaves out hybrid plugins (bank transfer,
    PayPal, Stripe) that are enabled on the event while their organizer-level switch is
    still off; their payments can still exist on the event's orders, so we ask every
    provider whose plugin the event itself has enabled. Settings holders ("meta"
    providers) are not payment methods and stay out.
    """
    enabled = set(event.get_plugins())
    providers = dict(event.get_payment_providers())
    for receiver in register_payment_providers._live_receivers(event)[0]:
        app = get_defining_app(receiver)
        if app == "CORE" or app is None or app.name not in enabled:
            continue
        response = receiver(signal=register_payment_providers, sender=event)
        for cls in response if isinstance(response, (list, tuple)) else [response]:
            provider = cls(event)
            providers.setdefault(provider.identifier, provider)
    return {
        identifier: provider for identifier, provider in providers.items()
        if not provider.is_meta
    }


def copy_event_rules(*, source, target, item_map, variation_map, checkin_list_map):
    """Give a cloned event the rules of the event it was cloned from.

    Products, variations and lists are mapped to their clones; sales channels by
    identifier (the clone may live in another organizer). A rule whose list was not
    cloned (pretix skips lists of dates) is left out rather than widened to all lists.
    """
    channels = {c.identifier: c for c in target.organizer.sales_channels.all()}
    for old in source.pretix_desk_rules.prefetch_related(
        "limit_sales_channels", "limit_products", "limit_variations",
    ):
        if old.list_id and old.list_id not in checkin_list_map:
            continue
        rule = AutoCheckinRule.objects.create(
            event=target,
            list=checkin_list_map[old.list_id] if old.list_id else None,
            mode=old.mode,
            all_sales_channels=old.all_sales_channels,
            all_products=old.all_products,
            all_payment_methods=old.all_payment_methods,
            limit_payment_methods=list(old.limit_payment_methods or []),
        )
        rule.limit_sales_channels.set([
            channels[c.identifier] for c in old.limit_sales_channels.all() if c.identifier in channels
        ])
        rule.limit_products.set([item_map[i.pk] for i in old.limit_products.all() if i.pk in item_map])
        rule.limit_variations.set([
            variation_map[v.pk] for v in old.limit_variations.all() if v.pk in variation_map
        ])


def copy_item_rules(*, source, target):
    """A product created as a copy of another joins the rules that name the original.

    pretix copies the variations in their order, so a rule naming a variation of the
    original names the same-named variation in the same place of the copy.
    """
    for rule in AutoCheckinRule.objects.filter(event_id=source.event_id, limit_products=source):
        rule.limit_products.add(target)
    old_variations, new_variations = list(source.variations.all()), list(target.variations.all())
    variation_map = {
        old.pk: new for old, new in zip(old_variations, new_variations)
        if str(old.value) == str(new.value)
    } if len(old_variations) == len(new_variations) else {}
    if variation_map:
        for rule in AutoCheckinRule.objects.filter(
            event_id=source.event_id, limit_variations__in=list(variation_map),
        ).distinct().prefetch_related("limit_variations"):
            rule.limit_variations.add(*[
                variation_map[v.pk] for v in rule.limit_variations.all() if v.pk in variation_map
            ])
