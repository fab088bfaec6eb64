"""The three reads of a rules run, one hand-written SQL statement each."""
import functools
import json
from dataclasses import dataclass
from typing import Dict, Tuple

from django.db import connection
from pretix.base.models import Checkin, CheckinList, OrderPayment, OrderPosition

from .. import rules as matching
from ..models import AutoCheckinRule

#: Payments whose provider counts as "the order was paid with": pretix's own notion of
#: money received, kept when the payment is refunded later.
COUNTED_PAYMENT_STATES = (
    OrderPayment.PAYMENT_STATE_CONFIRMED,
    OrderPayment.PAYMENT_STATE_REFUNDED,
)


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
    and the event's lists, or ``None`` if there are no such rules. ``model`` may be the
    bundled plugin's rule, whose fields mean the same."""
    modes = sorted(set(modes))
    rule_ids = None if rule_ids is None else sorted(set(rule_ids))
    sql = _rules_sql(model, len(modes), None if rule_ids is None else len(rule_ids))
    rules, lists, limits = {}, {}, {}
    for kind, owner, ref, *flags in _fetch(sql, [event.pk, *modes, *(rule_ids or ()), *[event.pk] * 5]):
        if kind == "rule":
            rules[owner] = (ref, *flags)
        elif kind == "list":
            lists[owner] = (ref, flags[2])
        else:
            limits.setdefault((kind, owner), set()).add(ref)
    if not rules:
        return None

    def limit(kind, owner):
        return frozenset(limits.get((kind, owner), ()))

    return RuleSet(
        rules=tuple(
            matching.Rule(
                id=rule_id, list_id=list_id, mode=mode,
                all_sales_channels=bool(all_channels), sales_channel_ids=limit("channel", rule_id),
                all_products=bool(all_products), product_ids=limit("product", rule_id),
                variation_ids=limit("variation", rule_id),
                all_payment_methods=bool(all_methods), payment_methods=_payment_methods(model, methods),
            )
            for rule_id, (list_id, mode, all_channels, all_products, all_methods, methods) in sorted(rules.items())
        ),
        lists={
            list_id: matching.CheckinList(id=list_id, subevent_id=subevent_id, all_products=bool(all_products),
                                          product_ids=limit("list_product", list_id))
            for list_id, (subevent_id, all_products) in lists.items()
        },
    )


def load_positions(order_ids, *, lock):
    """The orders' positions, canceled ones too, in id order (locked in that order)."""
    order_ids = sorted(set(order_ids))
    return list(OrderPosition.all.raw(_positions_sql(len(order_ids), lock), order_ids))


def load_checkins_and_payments(positions, *, with_payments):
    """The ``(position id, list id)`` pairs with a successful entry already and, if
    asked, the providers each order was paid with."""
    order_ids = sorted({op.order_id for op in positions})
    params = [*order_ids, Checkin.TYPE_ENTRY, True]
    if with_payments:
        params += [*order_ids, *COUNTED_PAYMENT_STATES]
    existing, methods = [], {}
    for kind, owner, list_id, provider in _fetch(_checkins_sql(len(order_ids), with_payments), params):
        if kind == "checkin":
            existing.append((owner, list_id))
        else:
            methods.setdefault(owner, set()).add(provider)
    return existing, {order_id: frozenset(providers) for order_id, providers in methods.items()}


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


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _through(model, field):
    """A many-to-many field's table and its two id columns (owner, target)."""
    m2m, qn = model._meta.get_field(field), connection.ops.quote_name
    return qn(m2m.m2m_db_table()), qn(m2m.m2m_column_name()), qn(m2m.m2m_reverse_name())


def _marks(count):
    return ", ".join(["%s"] * count)


# Each statement is built once per shape and run through a cursor; UNION ALL, CAST and FOR
# UPDATE only, so the same text runs on PostgreSQL and SQLite. The figures beside each are
# the median per call, hand-written / the same rows read through the ORM, on SQLite and on
# PostgreSQL (this project's machine, 7 December, two runs: an order of two tickets under
# the benchmark's five rules, where a whole run that checks in takes 2.1 ms on SQLite and
# 5.8 ms on PostgreSQL). The ORM's cost is building the query anew on every call; all three
# through it would make that run 2.5 times as long on SQLite, 1.6 times on PostgreSQL.


@functools.lru_cache(maxsize=None)
def _rules_sql(model, mode_count, rule_id_count):
    """Rows ``(kind, owner, ref, mode, all_sales_channels, all_products,
    all_payment_methods, payment methods as text)``, unused columns NULL:
    ``rule``: rule id, list id, and the rest; ``list``: list id, subevent id, its
    ``all_products``; ``channel``, ``product``, ``variation``: rule id, the limit's id;
    ``list_product``: list id, product id.

    Parameters: the event, the modes, the rule ids (if any), the event five times more.

    0.05 / 2.0–2.2 ms on SQLite, 0.5 / 2.6–3.2 ms on PostgreSQL: the ORM's six-part union
    costs more than the rest of the run.
    """
    rules = _table(model)
    where = "event_id = %s AND mode IN ({})".format(_marks(mode_count))
    if rule_id_count is not None:
        where += " AND id IN ({})".format(_marks(rule_id_count))
    parts = [
        "SELECT 'rule', id, list_id, mode, all_sales_channels, all_products, all_payment_methods, "
        f"CAST(limit_payment_methods AS text) FROM {rules} WHERE {where}"
    ]
    for kind, field in (("channel", "limit_sales_channels"), ("product", "limit_products"),
                        ("variation", "limit_variations")):
        through, owner, target = _through(model, field)
        parts.append(
            f"SELECT '{kind}', t.{owner}, t.{target}, NULL, NULL, NULL, NULL, NULL FROM {through} t "
            f"INNER JOIN {rules} r ON r.id = t.{owner} WHERE r.event_id = %s"
        )
    lists = _table(CheckinList)
    through, owner, target = _through(CheckinList, "limit_products")
    parts += [
        f"SELECT 'list', id, subevent_id, NULL, NULL, all_products, NULL, NULL FROM {lists} WHERE event_id = %s",
        f"SELECT 'list_product', t.{owner}, t.{target}, NULL, NULL, NULL, NULL, NULL FROM {through} t "
        f"INNER JOIN {lists} l ON l.id = t.{owner} WHERE l.event_id = %s",
    ]
    return " UNION ALL ".join(parts)


@functools.lru_cache(maxsize=64)
def _positions_sql(order_count, lock):
    """``OrderPosition.all.filter(order__in=…).order_by("pk")``, with
    ``select_for_update()`` if ``lock``. Parameters: the order ids.

    0.25 / 0.65 ms on SQLite, 0.5 / 0.95 ms on PostgreSQL.
    """
    columns = ", ".join(connection.ops.quote_name(f.column) for f in OrderPosition._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {_table(OrderPosition)} WHERE order_id IN ({_marks(order_count)}) ORDER BY id"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


@functools.lru_cache(maxsize=64)
def _checkins_sql(order_count, with_payments):
    """Rows ``(kind, owner, list id, provider)``: ``checkin``: position id and list id of a
    successful entry; ``payment``: order id and provider of a counted payment.

    Parameters: the order ids, the entry type, ``True``, and with payments the order ids
    and the counted payment states.

    0.02 / 0.7 ms on SQLite, 0.3 / 1.2–1.3 ms on PostgreSQL.
    """
    orders = _marks(order_count)
    sql = (
        f"SELECT 'checkin', c.position_id, c.list_id, NULL FROM {_table(Checkin)} c "
        f"INNER JOIN {_table(OrderPosition)} p ON p.id = c.position_id "
        f"WHERE p.order_id IN ({orders}) AND c.type = %s AND c.successful = %s"
    )
    if with_payments:
        sql += (
            f" UNION ALL SELECT 'payment', order_id, NULL, provider FROM {_table(OrderPayment)} "
            f"WHERE order_id IN ({orders}) AND state IN ({_marks(len(COUNTED_PAYMENT_STATES))})"
        )
    return sql
