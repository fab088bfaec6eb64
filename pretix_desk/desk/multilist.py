"""One desk, several check-in lists of the event: the first list that admits the ticket
checks it in, as pretix's check-in API does across events (it allows one list per event,
so within one event the desk asks each list in turn, with pretix's simulation).

The ticket's candidates on all lists are read in one statement that locks their orders,
and the scan on the chosen list runs in the same transaction on what it read, as pretix's
check-in API reads them once for all its lists."""
from django.db import transaction
from pretix.base.models import Checkin

from .candidates import find_candidates_on_lists
from .lookup import would_admit
from .scan import scan


def scan_on_lists(*, checkin_lists, access_code=None, position_id=None, nonce=None, **kwargs):
    """``scan`` on the first of ``checkin_lists`` that admits the ticket, else on the first
    list (which records the refusal there). The outcome says which list (``checkin_list``).

    A retried nonce goes to the list that recorded it, so a retry never checks the ticket
    in on a second list.
    """
    if len(checkin_lists) == 1:
        chosen = checkin_lists[0]
        outcome = scan(checkin_list=chosen, access_code=access_code, position_id=position_id, nonce=nonce, **kwargs)
    else:
        with transaction.atomic():
            found = find_candidates_on_lists(
                checkin_lists=checkin_lists, access_code=access_code, position_id=position_id, lock_orders=True,
            )
            chosen = (
                _list_of_nonce(checkin_lists, nonce)
                or _first_admitting(checkin_lists, found, access_code=access_code, **kwargs)
                or checkin_lists[0]
            )
            outcome = scan(
                checkin_list=chosen, access_code=access_code, position_id=position_id, nonce=nonce,
                candidates=found[chosen.pk], **kwargs,
            )
    outcome.checkin_list = chosen
    return outcome


def _first_admitting(checkin_lists, found, *, access_code, **kwargs):
    """The first list on which pretix would admit the ticket now (a simulation on that
    list's own instances of the candidates)."""
    return next((
        cl for cl in checkin_lists
        if would_admit(
            checkin_list=cl, candidates=found[cl.pk], access_code=access_code,
            checkin_type=kwargs.get("checkin_type", Checkin.TYPE_ENTRY), when=kwargs.get("when"),
            ignore_unpaid=kwargs.get("ignore_unpaid", False), gate=kwargs.get("gate"),
            user=kwargs.get("user"), auth=kwargs.get("auth"),
        )
    ), None)


def _list_of_nonce(checkin_lists, nonce):
    if not nonce:
        return None
    list_id = Checkin.all.filter(
        list_id__in=[cl.pk for cl in checkin_lists], nonce=nonce,
    ).order_by("pk").values_list("list_id", flat=True).first()
    return next((cl for cl in checkin_lists if cl.pk == list_id), None)
