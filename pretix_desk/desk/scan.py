"""Scanning a code at the desk: pretix's ``perform_checkin`` decides, this module finds the
ticket, makes retries idempotent and records refusals the way pretix's check-in API does."""
from contextvars import ContextVar

from django.db import transaction
from django.db.models import Q
from django.utils.timezone import now
from pretix.base.models import Checkin, CheckinList, Device
from pretix.base.services.checkin import (
    CheckInError, RequiredMediaExchangeError, RequiredQuestionsError, perform_checkin,
)
from pretix.helpers import OF_SELF

from .outcomes import ScanOutcome
from .positions import (
    find_candidates, find_revoked, line_items_of, load_position, pick_candidate,
)
from .questions import checkin_questions, clean_answers

_created = ContextVar("pretix_desk_checkins_created", default=None)


def scan(*, checkin_list, access_code=None, position_id=None, checkin_type=Checkin.TYPE_ENTRY,
         nonce=None, when=None, ignore_unpaid=False, force=False, gate=None, answers=None,
         questions_supported=True, user=None, auth=None) -> ScanOutcome:
    """Check the ticket behind ``access_code`` in (or out) on ``checkin_list``, or the
    position ``position_id`` that staff picked from a search (offline, without its code).

    Two desks scanning one ticket at once are serialized by ``perform_checkin``, which locks
    the position before it looks at earlier check-ins, so exactly one of them gets in. A
    retried ``nonce`` gets the first attempt's answer, and nothing new is recorded.

    The whole scan is one transaction that locks the ticket's order when it finds the
    ticket, before ``perform_checkin`` locks the position: a payment locks the order first
    and the positions after (auto check-in rules), and a scan that took the position first
    would deadlock with it when ``perform_checkin`` touches the order.

    ``answers`` (``{"<question id>": value}``) answer the ticket's check-in questions;
    answers pretix would not accept raise ``questions.InvalidAnswers`` before anything is
    written. Without them, unanswered questions make the outcome ``incomplete``.
    """
    with transaction.atomic():
        return _scan(
            checkin_list=checkin_list, access_code=access_code, position_id=position_id,
            checkin_type=checkin_type, nonce=nonce, when=when, ignore_unpaid=ignore_unpaid,
            force=force, gate=gate, answers=answers, questions_supported=questions_supported,
            user=user, auth=auth,
        )


def _scan(*, checkin_list, access_code, position_id, checkin_type, nonce, when, ignore_unpaid,
          force, gate, answers, questions_supported, user, auth) -> ScanOutcome:
    device = auth if isinstance(auth, Device) else None
    if device is not None and device.gate_id:
        gate = device.gate  # a device stands at its own gate, whatever the desk says
    when = when or now()
    record = dict(
        checkin_list=checkin_list, access_code=access_code, checkin_type=checkin_type,
        nonce=nonce, when=when, gate=gate, device=device, user=user, auth=auth,
    )
    candidates = find_candidates(
        checkin_list=checkin_list, access_code=access_code, position_id=position_id, lock_orders=True,
    )
    if nonce:
        earlier = _earlier_scan(candidates=candidates, **record)
        if earlier is not None:
            return _replay(earlier, candidates=candidates, checkin_list=checkin_list)
    if not candidates and access_code is None:
        # A position id is no scan at the door: nothing to record, as for a bad request.
        return ScanOutcome(status="invalid", reason=Checkin.REASON_INVALID)
    if not candidates:
        return _once_per_nonce(_unknown_code, candidates=candidates, record=record)

    position, ambiguous = pick_candidate(
        candidates=candidates, checkin_list=checkin_list, access_code=access_code, when=when,
    )
    if ambiguous:
        return _once_per_nonce(
            _refuse, position, candidates=candidates, record=record,
            reason=Checkin.REASON_AMBIGUOUS, explanation=None,
        )
    given_answers = {}
    if answers:
        given_answers = clean_answers(answers, questions=checkin_questions(
            event=checkin_list.event, item_ids=[position.item_id],
        ))
    token = _created.set([])
    try:
        perform_checkin(
            op=position, clist=checkin_list, given_answers=given_answers, force=force,
            ignore_unpaid=ignore_unpaid, nonce=nonce, datetime=when,
            questions_supported=questions_supported, canceled_supported=True,
            user=user, auth=auth, type=checkin_type, gate=gate,
            raw_source_type="barcode" if access_code is not None else None,
        )
        created = _created.get()
    except RequiredQuestionsError as e:
        # Not a refusal: pretix records nothing until the questions are answered.
        return ScanOutcome(
            status="incomplete", reason=e.code, position=position, questions=e.questions,
            last_entry_at=position.last_entry_at,
        )
    except CheckInError as e:
        return _once_per_nonce(
            _refuse, position, candidates=candidates, record=record,
            reason=e.code, explanation=e.reason,
        )
    except RequiredMediaExchangeError as e:
        # pretix does not record these either: the ticket is fine, it needs a new medium.
        return ScanOutcome(
            status="error", reason=e.code, explanation=str(e.msg), position=position,
            last_entry_at=position.last_entry_at,
        )
    finally:
        _created.reset(token)

    if not created:
        # perform_checkin returns silently when a concurrent request with the same nonce
        # won the lock; answer what that one answered.
        return _replay(
            _earlier_scan(candidates=candidates, **record),
            candidates=candidates, checkin_list=checkin_list,
        )
    checkin = created[-1]
    last_entry_at = position.last_entry_at
    if checkin.type == Checkin.TYPE_ENTRY and (last_entry_at is None or checkin.datetime > last_entry_at):
        last_entry_at = checkin.datetime
    return ScanOutcome(
        status="ok", position=position, checkin=checkin, last_entry_at=last_entry_at,
        line_items=line_items_of(position=position),
    )


def _once_per_nonce(refusal, *args, candidates, record, **kwargs):
    """Record a refusal, unless a concurrent request with the same nonce already did.

    pretix serializes successful check-ins itself (it locks the position); refusals it
    records without a lock. With a nonce, two uploads of one offline queue can race, so
    the refusal is written under a lock of the list row, after looking for the nonce again.
    """
    if not record["nonce"]:
        return refusal(*args, **kwargs, **record)
    with transaction.atomic():
        list(CheckinList.objects.select_for_update(of=OF_SELF).filter(pk=record["checkin_list"].pk).values_list("pk"))
        earlier = _earlier_scan(candidates=candidates, **record)
        if earlier is not None:
            return _replay(earlier, candidates=candidates, checkin_list=record["checkin_list"])
        return refusal(*args, **kwargs, **record)


def checkin_created_during_scan(checkin):
    """Called from the ``checkin_created`` receiver: hands the new check-in to the scan that
    caused it (context-local, so concurrent requests never see each other's), which saves
    reading it back from the database."""
    created = _created.get()
    if created is not None:
        created.append(checkin)


def _earlier_scan(*, candidates, checkin_list, access_code, nonce, **kwargs):
    """The first scan recorded with this nonce for this code on this list, if any."""
    q = Q(position_id__in=[c.pk for c in candidates])
    if access_code is not None:
        q |= Q(raw_barcode=access_code)
    return Checkin.all.filter(q, list_id=checkin_list.pk, nonce=nonce).order_by("pk").first()


def _replay(checkin, *, candidates, checkin_list) -> ScanOutcome:
    if checkin.position_id is None:
        return ScanOutcome(status="invalid", reason=Checkin.REASON_INVALID, replayed=True)
    position = next((c for c in candidates if c.pk == checkin.position_id), None)
    if position is None:  # a revoked code points at a position whose secret changed
        position = load_position(checkin.position_id, checkin_list=checkin_list)
    if checkin.successful:
        return ScanOutcome(
            status="ok", position=position, checkin=checkin, replayed=True,
            last_entry_at=position.last_entry_at, line_items=line_items_of(position=position),
        )
    return ScanOutcome(
        status="error", reason=checkin.error_reason, explanation=checkin.error_explanation,
        position=position, last_entry_at=position.last_entry_at, replayed=True,
    )


def _unknown_code(*, checkin_list, access_code, checkin_type, when, user, auth, **record):
    position = find_revoked(checkin_list=checkin_list, access_code=access_code)
    if position is not None:
        position.order.log_action("pretix.event.checkin.revoked", data={
            "datetime": when,
            "type": checkin_type,
            "list": checkin_list.pk,
            "barcode": access_code,
        }, user=user, auth=auth)
        _record_failed_checkin(
            position=position, reason=Checkin.REASON_REVOKED, explanation=None,
            checkin_list=checkin_list, access_code=access_code, checkin_type=checkin_type,
            when=when, **record,
        )
        return ScanOutcome(
            status="error", reason=Checkin.REASON_REVOKED, position=position,
            last_entry_at=position.last_entry_at,
        )

    checkin_list.event.log_action("pretix.event.checkin.unknown", data={
        "datetime": when,
        "type": checkin_type,
        "list": checkin_list.pk,
        "barcode": access_code,
        "searched_lists": [checkin_list.pk],
    }, user=user, auth=auth)
    _record_failed_checkin(
        position=None, reason=Checkin.REASON_INVALID, explanation=None,
        checkin_list=checkin_list, access_code=access_code, checkin_type=checkin_type,
        when=when, **record,
    )
    return ScanOutcome(status="invalid", reason=Checkin.REASON_INVALID)


def _refuse(position, *, reason, explanation, checkin_list, checkin_type, when, user, auth,
            **record) -> ScanOutcome:
    """Record a refused scan like pretix: a failed check-in row and an order log entry."""
    explanation = str(explanation) if explanation else None
    position.order.log_action("pretix.event.checkin.denied", data={
        "position": position.pk,
        "positionid": position.positionid,
        "errorcode": reason,
        "reason_explanation": explanation,
        "force": False,
        "datetime": when,
        "type": checkin_type,
        "list": checkin_list.pk,
    }, user=user, auth=auth)
    _record_failed_checkin(
        position=position, reason=reason, explanation=explanation, checkin_list=checkin_list,
        checkin_type=checkin_type, when=when, **record,
    )
    return ScanOutcome(
        status="error", reason=reason, explanation=explanation, position=position,
        last_entry_at=position.last_entry_at,
    )


def _record_failed_checkin(*, position, reason, explanation, checkin_list, access_code,
                           checkin_type, nonce, when, gate, device, **kwargs):
    Checkin.objects.create(
        position=position,
        successful=False,
        error_reason=reason,
        error_explanation=explanation,
        list=checkin_list,
        type=checkin_type,
        datetime=when,
        device=device,
        gate=gate,
        nonce=nonce,
        raw_barcode=access_code,
        raw_source_type="barcode" if access_code is not None else None,
        forced=False,
        force_sent=False,
    )
