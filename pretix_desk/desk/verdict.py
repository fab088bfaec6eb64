"""What a scan would answer, worked out once on the server for a desk that is offline.

pretix's ``perform_checkin`` decides admission. A desk without network cannot ask it, so
the preload ships, per attendee, the part of that decision the desk cannot see for itself,
as a short list of *steps* in the order ``perform_checkin`` checks them (see
``docs/offline.rst``). The page applies the steps with its clock and its own entries; it
holds no rule of its own. The differential tests (``tests/desk/test_desk_differential.py``)
scan a matrix of tickets online, through pretix's ``checkinrpc/redeem`` and through these
steps, and require the same answers; when pretix changes its order of checks, they fail.
"""
from dataclasses import dataclass
from typing import Optional

from pretix.base.models import Checkin, Order

REFUSE = "refuse"
WINDOW = "window"
SERVER = "server"
ASK = "ask"

#: Reasons only the server can judge; the desk answers "cannot verify offline".
SERVER_RULES = "rules"
SERVER_EXCHANGE = "exchange"
SERVER_AMBIGUOUS = Checkin.REASON_AMBIGUOUS
#: The server could not work out this record's steps (logged there).
SERVER_ERROR = Checkin.REASON_ERROR


@dataclass(frozen=True)
class ListFacts:
    """What of a check-in list the steps depend on, read once per request."""

    product_ids: Optional[frozenset]
    subevent_id: Optional[int]
    has_rules: bool
    addon_match: bool
    include_pending: bool

    @classmethod
    def of(cls, checkin_list, product_ids=None):
        if product_ids is None and not checkin_list.all_products:
            product_ids = [i.pk for i in checkin_list.limit_products.all()]
        return cls(
            product_ids=None if product_ids is None else frozenset(product_ids),
            subevent_id=checkin_list.subevent_id,
            has_rules=bool(checkin_list.rules),
            addon_match=checkin_list.addon_match,
            include_pending=checkin_list.include_pending,
        )

    def admits_product(self, position):
        return (self.product_ids is None or position.item_id in self.product_ids) and (
            not self.subevent_id or position.subevent_id == self.subevent_id
        )


def order_refusal(position):
    """The first reason pretix refuses this position whatever the list and the time:
    canceled, blocked, unapproved. None if there is none."""
    order = position.order
    if position.canceled or order.status not in (Order.STATUS_PAID, Order.STATUS_PENDING):
        return Checkin.REASON_CANCELED
    if position.blocked:
        return Checkin.REASON_BLOCKED
    if order.status == Order.STATUS_PENDING and order.require_approval:
        return Checkin.REASON_UNAPPROVED
    return None


def payment_refusal(position):
    """``unpaid`` where pretix refuses an unpaid order unless asked to ignore it."""
    order = position.order
    if order.status != Order.STATUS_PAID and not order.valid_if_pending:
        return Checkin.REASON_UNPAID
    return None


def unpaid_override(position, *, include_pending):
    """Whether staff may check this unpaid ticket in anyway: pretix admits a pending order
    with ``ignore_unpaid`` on a list that includes pending orders."""
    return include_pending and position.order.status == Order.STATUS_PENDING


#: Refusals a forced check-in cannot get past: no ticket, or not one ticket. (A revoked
#: code can: pretix then checks in the position it belonged to.)
NOT_FORCEABLE = (Checkin.REASON_INVALID, Checkin.REASON_AMBIGUOUS, "exchange")


def override_for(position, reason, *, include_pending, may_force):
    """The override staff may choose after a refusal: ``ignore_unpaid`` (pretix's "check in
    anyway" for unpaid orders on lists that include pending orders), ``force`` (for those
    allowed to force), or None."""
    if position is None:
        return None
    if reason == Checkin.REASON_UNPAID and unpaid_override(position, include_pending=include_pending):
        return "ignore_unpaid"
    if may_force and reason not in NOT_FORCEABLE:
        return "force"
    return None


def handout_refusal(position):
    """Why the desk would not hand out this attendee's add-ons: what pretix refuses an
    entry for before looking at the list, the time or earlier entries."""
    return order_refusal(position) or payment_refusal(position)


def scan_steps(position, *, facts: ListFacts, isoformat, candidates_on_list=1, unanswered=()):
    """``(entry_steps, exit_steps)`` for a scan of ``position`` on the list of ``facts``.

    ``candidates_on_list`` is how many positions the scanned code could mean on this list
    after pretix narrows them by product (more than one only with add-on matching); pretix
    then narrows by the time of the scan, which only the server may do. ``unanswered`` are
    the ids of the check-in questions pretix would ask (``["ask", ids]``).
    """
    entry, exit_ = [], []

    def both(step):
        entry.append(step)
        exit_.append(step)

    if candidates_on_list > 1:
        both([SERVER, SERVER_AMBIGUOUS])
        return entry, exit_
    refusal = order_refusal(position)
    if refusal:
        both([REFUSE, refusal])
        return entry, exit_
    if position.valid_from or position.valid_until:
        entry.append([WINDOW, isoformat(position.valid_from), isoformat(position.valid_until)])
    if not facts.admits_product(position):
        both([REFUSE, Checkin.REASON_PRODUCT])
        return entry, exit_
    if payment_refusal(position):
        if unpaid_override(position, include_pending=facts.include_pending):
            # The third element names the override staff may choose ("check in anyway");
            # the steps after it apply to that second attempt.
            both([REFUSE, Checkin.REASON_UNPAID, "ignore_unpaid"])
        else:
            both([REFUSE, Checkin.REASON_UNPAID])
            return entry, exit_
    if facts.has_rules:
        entry.append([SERVER, SERVER_RULES])
    if unanswered:
        entry.append([ASK, list(unanswered)])
    if position.item.media_policy and position.item.media_type:
        both([SERVER, SERVER_EXCHANGE])
    return _until_final(entry), _until_final(exit_)


def _until_final(steps):
    """Steps after one that always answers are never reached."""
    for i, step in enumerate(steps):
        if step[0] == SERVER or (step[0] == REFUSE and len(step) == 2):
            return steps[:i + 1]
    return steps
