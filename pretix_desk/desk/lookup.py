"""Looking a code up: what the desk knows about the attendee and what a scan would answer."""
from typing import Optional

from django.utils.timezone import now
from pretix.base.models import Checkin
from pretix.base.services.checkin import (
    CheckInError, RequiredMediaExchangeError, RequiredQuestionsError, perform_checkin,
)

from .candidates import find_candidates, prefetch_products
from .outcomes import LookupOutcome
from .positions import find_revoked, line_items_of, pick_candidate


def lookup(*, checkin_list, access_code, user=None, auth=None) -> Optional[LookupOutcome]:
    """None for a code the event does not know. Writes nothing: pretix's check-in logic
    runs with ``simulate=True``."""
    when = now()
    candidates = find_candidates(checkin_list=checkin_list, access_code=access_code)
    reason = explanation = None
    questions = []
    if candidates:
        position, ambiguous = pick_candidate(
            candidates=candidates, checkin_list=checkin_list, access_code=access_code, when=when,
        )
        if ambiguous:
            reason = Checkin.REASON_AMBIGUOUS
        else:
            prefetch_products(checkin_list)
            try:
                reason, explanation = simulate_checkin(position, checkin_list=checkin_list, user=user, auth=auth,
                                                       ask_questions=True)
            except RequiredQuestionsError as e:
                # admitted once answered: a scan asks these first
                questions = [q.pk for q in e.questions]
    else:
        position = find_revoked(checkin_list=checkin_list, access_code=access_code)
        if position is None:
            return None
        reason = Checkin.REASON_REVOKED

    checkins = list(
        Checkin.all.filter(position_id=position.pk, list_id=checkin_list.pk).order_by("-datetime", "-pk")
    )
    return LookupOutcome(
        position=position,
        last_entry_at=position.last_entry_at,
        line_items=line_items_of(position=position),
        checkins=checkins,
        can_check_in=reason is None,
        reason=reason,
        explanation=explanation,
        questions=questions,
    )


def would_admit(*, checkin_list, candidates, access_code=None, checkin_type=Checkin.TYPE_ENTRY,
                when=None, ignore_unpaid=False, gate=None, user=None, auth=None) -> bool:
    """Whether a scan on this list would be admitted now, asking pretix (``simulate``), of
    a code with these candidates on the list (``find_candidates``)."""
    if not candidates:
        return False
    when = when or now()
    position, ambiguous = pick_candidate(
        candidates=candidates, checkin_list=checkin_list, access_code=access_code, when=when,
    )
    if ambiguous:
        return False
    prefetch_products(checkin_list)
    reason, _ = simulate_checkin(position, checkin_list=checkin_list, user=user, auth=auth,
                                 checkin_type=checkin_type, when=when, ignore_unpaid=ignore_unpaid, gate=gate)
    return reason is None


def simulate_checkin(position, *, checkin_list, user, auth, checkin_type=Checkin.TYPE_ENTRY, when=None,
                     ignore_unpaid=False, gate=None, ask_questions=False):
    """``(reason, explanation)`` with which pretix would refuse this check-in now, or
    ``(None, None)``. With ``ask_questions``, pretix's RequiredQuestionsError passes
    through where the check-in would ask questions first; without, questions do not count."""
    try:
        perform_checkin(
            op=position, clist=checkin_list, given_answers={}, questions_supported=ask_questions,
            canceled_supported=True, user=user, auth=auth, simulate=True, type=checkin_type,
            datetime=when, ignore_unpaid=ignore_unpaid, gate=gate,
        )
    except CheckInError as e:
        return e.code, (str(e.reason) if e.reason else None)
    except RequiredMediaExchangeError as e:
        return e.code, str(e.msg)
    return None, None
