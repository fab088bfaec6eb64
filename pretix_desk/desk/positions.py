"""Finding order positions for a check-in list: by access code, for the offline copy, with the
check-in and redemption state the desk shows annotated in the same query."""
from django.db.models import (
    Exists, OuterRef, Prefetch, Q, Subquery, Value, prefetch_related_objects,
)
from django.db.models.functions import Coalesce, NullIf
from pretix.base.models import Checkin, Order, OrderPosition, RevokedTicketSecret

from pretix_desk.models import Redemption

from .questions import shown_answers_queryset


def population_q(*, checkin_list, product_ids=None) -> Q:
    """Positions a desk keeps offline for the list: not canceled, of a paid or pending order,
    with a product and date the list has, whether the list admits them or not, so that an
    unpaid or blocked ticket is refused offline with pretix's own reason (``verdict``)."""
    q = Q(canceled=False, order__status__in=(Order.STATUS_PAID, Order.STATUS_PENDING))
    if checkin_list.subevent_id:
        q &= Q(subevent_id=checkin_list.subevent_id)
    if product_ids is not None:
        q &= Q(item_id__in=product_ids)
    return q


def list_product_ids(*, checkin_list):
    """The ids of the products the list admits, or None for all products."""
    if checkin_list.all_products:
        return None
    return list(checkin_list.limit_products.values_list("pk", flat=True))


def last_entry_subquery(*, checkin_list, ref="pk"):
    """The latest successful entry on the list, for ``checked_in``/``checked_in_at``."""
    return Subquery(
        Checkin.objects.filter(
            position_id=OuterRef(ref), list_id=checkin_list.pk, type=Checkin.TYPE_ENTRY
        ).order_by("-datetime").values("datetime")[:1]
    )


def last_checkin_type_subquery(*, checkin_list, ref="pk"):
    """The type of the latest successful check-in on the list: pretix decides re-entry on it."""
    return Subquery(
        Checkin.objects.filter(position_id=OuterRef(ref), list_id=checkin_list.pk)
        .order_by("-datetime", "-pk").values("type")[:1]
    )


def redeemed_at_subquery(ref="pk"):
    return Subquery(
        Redemption.objects.filter(
            position_id=OuterRef(ref), annulled__isnull=True
        ).values("datetime")[:1]
    )


def display_name():
    """The name pretix's check-in API shows for a position (its ``AttendeeNameField``): the
    attendee's, else an add-on's parent's, else the invoice address's, as one expression,
    so that scan, search and preload read it with the ticket instead of a query each."""
    return Coalesce(
        NullIf("attendee_name_cached", Value("")),
        NullIf("addon_to__attendee_name_cached", Value("")),
        NullIf("order__invoice_address__name_cached", Value("")),
    )


def with_desk_state(qs, *, checkin_list):
    """Positions with what the desk shows: check-in state on the list, the name, and whether
    there are add-ons or answers to show at all, so that most scans need no query for either."""
    return qs.select_related("order", "item", "variation", "subevent").annotate(
        display_name=display_name(),
        last_entry_at=last_entry_subquery(checkin_list=checkin_list),
        has_addons=Exists(OrderPosition.objects.filter(addon_to_id=OuterRef("pk"))),
        has_shown_answers=Exists(shown_answers_queryset().filter(orderposition_id=OuterRef("pk"))),
    )


def desk_positions(qs):
    """Evaluate a ``with_desk_state`` queryset (or take its rows) and load the answers shown
    at check-in (``shown_answer_list``), with one query for all positions that have any."""
    positions = list(qs)
    wanted = [op for op in positions if op.has_shown_answers]
    for op in positions:
        if not op.has_shown_answers:
            op.shown_answer_list = []  # (set on the others, prefetch would skip them)
    if wanted:
        prefetch_related_objects(wanted, Prefetch(
            "answers", queryset=shown_answers_queryset(), to_attr="shown_answer_list",
        ))
    return positions


def load_position(pk, *, checkin_list):
    """One position by id with the desk's state, canceled ones included."""
    (position,) = desk_positions(with_desk_state(OrderPosition.all.filter(pk=pk), checkin_list=checkin_list))
    position.order.event = checkin_list.event
    return position


def find_revoked(*, checkin_list, access_code):
    """The position a revoked code of this event last belonged to, or None: pretix answers
    such a scan with ``revoked`` instead of ``invalid``."""
    position_id = RevokedTicketSecret.objects.filter(
        event_id=checkin_list.event_id, secret=access_code
    ).order_by("-pk").values_list("position_id", flat=True).first()
    if position_id is None:
        return None
    return load_position(position_id, checkin_list=checkin_list)


def pick_candidate(*, candidates, checkin_list, access_code, when):
    """Narrow several candidates down the way pretix's check-in API does.

    Returns ``(position, ambiguous)``. More than one candidate happens when the list matches
    add-ons by their parent's code.
    """
    if len(candidates) <= 1:
        return (candidates[0] if candidates else None), False
    matching = [
        op for op in candidates
        if op.secret == access_code or checkin_list.addon_match
    ]
    if len(matching) > 1:
        product_ids = list_product_ids(checkin_list=checkin_list)
        matching = [op for op in matching if product_ids is None or op.item_id in product_ids]
    if len(matching) > 1:
        matching = [
            op for op in matching
            if (not op.valid_from or op.valid_from <= when) and (not op.valid_until or op.valid_until > when)
        ]
    if len(matching) == 1:
        return matching[0], False
    if not matching:
        # Let pretix's checks explain why none fits, on the one that will be valid next,
        # else the one that was valid last, as pretix's check-in API does.
        return _next_or_last_valid(candidates, when=when) or candidates[0], False
    return candidates[0], True


def _next_or_last_valid(candidates, *, when):
    upcoming = [op for op in candidates if op.valid_from and op.valid_from > when]
    if upcoming:
        return min(upcoming, key=lambda op: op.valid_from)
    past = [op for op in candidates if op.valid_until and op.valid_until < when]
    if past:
        return max(past, key=lambda op: op.valid_until)
    return None


def line_items_of(*, position):
    """The attendee's add-on and bundled positions, with their redemption time."""
    if not getattr(position, "has_addons", True):
        return []
    if hasattr(position, "line_item_list"):  # read with the ticket (find_candidates)
        return position.line_item_list
    return list(
        OrderPosition.objects.filter(addon_to_id=position.pk)
        .select_related("item", "variation")
        .annotate(redeemed_at=redeemed_at_subquery())
        .order_by("positionid", "pk")
    )
