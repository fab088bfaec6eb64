"""The offline preload: every attendee a list could admit, streamed as one JSON document.

Three ordered queries, read with server-side cursors where the database has them: the
attendees by id, their add-ons by parent id, and the answers shown or asked at check-in by
position id. Merging them in Python keeps the query count the same for ten attendees and
for a hundred thousand, and memory flat, where a prefetch per chunk would grow with both.
"""
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Optional
from zoneinfo import ZoneInfo

import ujson
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import translation
from django.utils.timezone import now
from django_scopes import scope
from pretix.base.models import (
    Checkin, Item, ItemVariation, OrderPosition, Question, QuestionAnswer,
    RevokedTicketSecret, SubEvent,
)

from pretix_desk.door.capacity import capacities_of
from pretix_desk.models import DeletedSecret

from . import sealing, serialization, signed
from .codes import code_hash, list_salt
from .outcomes import Conflict
from .positions import (
    display_name, last_checkin_type_subquery, last_entry_subquery, list_product_ids,
    population_q, redeemed_at_subquery,
)
from .questions import checkin_questions, question_data
from .sync import (
    SyncState, fingerprint_of, make_sync_token, preload_etag, read_sync_token,
)
from .uploads import MAX_OTHERS
from .verdict import SERVER, SERVER_ERROR, ListFacts, handout_refusal, scan_steps

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
#: What offline search reads, for those who may list attendees (``docs/offline.rst``).
SEARCH_INDEX = ("name", "email", "order", "company")
#: A full download lists the conflicts of this long (an incremental one those since its token).
CONFLICTS_FOR = timedelta(hours=24)
MAX_CONFLICTS = 100
#: Records encoded and sent together: fewer, larger writes, still a small buffer.
RECORDS_PER_CHUNK = 100


@dataclass
class Preload:
    """Everything decided before the first byte is sent (so errors are still a 400)."""

    checkin_list: object
    product_id: Optional[int]
    product_ids: Optional[list]
    facts: ListFacts
    questions: list
    since: Optional[object]
    since_token: Optional[str]
    fingerprint: str
    started_at: object
    salt: str
    may_list: bool = False
    capacities: list = field(default_factory=list)
    #: When the sync token was issued: a shared rendering older than this would send the
    #: desk older states than it holds (shared_preload.py).
    issued: Optional[object] = None
    #: The event's changes, for the ETag (``sync.SyncState``, loaded with the list).
    sync_state: Optional[SyncState] = None

    @cached_property
    def questions_by_item(self):
        """The ids of the check-in questions pretix asks for each product, in its order."""
        by_item = {}
        for q in self.questions:
            for item in q.items.all():
                by_item.setdefault(item.pk, []).append(q.pk)
        return by_item

    @property
    def sync_token(self):
        return make_sync_token(
            checkin_list=self.checkin_list, product_id=self.product_id,
            fingerprint=self.fingerprint, started_at=self.started_at,
        )

    def etag(self):
        if self.sync_state is None:
            raise ValueError("the ETag needs the sync state the list was loaded with (prepare_preload)")
        return preload_etag(
            sync_state=self.sync_state, product_id=self.product_id,
            fingerprint=self.fingerprint, capacities=self.capacities,
        )


def prepare_preload(*, checkin_list, product_id=None, since_token=None, may_list=False, sync_state=None) -> Preload:
    """``may_list``: the caller may list attendees (``access.may_list_attendees``), and gets
    the search index; ``sync_state``: for the ETag (``sync.SyncState``). Raises
    ``sync.InvalidSyncToken`` for a token this list cannot continue from."""
    list_products = list_product_ids(checkin_list=checkin_list)
    if product_id is not None:
        product_ids = [product_id] if list_products is None or product_id in list_products else []
    else:
        product_ids = list_products
    questions = checkin_questions(event=checkin_list.event, item_ids=list_products)
    fingerprint = fingerprint_of(checkin_list, product_ids=list_products, questions=questions, may_list=may_list)
    since = issued = None
    if since_token:
        since, issued = read_sync_token(
            since_token, checkin_list=checkin_list, product_id=product_id, fingerprint=fingerprint,
        )
    return Preload(
        checkin_list=checkin_list, product_id=product_id, product_ids=product_ids,
        facts=ListFacts.of(checkin_list, product_ids=list_products), since=since,
        questions=questions,
        since_token=since_token, fingerprint=fingerprint, started_at=now(),
        salt=list_salt(checkin_list=checkin_list), may_list=may_list,
        capacities=capacities_of(checkin_list), issued=issued, sync_state=sync_state,
    )


def population_queryset(preload: Preload):
    clist = preload.checkin_list
    return OrderPosition.objects.filter(
        population_q(checkin_list=clist, product_ids=preload.product_ids),
        order__event_id=clist.event_id,
    )


def attendee_queryset(preload: Preload):
    qs = population_queryset(preload)
    if preload.since is not None:
        # Check-ins (pretix) and redemptions (redeem.py) touch the order, so its
        # last_modified covers everything a record shows.
        qs = qs.filter(order__last_modified__gte=preload.since)
    return qs


#: The columns of an attendee row, in the order ``AttendeeRow`` unpacks them (the name
#: pretix's check-in API shows is one expression, read with the row).
ATTENDEE_COLUMNS = (
    "pk", "secret", "item_id", "variation_id", "subevent_id", "attendee_name_cached", "attendee_email",
    "company", "canceled", "blocked", "valid_from", "valid_until", "last_entry_at", "last_type",
    display_name(),
    "order__code", "order__status", "order__email", "order__checkin_attention", "order__checkin_text",
    "order__require_approval", "order__valid_if_pending",
    "pretix_desk_seal__master", "pretix_desk_seal__secret_digest",
)
ADDON_COLUMNS = ("addon_to_id", "pk", "item_id", "variation_id", "subevent_id", "redeemed_at")
ANSWER_COLUMNS = ("orderposition_id", "question_id", "answer")


class OrderRow:
    """The attributes of an order that ``verdict`` and ``serialization`` read."""

    __slots__ = (
        "code", "status", "email", "checkin_attention", "checkin_text", "require_approval", "valid_if_pending",
    )

    def __init__(self, values):
        (self.code, self.status, self.email, self.checkin_attention, self.checkin_text,
         self.require_approval, self.valid_if_pending) = values


class AttendeeRow:
    """An attendee as ``verdict`` and ``serialization`` read a position, from one row of
    ``ATTENDEE_COLUMNS``: building model instances was half the time of a preload. Product,
    variation and date are the catalog's instances, shared by all their attendees."""

    __slots__ = (
        "pk", "secret", "item_id", "variation_id", "subevent_id", "attendee_name_cached", "attendee_email",
        "company", "canceled", "blocked", "valid_from", "valid_until", "last_entry_at", "last_type",
        "display_name", "order", "item", "variation", "subevent", "shown_answer_list", "kept_master", "kept_digest",
    )

    def __init__(self, values, catalog):
        (self.pk, self.secret, self.item_id, self.variation_id, self.subevent_id, self.attendee_name_cached,
         self.attendee_email, self.company, self.canceled, self.blocked, self.valid_from, self.valid_until,
         self.last_entry_at, self.last_type, self.display_name) = values[:15]
        self.order = OrderRow(values[15:22])
        self.kept_master, self.kept_digest = values[22:]
        self.item = catalog.items[self.item_id]
        self.variation = catalog.variation(self.variation_id)
        self.subevent = catalog.subevent(self.subevent_id)


class LineItemRow:
    """An add-on from one row of ``ADDON_COLUMNS``, as ``AttendeeRow`` for its parent."""

    __slots__ = ("addon_to_id", "pk", "item_id", "variation_id", "subevent_id", "redeemed_at", "item", "variation")

    def __init__(self, values, catalog):
        (self.addon_to_id, self.pk, self.item_id, self.variation_id, self.subevent_id, self.redeemed_at) = values
        self.item = catalog.items[self.item_id]
        self.variation = catalog.variation(self.variation_id)


class AnswerRow:
    """An answer as ``serialization.Rendered.shown_answers`` reads it."""

    __slots__ = ("question", "answer")

    def __init__(self, question, answer):
        self.question = question
        self.answer = answer


class Catalog:
    """The event's products, variations, dates and check-in questions, one query each for
    the whole preload, so that rows refer to shared instances instead of joining them."""

    def __init__(self, *, event, subevent_id=None):
        self.items = {i.pk: i for i in Item.objects.filter(event=event)}
        self.variations = {v.pk: v for v in ItemVariation.objects.filter(item__event=event)}
        self.subevents = {}
        if event.has_subevents:
            subevents = SubEvent.objects.filter(event=event)
            if subevent_id:
                subevents = subevents.filter(pk=subevent_id)
            self.subevents = {s.pk: s for s in subevents}
        self.questions = {
            q.pk: q for q in Question.objects.filter(
                Q(show_during_checkin=True) | Q(ask_during_checkin=True), event=event,
            )
        }

    def variation(self, pk):
        return None if pk is None else self.variations[pk]

    def subevent(self, pk):
        return None if pk is None else self.subevents[pk]


def iter_records(preload: Preload):
    """One dict per attendee, in id order, with its add-ons as line items."""
    clist = preload.checkin_list
    event = clist.event
    tz = ZoneInfo(event.settings.timezone)  # what ``event.timezone`` wraps, without the shim's cost
    catalog = Catalog(event=event, subevent_id=clist.subevent_id)
    rendered = serialization.Rendered(event=event)
    parents = attendee_queryset(preload)
    attendees = (
        parents.annotate(
            last_entry_at=last_entry_subquery(checkin_list=clist),
            last_type=last_checkin_type_subquery(checkin_list=clist),
        )
        .order_by("pk")
        .values_list(*ATTENDEE_COLUMNS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    addons = (
        OrderPosition.objects.filter(addon_to_id__in=Subquery(parents.values("pk")))
        .annotate(redeemed_at=redeemed_at_subquery())
        .order_by("addon_to_id", "positionid", "pk")
        .values_list(*ADDON_COLUMNS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    answers = (
        QuestionAnswer.objects.filter(
            Q(question__show_during_checkin=True) | Q(question__ask_during_checkin=True),
            orderposition_id__in=Subquery(parents.values("pk")),
        )
        .order_by("orderposition_id", "question__position", "question_id")
        .values_list(*ANSWER_COLUMNS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    addons_of = _grouped(addons)
    answers_of = _grouped(answers)
    questions = catalog.questions
    masters = sealing.Masters(event)
    try:
        yield from _records(preload, attendees, addons_of, answers_of, questions, catalog, masters, tz, rendered)
    finally:
        masters.save()


def _records(preload, attendees, addons_of, answers_of, questions, catalog, masters, tz, rendered):
    clist = preload.checkin_list
    for values in attendees:
        position = AttendeeRow(values, catalog)
        own_addons = [LineItemRow(a, catalog) for a in addons_of(position.pk)]
        own_answers = answers_of(position.pk)
        position.shown_answer_list = [
            AnswerRow(questions[qid], text) for _, qid, text in own_answers if questions[qid].show_during_checkin
        ]
        unanswered = preload.questions_by_item.get(position.item_id, ())
        if unanswered and own_answers:
            answered = {qid for _, qid, _ in own_answers}
            unanswered = [q for q in unanswered if q not in answered]
        try:
            record = offline_record(preload, position, own_addons, unanswered=unanswered, tz=tz, rendered=rendered)
            master = masters.master(position.pk, position.secret, position.kept_master, position.kept_digest)
            yield sealed_record(preload, record, master)
        except Exception:
            # One record's data must not end every desk's download mid-stream.
            logger.exception("Preload of list %s: position %s cannot be rendered", clist.pk, position.pk)
            yield unverifiable_record(preload, position)


def _grouped(rows):
    """Rows of an iterator ordered by their first column, handed out per key in ascending
    order: a merge join in Python, so related rows cost one query for the whole preload."""
    pending = next(rows, None)

    def rows_of(k):
        nonlocal pending
        found = []
        while pending is not None and pending[0] <= k:
            if pending[0] == k:
                found.append(pending)
            pending = next(rows, None)
        return found

    return rows_of


def offline_record(preload: Preload, position, addons, *, unanswered, tz, rendered=serialization.UNCACHED):
    """One attendee as the desk stores it, with what pretix would answer (``verdict``).
    ``position`` and ``addons`` are model instances or rows with the same attributes."""
    facts = preload.facts
    on_list = 1
    if facts.addon_match:
        on_list = facts.admits_product(position) + sum(1 for a in addons if facts.admits_product(a))
    entry, exit_ = scan_steps(
        position, facts=facts, candidates_on_list=on_list, unanswered=unanswered,
        isoformat=lambda dt: serialization.isoformat(dt, tz),
    )
    # ("owner", the position whose code it is, is left out: today always the attendee's own)
    record = {
        "attendee": serialization.attendee_data(
            position, tz=tz, last_entry_at=position.last_entry_at, rendered=rendered,
        ),
        "line_items": serialization.line_items_data(position, addons, tz=tz, rendered=rendered),
        # After the attendee and line items, whose own ids end them: 64 random hex digits
        # gzip cannot shorten should not split the runs that repeat from record to record.
        # Only the optional keys below follow it.
        "code_hash": code_hash(salt=preload.salt, access_code=position.secret),
    }
    if entry:
        record["entry"] = entry
    if exit_:
        record["exit"] = exit_
    if position.last_type:
        record["last"] = position.last_type
    refusal = handout_refusal(position)
    if refusal:
        record["redeem"] = refusal
    return record


def sealed_record(preload: Preload, record, master):
    """The record as a desk keeps it: the personal fields sealed with the ticket's own code
    (``sealing``), found by the lookup id derived from it. For those who may list attendees
    the search index comes beside them, and what it shows is not sealed again (a cipher
    per record is most of a download's size: ``docs/benchmarks.rst``, "What sealing
    costs"); ``sealed`` is then "" where nothing else is personal. Without a master yet
    (derived in the background), nothing sealed is in the record and the plain code hash
    finds it."""
    indexed = SEARCH_INDEX if preload.may_list else ()
    attendee, personal = sealing.split_personal(record["attendee"], indexed=indexed)
    out = {"attendee": attendee, "line_items": record["line_items"]}
    if preload.may_list:
        out["index"] = {key: record["attendee"].get(key) for key in SEARCH_INDEX}
    if master is not None:
        out["code_hash"], out["sealed"] = sealing.lookup_and_seal(master, preload.salt, personal)
    else:
        out["code_hash"] = record["code_hash"]
        out["sealed"] = None
    for key in ("entry", "exit", "last", "redeem"):
        if key in record:
            out[key] = record[key]
    return out


def unverifiable_record(preload: Preload, position):
    """A record for a position whose own record failed: found by its code, answered
    "cannot verify offline" in both directions, with only fields that need no rendering."""
    steps = [[SERVER, SERVER_ERROR]]
    return {
        "attendee": {"position_id": position.pk, "checked_in": position.last_entry_at is not None},
        "line_items": [],
        "code_hash": code_hash(salt=preload.salt, access_code=position.secret),
        "sealed": None,
        "entry": steps,
        "exit": steps,
    }


def recent_conflicts(preload: Preload):
    """The forced check-ins on the list since the token (without one, of the last
    ``CONFLICTS_FOR``), newest first: each desk recognises its own uploads among their
    other check-ins by nonce and shows the conflict too. Two statements, the first on a
    partial index of forced check-ins (migration 0005)."""
    clist = preload.checkin_list
    since = preload.since or preload.started_at - CONFLICTS_FOR
    forced = Checkin.objects.filter(list_id=clist.pk, forced=True, created__gte=since)
    if preload.product_ids is not None:
        forced = forced.filter(position__item_id__in=preload.product_ids)
    forced = list(forced.select_related("gate", "device").order_by("-created", "-pk")[:MAX_CONFLICTS])
    if not forced:
        return []
    others = {}
    for c in Checkin.objects.filter(
        list_id=clist.pk, position_id__in={f.position_id for f in forced},
    ).select_related("gate", "device").order_by("-datetime", "-pk"):
        others.setdefault(c.position_id, []).append(c)
    return [
        Conflict(
            position_id=f.position_id, reason=None, explanation=None, checkin=f,
            others=[c for c in others.get(f.position_id, ()) if c.pk != f.pk][:MAX_OTHERS],
        )
        for f in forced
    ]


def iter_removed_hashes(preload: Preload):
    """Codes a desk must forget: positions changed since the token that the list no longer
    admits, secrets revoked since (a ticket whose code was regenerated) and the codes of
    orders deleted since. Each as the plain hash and as the sealed records' lookup id (from
    the kept master: a desk holds a sealed record only of a code whose master was kept)."""
    if preload.since is None:
        return
    clist = preload.checkin_list
    seal_salt = sealing.event_salt(clist.event)
    admitted = population_queryset(preload).filter(pk=OuterRef("pk"))
    gone = OrderPosition.all.filter(
        order__event_id=clist.event_id, order__last_modified__gte=preload.since,
    ).exclude(Exists(admitted)).values_list(
        "secret", "pretix_desk_seal__master", "pretix_desk_seal__secret_digest",
    ).order_by("pk")
    for secret, master, digest in gone.iterator(chunk_size=CHUNK_SIZE):
        yield code_hash(salt=preload.salt, access_code=secret)
        if master is not None and digest == sealing.secret_digest(secret):
            yield sealing.lookup_id(bytes(master), preload.salt)
    revoked = RevokedTicketSecret.objects.filter(event_id=clist.event_id, created__gte=preload.since).values_list(
        "secret", "position__pretix_desk_seal__master", "position__pretix_desk_seal__secret_digest",
    ).order_by("pk")
    deleted = DeletedSecret.objects.filter(event_id=clist.event_id, created__gte=preload.since).values_list(
        "secret", flat=True,
    ).order_by("pk")
    # Few: derived where the master kept is that of the new code, or gone with the order.
    codes = list(revoked.iterator(chunk_size=CHUNK_SIZE)) + [(s, None, None) for s in deleted]
    for secret, _master, _digest in codes:
        yield code_hash(salt=preload.salt, access_code=secret)
    yield from sealing.lookup_ids(codes, salt=seal_salt, list_salt=preload.salt)


def iter_json(preload: Preload):
    """The response body, a hundred records per chunk, one per line.

    Runs after the view has returned, outside pretix's request scope, so it sets up the
    organizer scope and language itself.
    """
    clist = preload.checkin_list
    language = translation.get_language()
    tz = clist.event.timezone
    with scope(organizer=clist.event.organizer), translation.override(language):
        head = {
            "list": clist.pk,
            "generated_at": serialization.isoformat(preload.started_at, clist.event.timezone),
            "sync_token": preload.sync_token,
            "salt": preload.salt,
            "entries": {
                "allow_multiple_entries": clist.allow_multiple_entries,
                "allow_entry_after_exit": clist.allow_entry_after_exit,
            },
            "questions": {str(q.pk): question_data(q) for q in preload.questions},
            "seal": sealing.head(clist.event),
            "search": preload.may_list,
            # an offline desk to which one applies says it cannot verify it (door/capacity.py)
            "capacities": preload.capacities,
            # what answers a signed ticket sold after this download (desk/signed.py)
            "signed": signed.head(preload),
        }
        # One line for the head, one per record, one for the rest: still one JSON document
        # (a newline is whitespace to JSON and escaped in its strings), which the page
        # parses line by line as it arrives (desk/download.js).
        yield _dumps(head)[:-1] + ',"attendees":[\n'
        count = 0
        buffer = []
        for record in iter_records(preload):
            buffer.append(record)
            if len(buffer) >= RECORDS_PER_CHUNK:
                yield (",\n" if count else "") + ",\n".join(map(_dumps, buffer))
                count += len(buffer)
                buffer = []
        if buffer:
            yield (",\n" if count else "") + ",\n".join(map(_dumps, buffer))
            count += len(buffer)
        removed = list(iter_removed_hashes(preload))
        conflicts = [serialization.conflict_data(c, tz=tz) for c in recent_conflicts(preload)]
        yield '%s],"removed":%s,"conflicts":%s,"count":%d}' % (
            "\n" if count else "", _dumps(removed), _dumps(conflicts), count,
        )


def _dumps(data):
    """JSON as ``json.dumps`` writes it (ASCII, ``/`` unescaped), compact, and several
    times faster: ujson comes with pretix."""
    return ujson.dumps(data, ensure_ascii=True, escape_forward_slashes=False)
