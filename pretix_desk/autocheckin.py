"""Running an event's auto check-in rules for one order.

The matching itself lives in ``rules.py``; this module loads its input with a fixed
number of queries, writes the check-ins in bulk and makes them visible the way pretix
makes a scan visible: a ``pretix.event.checkin`` entry in the order's log (which drives
webhooks) and the ``checkin_created`` signal.
"""
from django.db import transaction
from django.db.models import CharField, Value
from django.utils.timezone import now
from pretix.base.models import (
    Checkin, CheckinList, LogEntry, OrderPayment, OrderPosition,
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


def auto_checkin(*, order, mode):
    """Check the order's tickets in as the event's rules for ``mode`` say; return the
    new check-ins.

    Reads: the rules, one union over their conditions and the event's lists, the
    order's payments (only if a rule asks for payment methods), the positions (locked)
    and their existing auto check-ins: at most five, whatever the size of the order.
    The lock serialises concurrent runs for one order (a re-sent signal, ``placed``
    and ``paid`` in quick succession), so the existing check-ins read after it are
    complete and no ticket is checked in twice on a list.
    """
    event = order.event
    rules = _load_rules(event=event, mode=mode)
    if not rules:
        return []
    conditions = _load_conditions(event=event, rule_ids=[r["id"] for r in rules])
    rules = [_rule(r, conditions) for r in rules]

    payment_methods = frozenset()
    if any(not r.all_payment_methods for r in rules):
        payment_methods = frozenset(
            OrderPayment.objects.filter(order_id=order.pk, state__in=COUNTED_PAYMENT_STATES)
            .order_by()
            .values_list("provider", flat=True)
        )
    rules = [
        r for r in rules
        if r.applies_to_order(mode=mode, sales_channel_id=order.sales_channel_id,
                              payment_methods=payment_methods)
    ]
    if not rules:
        return []

    with transaction.atomic():
        positions = {
            op.pk: op for op in OrderPosition.all.filter(order_id=order.pk)
            .select_for_update(of=OF_SELF).order_by()
        }
        # Read after the lock: a concurrent run that held it has committed by now.
        existing = (
            Checkin.objects.filter(position__order_id=order.pk, auto_checked_in=True)
            .order_by()
            .values_list("position_id", "list_id")
        )
        pairs = matching.select_checkins(
            mode=mode,
            sales_channel_id=order.sales_channel_id,
            payment_methods=payment_methods,
            positions=[
                matching.Position(id=op.pk, item_id=op.item_id, variation_id=op.variation_id,
                                  subevent_id=op.subevent_id, canceled=op.canceled)
                for op in positions.values()
            ],
            rules=rules,
            lists=conditions["lists"].values(),
            already_checked_in=list(existing),
        )
        if not pairs:
            return []
        checkins = _create_checkins(order=order, positions=positions, pairs=pairs)

    event.cache.delete("checkin_count")
    for list_id in {ci.list_id for ci in checkins}:
        CheckinList(pk=list_id, event=event).touch()
    for ci in checkins:
        checkin_created.send(event, checkin=ci)
    return checkins


def _create_checkins(*, order, positions, pairs):
    dt = now()
    checkins = []
    for position_id, list_id in pairs:
        op = positions[position_id]
        op.order = order  # receivers of checkin_created reach the order without a query
        checkins.append(Checkin(
            position=op,
            list_id=list_id,
            type=Checkin.TYPE_ENTRY,
            auto_checked_in=True,
            datetime=dt,
        ))
    # Exactly the row pretix's bundled auto check-in looks up with get_or_create, so
    # with both plugins active it finds ours instead of adding a second one.
    Checkin.objects.bulk_create(checkins)
    order.touch()
    LogEntry.bulk_create_and_postprocess([
        order.log_action(
            "pretix.event.checkin",
            data={
                "position": ci.position.pk,
                "positionid": ci.position.positionid,
                "first": True,
                "forced": False,
                "datetime": dt,
                "type": Checkin.TYPE_ENTRY,
                "answers": {},
                "list": ci.list_id,
                "auto_checked_in": True,
            },
            save=False,
        )
        for ci in checkins
    ])
    return checkins


def _load_rules(*, event, mode):
    return list(
        AutoCheckinRule.objects.filter(event_id=event.pk, mode=mode)
        .order_by("id")
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
