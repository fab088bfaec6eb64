"""Copying rules: into a cloned event, onto a copied product, from the bundled plugin."""
from dataclasses import dataclass
from typing import Mapping, Optional

from django.db.models import Q

from ..models import AutoCheckinRule

COPIED_FIELDS = ("mode", "all_sales_channels", "all_products", "all_payment_methods")


@dataclass(frozen=True)
class Counterparts:
    """What a copy names in place of the original's list, products, variations (by id) and
    sales channels (by identifier: a cloned event may live in another organizer). ``None``
    keeps them as they are; what a mapping leaves out is left out of the copy."""
    lists: Optional[Mapping] = None
    items: Optional[Mapping] = None
    variations: Optional[Mapping] = None
    channels: Optional[Mapping] = None


def copy_rule(source, *, into, counterparts=Counterparts()):
    """Give rule ``into`` what rule ``source`` (ours or the bundled plugin's) does, through
    ``counterparts``, and return it.

    An unsaved ``into`` gets the mode, switches, list and payment methods too and is
    saved; it is left unsaved (``None`` returned) if the list has no copy, rather than
    widened to every list. A saved one (the rule itself when a product is copied) only
    gains the copies of what ``source`` is limited to.
    """
    if into.pk is None:
        if source.list_id and counterparts.lists is not None:
            if source.list_id not in counterparts.lists:
                return None
            into.list = counterparts.lists[source.list_id]
        else:
            into.list_id = source.list_id
        for name in COPIED_FIELDS:
            setattr(into, name, getattr(source, name))
        into.limit_payment_methods = list(source.limit_payment_methods or [])
        into.save()
    into.limit_sales_channels.add(*_counterparts_of(source.limit_sales_channels, counterparts.channels, "identifier"))
    into.limit_products.add(*_counterparts_of(source.limit_products, counterparts.items, "pk"))
    into.limit_variations.add(*_counterparts_of(source.limit_variations, counterparts.variations, "pk"))
    return into


def _counterparts_of(related, mapping, key):
    if mapping is None:
        return list(related.all())
    if not mapping:
        return []
    return [mapping[getattr(o, key)] for o in related.all() if getattr(o, key) in mapping]


def copy_event_rules(*, source, target, item_map, variation_map, checkin_list_map):
    """Give a cloned event the rules of the event it was cloned from (pretix skips lists
    of dates, and the rules on them)."""
    counterparts = Counterparts(
        lists=checkin_list_map, items=item_map, variations=variation_map,
        channels={c.identifier: c for c in target.organizer.sales_channels.all()},
    )
    for rule in source.pretix_desk_rules.prefetch_related(
        "limit_sales_channels", "limit_products", "limit_variations",
    ):
        copy_rule(rule, into=AutoCheckinRule(event=target), counterparts=counterparts)


def copy_item_rules(*, source, target):
    """A product created as a copy of another joins the rules that name the original.

    pretix copies the variations in their order, so a rule naming a variation of the
    original names the same-named variation in the same place of the copy.
    """
    old_variations, new_variations = list(source.variations.all()), list(target.variations.all())
    variation_map = {
        old.pk: new for old, new in zip(old_variations, new_variations)
        if str(old.value) == str(new.value)
    } if len(old_variations) == len(new_variations) else {}
    counterparts = Counterparts(items={source.pk: target}, variations=variation_map, channels={})
    for rule in AutoCheckinRule.objects.filter(
        Q(limit_products=source) | Q(limit_variations__in=list(variation_map)), event_id=source.event_id,
    ).distinct().prefetch_related("limit_products", "limit_variations"):
        copy_rule(rule, into=rule, counterparts=counterparts)
