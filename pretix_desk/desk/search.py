"""Finding the attendee who lost their ticket."""
from django.db.models import Q
from pretix.base.models import OrderPosition

from .positions import desk_positions, display_name, list_product_ids, with_desk_state

MIN_QUERY_LENGTH = 3
MAX_RESULTS = 50


def search(*, checkin_list, query):
    """Positions of the list's products (any order status, so staff see why a ticket
    fails) whose name as the desk shows it (``positions.display_name``), email, order email
    or order code matches: a result is found by the name on its card."""
    q = (
        Q(shown_name__icontains=query)
        | Q(attendee_email__icontains=query)
        | Q(order__email__icontains=query)
        | Q(order__code__istartswith=query)
    )
    qs = OrderPosition.objects.alias(shown_name=display_name()).filter(q, order__event_id=checkin_list.event_id)
    product_ids = list_product_ids(checkin_list=checkin_list)
    if product_ids is not None:
        qs = qs.filter(item_id__in=product_ids)
    if checkin_list.subevent_id:
        qs = qs.filter(subevent_id=checkin_list.subevent_id)
    return desk_positions(
        with_desk_state(qs, checkin_list=checkin_list)
        .order_by("display_name", "order__code", "positionid")[:MAX_RESULTS]
    )
