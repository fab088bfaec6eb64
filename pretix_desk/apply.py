"""Applying a rule to the orders that exist already, batch by batch."""
from collections import Counter

from django.db import OperationalError
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from pretix.base.models import Order

from .autocheckin import engine
from .autocheckin.queries import load_rules
from .autocheckin.triggers import COVERED_STATUSES

BATCH_SIZE = 500
#: PostgreSQL's deadlock_detected and serialization_failure.
RETRY_SQLSTATES = ("40P01", "40001")


def apply_rule(*, rule, dry_run, batch_size=BATCH_SIZE, progress=None, user=None, auth=None):
    """Check in what ``rule`` would have checked in on the event's existing orders; on a
    dry run only count it. Returns a summary (see ``summary``); a real run also logs it
    on the rule (``pretix_desk.rule.applied``).

    The orders its mode covers, by ascending id, ``batch_size`` at a time; each batch is one
    short transaction through the signals' code (``engine.check_in_orders``): a bounded
    number of queries, locks held only for itself, never a ticket checked in twice on a
    list, whatever scans or signals run at the same time. Only the current batch and a
    few counters are ever held in memory.

    ``progress(done, total)`` is called after every batch with the number of orders
    processed so far and the number there were at the start.
    """
    event = rule.event
    statuses = COVERED_STATUSES[rule.mode]
    orders = Order.objects.filter(event_id=event.pk, status__in=statuses)
    if not rule.all_sales_channels:
        orders = orders.filter(sales_channel__in=rule.limit_sales_channels.all())
    total = orders.count()
    ruleset = load_rules(event=event, modes=(rule.mode,), rule_ids=[rule.pk])

    per_list, tickets, touched = Counter(), 0, 0
    done, last_id = 0, 0
    while ruleset is not None:
        order_ids = list(
            orders.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not order_ids:
            break
        checkins = _retrying(lambda: engine.check_in_orders(
            event=event, order_ids=order_ids, ruleset=ruleset, modes=(rule.mode,),
            statuses=statuses, dry_run=dry_run,
        ))
        per_list.update(ci.list_id for ci in checkins)
        tickets += len({ci.position_id for ci in checkins})
        touched += len({ci.position.order_id for ci in checkins})
        done += len(order_ids)
        last_id = order_ids[-1]
        if progress:
            progress(min(done, total), total)

    result = summary(rule=rule, dry_run=dry_run, orders=total, orders_changed=touched,
                     tickets=tickets, per_list=per_list)
    if not dry_run:
        rule.log_action("pretix_desk.rule.applied", user=user, auth=auth, data=result)
    return result


def _retrying(run_batch, attempts=3):
    """Run a batch again if PostgreSQL chose it as a deadlock's victim (say, an order change
    that updates its positions in another order than ours): a batch is one transaction
    that re-reads what exists, so running it again is safe."""
    for attempt in range(attempts):
        try:
            return run_batch()
        except OperationalError as e:
            if attempt == attempts - 1 or getattr(e.__cause__, "sqlstate", None) not in RETRY_SQLSTATES:
                raise


def summary(*, rule, dry_run, orders, orders_changed, tickets, per_list):
    """What a run did (or would do), as the API shows it and the rule's log records it:
    ``checkins`` counts each list separately, ``tickets`` each ticket once."""
    names = dict(rule.event.checkin_lists.filter(pk__in=list(per_list)).values_list("pk", "name"))
    return {
        "rule": rule.pk,
        "mode": rule.mode,
        "dry_run": dry_run,
        "orders": orders,
        "orders_changed": orders_changed,
        "tickets": tickets,
        "checkins": sum(per_list.values()),
        "lists": [
            {"id": list_id, "name": names.get(list_id, ""), "checkins": count}
            for list_id, count in sorted(per_list.items())
        ],
    }


def describe(result):
    """The summary in one sentence, e.g. "This will check in 1,240 tickets on 2 lists."

    Counted per list, as each list shows it: a ticket checked in on two lists counts
    twice.
    """
    count = result["checkins"]
    lists = result["lists"]
    fmt = {
        "count": number_format(count, force_grouping=True),
        "lists": number_format(len(lists), force_grouping=True),
        "list": lists[0]["name"] if lists else "",
    }
    if result["dry_run"]:
        if not count:
            return gettext("Nothing to do: every ticket this rule covers is checked in already.")
        if len(lists) == 1:
            return ngettext(
                "This will check in {count} ticket on list {list}.",
                "This will check in {count} tickets on list {list}.", count,
            ).format(**fmt)
        return ngettext(
            "This will check in {count} tickets on {lists} list.",
            "This will check in {count} tickets on {lists} lists.", len(lists),
        ).format(**fmt)
    if not count:
        return gettext("Nothing was checked in: every ticket this rule covers was checked in already.")
    if len(lists) == 1:
        return ngettext(
            "{count} ticket has been checked in on list {list}.",
            "{count} tickets have been checked in on list {list}.", count,
        ).format(**fmt)
    return ngettext(
        "{count} tickets have been checked in on {lists} list.",
        "{count} tickets have been checked in on {lists} lists.", len(lists),
    ).format(**fmt)
