"""One desk, several check-in lists of the event: the first list that admits the ticket
checks it in, as pretix's check-in API does across events (it allows one list per event,
so within one event the desk asks each list in turn, with pretix's simulation)."""
from pretix.base.models import Checkin

from .lookup import would_admit
from .scan import scan


def scan_on_lists(*, checkin_lists, access_code=None, position_id=None, nonce=None, **kwargs):
    """``scan`` on the first of ``checkin_lists`` that admits the ticket, else on the first
    list (which records the refusal there). The outcome says which list (``checkin_list``).

    A retried nonce goes to the list that recorded it, so a retry never checks the ticket
    in on a second list.
    """
    chosen = checkin_lists[0]
    if len(checkin_lists) > 1:
        chosen = (
            _list_of_nonce(checkin_lists, nonce)
            or next((
                cl for cl in checkin_lists
                if would_admit(
                    checkin_list=cl, access_code=access_code, position_id=position_id,
                    checkin_type=kwargs.get("checkin_type", Checkin.TYPE_ENTRY), when=kwargs.get("when"),
                    ignore_unpaid=kwargs.get("ignore_unpaid", False), gate=kwargs.get("gate"),
                    user=kwargs.get("user"), auth=kwargs.get("auth"),
                )
            ), None)
            or checkin_lists[0]
        )
    outcome = scan(checkin_list=chosen, access_code=access_code, position_id=position_id, nonce=nonce, **kwargs)
    outcome.checkin_list = chosen
    return outcome


def _list_of_nonce(checkin_lists, nonce):
    if not nonce:
        return None
    list_id = Checkin.all.filter(
        list_id__in=[cl.pk for cl in checkin_lists], nonce=nonce,
    ).order_by("pk").values_list("list_id", flat=True).first()
    return next((cl for cl in checkin_lists if cl.pk == list_id), None)
