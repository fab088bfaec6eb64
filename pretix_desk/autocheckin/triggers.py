"""Which rules an order's signals run: the modes its state has earned, each run once."""
from pretix.base.models import Order
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

from ..models import AutoCheckinRule
from .engine import check_in_order
from .queries import RuleSet, load_rules

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


def placed(order):
    """``order_placed``: the placed rules, and the paid ones too if the order is paid.

    pretix sends ``order_paid`` right after ``order_placed`` for an order it creates as
    paid (the order API, an import), with the same object: that signal then finds the
    work done (see ``paid``) instead of loading everything a second time.
    """
    if order.status != Order.STATUS_PAID:
        return check_in_order(order=order, modes=(AutoCheckinRule.MODE_PLACED,))
    return _with_paid_rules(order, (AutoCheckinRule.MODE_PLACED, AutoCheckinRule.MODE_PAID))


def paid(order):
    """``order_paid``: the paid rules, unless they ran for this very object a moment ago
    and it has not been saved since."""
    ran = order.__dict__.pop(_PAID_RULES_RAN, None)
    if ran is not None and ran == order.last_modified:
        return []
    return check_in_order(order=order, modes=(AutoCheckinRule.MODE_PAID,))


def changed(order):
    """``order_changed``: new positions, products or dates get the rules of the state the
    order is in."""
    return check_in_order(order=order, modes=modes_for_state(order.status))


def reactivated(order):
    """``order_reactivated``: the rules of the state the order is in again. pretix sends
    ``order_paid`` right after for a paid one, as for a new order (see ``placed``)."""
    modes = modes_for_state(order.status)
    if AutoCheckinRule.MODE_PAID not in modes:
        return check_in_order(order=order, modes=modes)
    return _with_paid_rules(order, modes)


def _with_paid_rules(order, modes):
    created = check_in_order(order=order, modes=modes)
    # The order's modification time as the run left it: any later save changes it, and
    # the mark no longer counts.
    order.__dict__[_PAID_RULES_RAN] = order.last_modified
    return created


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
