"""Taking over the rules of pretix's bundled "Automated check-in" plugin, once."""
from dataclasses import dataclass
from typing import Optional

from django.db import transaction
from django.utils.translation import gettext, ngettext
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

from .autocheckin.copying import copy_rule
from .autocheckin.rule_data import rule_data
from .models import AutoCheckinRule

CREATED = "created"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Outcome:
    bundled_rule: int
    status: str  # CREATED or SKIPPED
    rule: Optional[int]  # the pretix-desk rule made or found
    reason: str = ""


def import_bundled_rules(*, event, user=None, auth=None):
    """Copy the event's bundled rules into pretix-desk rules; return one ``Outcome`` per
    bundled rule, in id order. Each new rule is logged (``pretix_desk.rule.imported``).

    Both plugins mean the same by every field, so a rule is copied as it is. A bundled
    rule imported before is skipped, even if its copy was edited since, and so is one
    that an identical pretix-desk rule covers already. The bundled rules are only read.
    """
    bundled = BundledRule.objects.filter(event=event).order_by("pk").prefetch_related(
        "limit_sales_channels", "limit_products", "limit_variations",
    )
    outcomes = []
    with transaction.atomic():
        ours = list(
            AutoCheckinRule.objects.filter(event=event).order_by("pk").prefetch_related(
                "limit_sales_channels", "limit_products", "limit_variations",
            )
        )
        by_source = {r.imported_from: r for r in ours if r.imported_from}
        by_shape = {}
        for r in ours:
            by_shape.setdefault(_shape(r), r)
        for source in bundled:
            outcome = _skip_reason(source, by_source=by_source, by_shape=by_shape)
            if outcome is None:
                rule = copy_rule(source, into=AutoCheckinRule(event=event, imported_from=source.pk))
                by_source[source.pk] = rule
                by_shape.setdefault(_shape(rule), rule)
                rule.log_action("pretix_desk.rule.imported", user=user, auth=auth, data={
                    "bundled_rule": source.pk, **rule_data(rule),
                })
                outcome = Outcome(bundled_rule=source.pk, status=CREATED, rule=rule.pk)
            outcomes.append(outcome)
    return outcomes


def _skip_reason(source, *, by_source, by_shape):
    if source.pk in by_source:
        rule = by_source[source.pk]
        return Outcome(source.pk, SKIPPED, rule.pk, gettext(
            "imported before as rule #{rule}"
        ).format(rule=rule.pk))
    if source.mode == BundledRule.MODE_PLACED and not source.all_payment_methods:
        # The bundled plugin evaluates such a rule with no payment at all, so it never
        # matched; pretix-desk refuses the combination.
        return Outcome(source.pk, SKIPPED, None, gettext(
            "it never checks anything in: it is limited to payment methods but runs when the "
            "order is placed, before any payment"
        ))
    existing = by_shape.get(_shape(source))
    if existing is not None:
        return Outcome(source.pk, SKIPPED, existing.pk, gettext(
            "rule #{rule} does the same already"
        ).format(rule=existing.pk))
    return None


def _shape(rule):
    """What a rule does, comparable between the two plugins' rules: limits that an
    "all" switch overrides do not count."""
    return (
        rule.list_id,
        rule.mode,
        None if rule.all_sales_channels else frozenset(c.pk for c in rule.limit_sales_channels.all()),
        None if rule.all_products else (
            frozenset(i.pk for i in rule.limit_products.all()),
            frozenset(v.pk for v in rule.limit_variations.all()),
        ),
        None if rule.all_payment_methods else frozenset(rule.limit_payment_methods or ()),
    )


def describe_import(outcomes):
    """The outcome in sentences: how many rules were imported, and each skipped one
    with its reason."""
    created = sum(1 for o in outcomes if o.status == CREATED)
    if not outcomes:
        lines = [gettext("pretix's automated check-in plugin has no rules for this event.")]
    else:
        lines = [ngettext(
            "{count} rule has been imported from pretix's automated check-in plugin.",
            "{count} rules have been imported from pretix's automated check-in plugin.", created,
        ).format(count=created)]
    lines += [
        gettext("Rule #{source} was skipped: {reason}.").format(source=o.bundled_rule, reason=o.reason)
        for o in outcomes if o.status == SKIPPED
    ]
    return lines
