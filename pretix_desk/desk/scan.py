"""Scanning a code at the desk: pretix's ``perform_checkin`` decides, this module finds the
ticket, makes retries idempotent and records refusals the way pretix's check-in API does."""
from contextvars import ContextVar

from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.timezone import now
from pretix.base.i18n import language
from pretix.base.models import Checkin, CheckinList, Device
from pretix.base.services.checkin import (
    CheckInError, RequiredMediaExchangeError, RequiredQuestionsError, perform_checkin,
)
from pretix.helpers import OF_SELF

from pretix_desk.door.capacity import REASON as CAPACITY_REASON, full_refusal

from .candidates import find_candidates, prefetch_products
from .lookup import simulate_checkin
from .outcomes import Conflict, ScanOutcome
from .positions import find_revoked, line_items_of, load_position, pick_candidate
from .questions import checkin_questions, clean_answers
from .sync import admission_fingerprint
from .uploads import (
    RECORDED_CHECKIN, RECORDED_FORCED, RECORDED_REFUSED, changed_since_download,
    other_checkins,
)
from .verdict import SERVER_EXCHANGE

_created = ContextVar("pretix_desk_checkins_created", default=None)


def scan(*, checkin_list, access_code=None, position_id=None, checkin_type=Checkin.TYPE_ENTRY,
         nonce=None, when=None, ignore_unpaid=False, force=False, gate=None, answers=None,
         questions_supported=True, offline=None, use_order_locale=False, user=None, auth=None,
         candidates=None) -> ScanOutcome:
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

    ``offline`` (an ``uploads.OfflineClaim``) uploads what a desk answered offline: a
    refusal is recorded as such, an admission as pretix records pretixSCAN's (see
    ``uploads``); ``outcome.recorded`` and ``outcome.conflict`` say what became of it.
    ``force`` on a revoked code checks in the position it belonged to, as pretix does.
    ``use_order_locale`` explains refusals in the order's language, as pretix's
    ``checkinrpc/redeem`` does for desks that attendees use themselves.

    ``candidates``: the ticket's candidates on the list as the caller read them, with their
    orders locked, in the transaction it is in (``multilist``); the scan runs in that
    transaction on them instead of reading them again.
    """
    if candidates is not None and not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("The candidates' locks end with the caller's transaction.")
    # with the caller's candidates, in the caller's transaction (no savepoint: it ends with this scan)
    with transaction.atomic(savepoint=candidates is None):
        return _scan(
            checkin_list=checkin_list, access_code=access_code, position_id=position_id,
            checkin_type=checkin_type, nonce=nonce, when=when, ignore_unpaid=ignore_unpaid,
            force=force, gate=gate, answers=answers, questions_supported=questions_supported,
            offline=offline, use_order_locale=use_order_locale, user=user, auth=auth, candidates=candidates,
        )


def _scan(*, checkin_list, access_code, position_id, checkin_type, nonce, when, ignore_unpaid,
          force, gate, answers, questions_supported, offline, use_order_locale, user, auth,
          candidates) -> ScanOutcome:
    device = auth if isinstance(auth, Device) else None
    if device is not None and device.gate_id:
        gate = device.gate  # a device stands at its own gate, whatever the desk says
    when = when or now()
    record = dict(
        checkin_list=checkin_list, access_code=access_code, checkin_type=checkin_type,
        nonce=nonce, when=when, gate=gate, device=device, user=user, auth=auth,
        # as pretix records refusals: a live scan with what it sent, an offline upload as
        # its ``failed_checkins`` endpoint records pretixSCAN's
        forced=force or offline is not None, force_sent=offline is not None,
    )
    if candidates is None:
        candidates = find_candidates(
            checkin_list=checkin_list, access_code=access_code, position_id=position_id, lock_orders=True,
        )
    if nonce:
        earlier = _earlier_scan(candidates=candidates, **record)
        if earlier is not None:
            return _replay(earlier, candidates=candidates, checkin_list=checkin_list, offline=offline)
    if not candidates and access_code is None:
        # A position id is no scan at the door: nothing to record, as for a bad request.
        return ScanOutcome(status="invalid", reason=Checkin.REASON_INVALID)
    from_revoked = False
    if not candidates:
        revoked = find_revoked(checkin_list=checkin_list, access_code=access_code)
        if revoked is not None and (force or (offline is not None and offline.admitted and changed_since_download(
            claim=offline, position=revoked, checkin_list=checkin_list, revoked_code=access_code,
            admission_now=lambda: admission_fingerprint(checkin_list),
        ))):
            candidates = find_candidates(
                checkin_list=checkin_list, position_id=revoked.pk, lock_orders=True, as_code=True,
            )
            from_revoked = True
        else:
            outcome = _once_per_nonce(_unknown_code, revoked, candidates=candidates, record=record)
            return _uploaded_refusal(outcome, offline=offline, checkin_list=checkin_list)

    position, ambiguous = pick_candidate(
        candidates=candidates, checkin_list=checkin_list, access_code=access_code, when=when,
    )
    if ambiguous or (offline is not None and not offline.admitted):
        outcome = _once_per_nonce(
            _refuse, position, candidates=candidates, record=record,
            reason=Checkin.REASON_AMBIGUOUS if ambiguous else offline.reason, explanation=None,
        )
        return _uploaded_refusal(outcome, offline=offline, checkin_list=checkin_list)
    prefetch_products(checkin_list)
    given_answers = {}
    if answers:
        given_answers = clean_answers(answers, questions=checkin_questions(
            event=checkin_list.event, item_ids=[position.item_id],
        ))
    if offline is None and not force and checkin_type == Checkin.TYPE_ENTRY:
        full = _full(position, candidates=candidates, record=record, ignore_unpaid=ignore_unpaid)
        if full is not None:
            return full
    conflict = None
    if offline is not None and not from_revoked:
        reason, explanation = simulate_checkin(
            position, checkin_list=checkin_list, user=user, auth=auth, checkin_type=checkin_type, when=when,
            ignore_unpaid=ignore_unpaid, gate=gate,
        )
        if reason and not changed_since_download(
            claim=offline, position=position, checkin_list=checkin_list,
            admission_now=lambda: admission_fingerprint(checkin_list),
        ):
            if reason == SERVER_EXCHANGE:
                # pretix records no such refusal either: nothing was written, the desk keeps it
                return ScanOutcome(status="error", reason=reason, explanation=explanation, position=position,
                                   last_entry_at=position.last_entry_at)
            outcome = _once_per_nonce(
                _refuse, position, candidates=candidates, record=record, reason=reason, explanation=explanation,
            )
            return _uploaded_refusal(outcome, offline=offline, checkin_list=checkin_list)
        conflict = (reason, explanation)
    if offline is not None:
        # Uploaded as pretixSCAN uploads it: pretix forces only what needs forcing, and
        # records the scan as made offline.
        force, questions_supported = True, False
    token = _created.set([])
    try:
        with language(position.order.locale if use_order_locale else translation.get_language()):
            perform_checkin(
                op=position, clist=checkin_list, given_answers=given_answers, force=force,
                ignore_unpaid=ignore_unpaid, nonce=nonce, datetime=when,
                questions_supported=questions_supported, canceled_supported=True,
                user=user, auth=auth, type=checkin_type, gate=gate,
                raw_barcode=access_code if from_revoked else None, from_revoked_secret=from_revoked,
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
        outcome = _once_per_nonce(
            _refuse, position, candidates=candidates, record=record,
            reason=e.code, explanation=e.reason,
        )
        return _uploaded_refusal(outcome, offline=offline, checkin_list=checkin_list)
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
            candidates=candidates, checkin_list=checkin_list, offline=offline,
        )
    checkin = created[-1]
    last_entry_at = position.last_entry_at
    if checkin.type == Checkin.TYPE_ENTRY and (last_entry_at is None or checkin.datetime > last_entry_at):
        last_entry_at = checkin.datetime
    outcome = ScanOutcome(
        status="ok", position=position, checkin=checkin, last_entry_at=last_entry_at,
        line_items=line_items_of(position=position),
    )
    if offline is not None:
        outcome.recorded = RECORDED_FORCED if checkin.forced else RECORDED_CHECKIN
        if checkin.forced:
            reason, explanation = conflict or (Checkin.REASON_REVOKED, None)
            outcome.conflict = Conflict(
                position_id=position.pk, reason=reason, explanation=explanation, checkin=checkin,
                others=other_checkins(position=position, checkin_list=checkin_list, exclude=checkin),
            )
    return outcome


def _uploaded_refusal(outcome, *, offline, checkin_list):
    """A refusal that was recorded, as the answer to an offline upload: a conflict where the
    desk had admitted the person."""
    if offline is None or outcome.replayed:
        return outcome
    outcome.recorded = RECORDED_REFUSED
    if offline.admitted:
        outcome.conflict = Conflict(
            position_id=outcome.position and outcome.position.pk, reason=outcome.reason, explanation=outcome.explanation, checkin=None,
            others=other_checkins(position=outcome.position, checkin_list=checkin_list)
            if outcome.position is not None else [],
        )
    return outcome


def _full(position, *, candidates, record, ignore_unpaid):
    """A "full" refusal of a live entry that pretix would admit, at a capacity of the door
    (``door.capacity``); recorded as pretix records a refusal by the list's rules. Staff's
    "check in anyway" and offline uploads (the door already let them in) pass."""
    if not position.list_has_capacity:  # read with the ticket (find_candidates)
        return None
    explanation = full_refusal(checkin_list=record["checkin_list"], gate=record["gate"], position=position)
    if explanation is None:
        return None
    reason, _ = simulate_checkin(
        position, checkin_list=record["checkin_list"], user=record["user"], auth=record["auth"],
        checkin_type=record["checkin_type"], when=record["when"], ignore_unpaid=ignore_unpaid, gate=record["gate"],
    )
    if reason:
        return None  # pretix refuses it anyway, for its own reason
    outcome = _once_per_nonce(
        _refuse, position, candidates=candidates, record=record, reason=Checkin.REASON_RULES, explanation=explanation,
    )
    if outcome.status == "error" and outcome.reason == Checkin.REASON_RULES:
        outcome.reason = CAPACITY_REASON
    return outcome


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


def _replay(checkin, *, candidates, checkin_list, offline=None) -> ScanOutcome:
    """The first answer to this nonce again, from what it recorded (for an offline upload,
    with what was recorded; the reason for forcing is not kept, so it is None)."""
    if checkin.position_id is None:
        outcome = ScanOutcome(status="invalid", reason=Checkin.REASON_INVALID, replayed=True)
        position = None
    else:
        position = next((c for c in candidates if c.pk == checkin.position_id), None)
        if position is None:  # a revoked code points at a position whose secret changed
            position = load_position(checkin.position_id, checkin_list=checkin_list)
        if checkin.successful:
            outcome = ScanOutcome(
                status="ok", position=position, checkin=checkin, replayed=True,
                last_entry_at=position.last_entry_at, line_items=line_items_of(position=position),
            )
        else:
            outcome = ScanOutcome(
                status="error", reason=checkin.error_reason, explanation=checkin.error_explanation,
                position=position, last_entry_at=position.last_entry_at, replayed=True,
            )
    if offline is not None:
        outcome.recorded = (RECORDED_FORCED if checkin.forced else RECORDED_CHECKIN) if checkin.successful \
            else RECORDED_REFUSED
        if offline.admitted and (checkin.forced or not checkin.successful):
            outcome.conflict = Conflict(
                position_id=checkin.position_id, reason=None if checkin.successful else checkin.error_reason,
                explanation=None if checkin.successful else checkin.error_explanation,
                checkin=checkin if checkin.successful else None,
                others=[] if position is None else other_checkins(
                    position=position, checkin_list=checkin_list, exclude=checkin),
            )
    return outcome


def _unknown_code(position, *, checkin_list, access_code, checkin_type, when, user, auth, **record):
    """A code no position has: revoked (``position`` is the one it belonged to) or unknown."""
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
        "force": record["forced"],
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
                           checkin_type, nonce, when, gate, device, forced, force_sent, **kwargs):
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
        forced=forced,
        force_sent=force_sent,
    )
