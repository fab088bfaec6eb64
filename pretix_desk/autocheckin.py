"""Running an event's auto check-in rules for orders.

The matching itself lives in ``rules.py``; this module loads its input with a fixed
number of queries, writes the check-ins in bulk and makes them visible the way pretix
makes a scan visible: a ``pretix.event.checkin`` entry in the order's log (which drives
webhooks) and the ``checkin_created`` signal. What pretix's ``Checkin.save()`` does besides
writing the row (the order's modification time, cached counts) is repeated once for all
check-ins; ``tests/test_rules_checkin_effects.py`` fails when pretix's does more.

One code path serves a single order (the signals, see ``check_in_order``) and a batch of
orders (applying a rule to the orders that exist already, see ``apply.py``): both lock the
positions, read their existing check-ins after the lock and write only what is missing,
so no ticket is ever auto-checked-in twice on a list, whoever runs at the same time.

An order costs six statements when something is checked in, and one when the event has
no rules for it: the rules with their conditions and the event's lists (one union), the
positions (locked), their check-ins and the order's payments (one union), the check-ins,
their log entries, and the order's modification time.
"""
import functools
import json
from dataclasses import dataclass
from typing import Dict, Tuple

from django.db import connection, transaction
from django.utils.timezone import now
from pretix.base.models import (
    Checkin, CheckinList, LogEntry, Order, OrderPayment, OrderPosition,
)
from pretix.base.signals import (
    checkin_created, get_defining_app, register_payment_providers,
)
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

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

#: Set on an order object whose paid rules ran with its placed ones (see ``placed``).
_PAID_RULES_RAN = "_pretix_desk_paid_rules_ran"


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

    def may_apply(self, *, modes, sales_channel_id):
        """Whether a rule could apply to an order of this channel, whatever it was paid
        with: the payment methods are read later, with the check-ins."""
        return any(
            r.mode in modes and (r.all_sales_channels or sales_channel_id in r.sales_channel_ids)
            for r in self.rules
        )


def load_rules(*, event, modes, rule_ids=None, model=AutoCheckinRule):
    """The event's rules for ``modes`` (only ``rule_ids`` if given) with their conditions
    and the event's lists, or ``None`` if there are no such rules: one query. ``model``
    may be the bundled plugin's rule, whose fields mean the same (see ``bundled``)."""
    rows = _load_rules(event=event, modes=modes, rule_ids=rule_ids, model=model)
    return _ruleset(rows) if rows["rule"] else None


def placed(order):
    """``order_placed``: the placed rules, and the paid ones too if the order is paid.

    pretix sends ``order_paid`` right after ``order_placed`` for an order it creates as
    paid (the order API, an import), with the same object: that signal then finds the
    work done (see ``paid``) instead of loading everything a second time.
    """
    if order.status != Order.STATUS_PAID:
        return check_in_order(order=order, modes=(AutoCheckinRule.MODE_PLACED,))
    return _with_paid_rules(order, (AutoCheckinRule.MODE_PLACED, AutoCheckinRule.MODE_PAID))


def reactivated(order):
    """``order_reactivated``: the rules of the state the order is in again. pretix sends
    ``order_paid`` right after for a paid one, as for a new order (see ``placed``)."""
    modes = modes_for_state(order.status)
    if AutoCheckinRule.MODE_PAID not in modes:
        return check_in_order(order=order, modes=modes)
    return _with_paid_rules(order, modes)


def paid(order):
    """``order_paid``: the paid rules, unless they ran for this very object a moment ago
    and it has not been saved since."""
    ran = order.__dict__.pop(_PAID_RULES_RAN, None)
    if ran is not None and ran == order.last_modified:
        return []
    return check_in_order(order=order, modes=(AutoCheckinRule.MODE_PAID,))


def _with_paid_rules(order, modes):
    created = check_in_order(order=order, modes=modes)
    # The order's modification time as the run left it: any later save changes it, and
    # the mark no longer counts.
    order.__dict__[_PAID_RULES_RAN] = order.last_modified
    return created


def auto_checkin(*, order, mode):
    """Check the order's tickets in as the event's rules for ``mode`` say; return the
    new check-ins."""
    return check_in_order(order=order, modes=(mode,))


def bundled(order, mode):
    """The bundled plugin's rules for ``mode`` (its ``order_placed``/``order_paid``), carried
    out as ours are, in its place on events where both plugins are active (``signals.py``).

    Its own run looks only for its own automatic entry, so it checks a ticket in a second
    time that was scanned at the door before the order was paid; ours never does, and
    writes the order's log entry (webhooks) as for our rules. As in the bundled plugin, a
    rule for placed orders that is limited to payment methods never matches.
    """
    ruleset = load_rules(event=order.event, modes=(mode,), model=BundledRule)
    if ruleset is not None:
        ruleset = RuleSet(
            rules=tuple(
                r for r in ruleset.rules
                if r.mode == AutoCheckinRule.MODE_PAID or r.all_payment_methods
            ),
            lists=ruleset.lists,
        )
    return check_in_order(order=order, modes=(mode,), ruleset=ruleset)


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
    (unsaved ones on a dry run, which writes and locks nothing).

    Reads two queries (the positions, locked, then their existing check-ins together
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
        positions = _load_positions(order_ids, lock=not dry_run)
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
        existing, payment_methods = _load_checkins_and_payments(
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


def _load_positions(order_ids, *, lock):
    """The orders' positions, canceled ones too, in id order (locked in that order)."""
    order_ids = sorted(set(order_ids))
    return list(OrderPosition.all.raw(_positions_sql(len(order_ids), lock), order_ids))


def _load_checkins_and_payments(positions, *, with_payments):
    """The ``(position id, list id)`` pairs with a successful entry already and, if
    asked, the providers each order was paid with: one query."""
    order_ids = sorted({op.order_id for op in positions})
    params = [*order_ids, Checkin.TYPE_ENTRY, True]
    if with_payments:
        params += [*order_ids, *COUNTED_PAYMENT_STATES]
    existing, methods = [], {}
    for kind, owner, number, text in _fetch(_checkins_sql(len(order_ids), with_payments), params):
        if kind == "checkin":
            existing.append((owner, number))
        else:
            methods.setdefault(owner, set()).add(text)
    return existing, {order_id: frozenset(providers) for order_id, providers in methods.items()}


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


def _load_rules(*, event, modes, rule_ids=None, model=AutoCheckinRule):
    """The rules, every condition row of them and every list of the event, in one query
    (see ``_rules_sql``), sorted by kind: ``{kind: {owner id: values}}``, a rule's payment
    methods as a frozenset."""
    modes = sorted(set(modes))
    rule_ids = sorted(set(rule_ids)) if rule_ids is not None else None
    params = [event.pk, *modes, *(rule_ids or ()), *[event.pk] * 5]
    found = {kind: {} for kind in ("rule", "list", "channel", "product", "variation", "list_product")}
    for kind, owner, number, text, switches, payment_methods in _fetch(
        _rules_sql(len(modes), None if rule_ids is None else len(rule_ids), model), params,
    ):
        if kind == "rule":
            found[kind][owner] = (number, text, switches, _payment_methods(model, payment_methods))
        elif kind == "list":
            found[kind][owner] = (number, text, switches, payment_methods)
        else:
            found[kind].setdefault(owner, set()).add(number)
    return found


def _payment_methods(model, stored):
    """A rule's payment methods from the column's text: JSON in ours, pretix's delimited
    ``MultiStringField`` in the bundled plugin's."""
    if model is AutoCheckinRule:
        return frozenset((json.loads(stored) if stored else None) or ())
    return frozenset(model._meta.get_field("limit_payment_methods").to_python(stored))


def _fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# The two reads of every run are unions over several tables. Built with the ORM they
# cost more Python time than the rest of a run together, so they are plain SQL, put
# together once per shape from the models' table and column names. Portable between
# PostgreSQL and SQLite: UNION ALL, CAST to integer and text, nothing else.


def _quoted(model, field=None):
    qn = connection.ops.quote_name
    return qn(model._meta.db_table if field is None else model._meta.get_field(field).column)


def _marks(count):
    return ", ".join(["%s"] * count)


@functools.lru_cache(maxsize=None)
def _rules_sql(mode_count, rule_id_count, model=AutoCheckinRule):
    """Uniform rows ``(kind, owner, number, text, switches, payment methods)``:

    ``rule``: rule id, list id, mode, ``all_*`` switches as bits, payment methods (JSON);
    ``list``: list id, subevent id, -, ``all_products`` as bit 2;
    ``channel``, ``product``, ``variation``: rule id and the limit's id;
    ``list_product``: list id and product id.

    Parameters: the event, the modes, the rule ids (if any), the event five times more.
    ``model`` is our rule or the bundled plugin's, which has the same fields.
    """
    rule, clist = model, CheckinList
    rules = _quoted(rule)

    def bit(model, field, value):
        return "{} * CAST({} AS integer)".format(value, _quoted(model, field))

    where = "{} = %s AND {} IN ({})".format(_quoted(rule, "event"), _quoted(rule, "mode"), _marks(mode_count))
    if rule_id_count is not None:
        where += " AND {} IN ({})".format(_quoted(rule, "id"), _marks(rule_id_count))
    parts = [
        "SELECT 'rule', {}, {}, {}, {} + {} + {}, CAST({} AS text) FROM {} WHERE {}".format(
            _quoted(rule, "id"), _quoted(rule, "list"), _quoted(rule, "mode"),
            bit(rule, "all_sales_channels", 1), bit(rule, "all_products", 2),
            bit(rule, "all_payment_methods", 4), _quoted(rule, "limit_payment_methods"), rules, where,
        ),
    ]
    qn = connection.ops.quote_name
    for kind, name in (("channel", "limit_sales_channels"), ("product", "limit_products"),
                       ("variation", "limit_variations")):
        m2m = rule._meta.get_field(name)
        parts.append(
            "SELECT '{kind}', t.{owner}, t.{value}, NULL, NULL, NULL FROM {through} t "
            "INNER JOIN {rules} r ON r.{id} = t.{owner} WHERE r.{event} = %s".format(
                kind=kind, owner=qn(m2m.m2m_column_name()), value=qn(m2m.m2m_reverse_name()),
                through=qn(m2m.m2m_db_table()), rules=rules, id=_quoted(rule, "id"),
                event=_quoted(rule, "event"),
            )
        )
    parts.append("SELECT 'list', {}, {}, NULL, {}, NULL FROM {} WHERE {} = %s".format(
        _quoted(clist, "id"), _quoted(clist, "subevent"), bit(clist, "all_products", 2),
        _quoted(clist), _quoted(clist, "event"),
    ))
    m2m = clist._meta.get_field("limit_products")
    parts.append(
        "SELECT 'list_product', t.{owner}, t.{value}, NULL, NULL, NULL FROM {through} t "
        "INNER JOIN {lists} l ON l.{id} = t.{owner} WHERE l.{event} = %s".format(
            owner=qn(m2m.m2m_column_name()), value=qn(m2m.m2m_reverse_name()), through=qn(m2m.m2m_db_table()),
            lists=_quoted(clist), id=_quoted(clist, "id"), event=_quoted(clist, "event"),
        )
    )
    return " UNION ALL ".join(parts)


@functools.lru_cache(maxsize=64)
def _positions_sql(order_count, lock):
    """Every column of the positions of some orders. Parameters: the order ids."""
    sql = "SELECT {} FROM {} WHERE {} IN ({}) ORDER BY {}".format(
        ", ".join(connection.ops.quote_name(f.column) for f in OrderPosition._meta.concrete_fields),
        _quoted(OrderPosition), _quoted(OrderPosition, "order"), _marks(order_count),
        _quoted(OrderPosition, "id"),
    )
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


@functools.lru_cache(maxsize=64)
def _checkins_sql(order_count, with_payments):
    """Uniform rows ``(kind, owner, number, text)``: ``checkin``: position id, list id of
    a successful entry; ``payment``: order id, -, provider of a counted payment.

    Parameters: the order ids, the entry type, ``True``, and with payments the order ids
    and the counted payment states.
    """
    sql = (
        "SELECT 'checkin', c.{position}, c.{list}, NULL FROM {checkins} c "
        "INNER JOIN {positions} p ON p.{id} = c.{position} "
        "WHERE p.{order} IN ({orders}) AND c.{type} = %s AND c.{successful} = %s".format(
            position=_quoted(Checkin, "position"), list=_quoted(Checkin, "list"), checkins=_quoted(Checkin),
            positions=_quoted(OrderPosition), id=_quoted(OrderPosition, "id"),
            order=_quoted(OrderPosition, "order"), orders=_marks(order_count),
            type=_quoted(Checkin, "type"), successful=_quoted(Checkin, "successful"),
        )
    )
    if with_payments:
        sql += (
            " UNION ALL SELECT 'payment', {order}, NULL, {provider} FROM {payments} "
            "WHERE {order} IN ({orders}) AND {state} IN ({states})".format(
                order=_quoted(OrderPayment, "order"), provider=_quoted(OrderPayment, "provider"),
                payments=_quoted(OrderPayment), orders=_marks(order_count),
                state=_quoted(OrderPayment, "state"), states=_marks(len(COUNTED_PAYMENT_STATES)),
            )
        )
    return sql


def _ruleset(rows):
    lists = {
        list_id: matching.CheckinList(
            id=list_id,
            all_products=bool(switches & 2),
            product_ids=frozenset(rows["list_product"].get(list_id, ())),
            subevent_id=subevent_id,
        )
        for list_id, (subevent_id, _, switches, _) in rows["list"].items()
    }
    return RuleSet(rules=tuple(_rule(rid, rows) for rid in sorted(rows["rule"])), lists=lists)


def _rule(rid, rows):
    list_id, mode, switches, payment_methods = rows["rule"][rid]
    return matching.Rule(
        id=rid,
        mode=mode,
        list_id=list_id,
        all_sales_channels=bool(switches & 1),
        sales_channel_ids=frozenset(rows["channel"].get(rid, ())),
        all_products=bool(switches & 2),
        product_ids=frozenset(rows["product"].get(rid, ())),
        variation_ids=frozenset(rows["variation"].get(rid, ())),
        all_payment_methods=bool(switches & 4),
        payment_methods=payment_methods,
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
