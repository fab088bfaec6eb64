"""The offline preload: every attendee a list could admit, streamed as one JSON document.

Two ordered queries, read with server-side cursors where the database has them: the
attendees by id, and their add-ons by parent id. Merging the two in Python keeps the query
count the same for ten attendees and for a hundred thousand, and memory flat, where a
prefetch per chunk would grow with both.
"""
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Optional

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import translation
from django.utils.timezone import now
from django_scopes import scope
from pretix.base.models import OrderPosition, QuestionAnswer, RevokedTicketSecret

from . import serialization
from .codes import code_hash, list_salt
from .positions import (
    last_checkin_type_subquery, last_entry_subquery, list_product_ids, population_q,
    redeemed_at_subquery,
)
from .questions import checkin_questions, question_data
from .sync import list_fingerprint, make_sync_token, preload_etag, read_sync_token
from .verdict import ListFacts, handout_refusal, scan_steps

CHUNK_SIZE = 500


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
        return preload_etag(
            checkin_list=self.checkin_list, product_id=self.product_id,
            fingerprint=self.fingerprint,
        )


def prepare_preload(*, checkin_list, product_id=None, since_token=None) -> Preload:
    """Raises ``sync.InvalidSyncToken`` for a token this list cannot continue from."""
    list_products = list_product_ids(checkin_list=checkin_list)
    if product_id is not None:
        product_ids = [product_id] if list_products is None or product_id in list_products else []
    else:
        product_ids = list_products
    questions = checkin_questions(event=checkin_list.event, item_ids=list_products)
    fingerprint = list_fingerprint(checkin_list=checkin_list, product_ids=list_products, questions=questions)
    since = None
    if since_token:
        since = read_sync_token(
            since_token, checkin_list=checkin_list, product_id=product_id, fingerprint=fingerprint,
        )
    return Preload(
        checkin_list=checkin_list, product_id=product_id, product_ids=product_ids,
        facts=ListFacts.of(checkin_list, product_ids=list_products), since=since,
        questions=questions,
        since_token=since_token, fingerprint=fingerprint, started_at=now(),
        salt=list_salt(checkin_list=checkin_list),
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


def iter_records(preload: Preload):
    """One dict per attendee, in id order, with its add-ons as line items."""
    clist = preload.checkin_list
    tz = clist.event.timezone
    parents = attendee_queryset(preload)
    attendees = (
        parents.select_related("order", "item", "variation", "subevent")
        .annotate(
            last_entry_at=last_entry_subquery(checkin_list=clist),
            last_type=last_checkin_type_subquery(checkin_list=clist),
        )
        .order_by("pk")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    addons = (
        OrderPosition.objects.filter(addon_to_id__in=Subquery(parents.values("pk")))
        .select_related("item", "variation")
        .annotate(redeemed_at=redeemed_at_subquery())
        .order_by("addon_to_id", "positionid", "pk")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    answers = (
        QuestionAnswer.objects.filter(
            Q(question__show_during_checkin=True) | Q(question__ask_during_checkin=True),
            orderposition_id__in=Subquery(parents.values("pk")),
        )
        .select_related("question")
        .order_by("orderposition_id", "question__position", "question_id")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    addons_of = _grouped(addons, key=lambda a: a.addon_to_id)
    answers_of = _grouped(answers, key=lambda a: a.orderposition_id)
    for position in attendees:
        own_addons = addons_of(position.pk)
        own_answers = answers_of(position.pk)
        position.shown_answer_list = [a for a in own_answers if a.question.show_during_checkin]
        answered = {a.question_id for a in own_answers}
        unanswered = [q for q in preload.questions_by_item.get(position.item_id, ()) if q not in answered]
        yield offline_record(preload, position, own_addons, unanswered=unanswered, tz=tz)


def _grouped(rows, *, key):
    """Rows of an iterator ordered by ``key``, handed out per key in ascending order: a
    merge join in Python, so related rows cost one query for the whole preload."""
    pending = next(rows, None)

    def rows_of(k):
        nonlocal pending
        found = []
        while pending is not None and key(pending) <= k:
            if key(pending) == k:
                found.append(pending)
            pending = next(rows, None)
        return found

    return rows_of


def offline_record(preload: Preload, position, addons, *, unanswered, tz):
    """One attendee as the desk stores it, with what pretix would answer (``verdict``)."""
    facts = preload.facts
    on_list = 1
    if facts.addon_match:
        on_list = facts.admits_product(position) + sum(1 for a in addons if facts.admits_product(a))
    entry, exit_ = scan_steps(
        position, facts=facts, candidates_on_list=on_list, unanswered=unanswered,
        isoformat=lambda dt: serialization.isoformat(dt, tz),
    )
    record = {
        "code_hash": code_hash(salt=preload.salt, access_code=position.secret),
        "owner": position.pk,
        "attendee": serialization.attendee_data(position, tz=tz, last_entry_at=position.last_entry_at),
        "line_items": serialization.line_items_data(position, addons, tz=tz),
    }
    optional = {
        "entry": entry, "exit": exit_, "last": position.last_type, "redeem": handout_refusal(position),
    }
    record.update((k, v) for k, v in optional.items() if v)
    return record


def iter_removed_hashes(preload: Preload):
    """Codes a desk must forget: positions changed since the token that the list no longer
    admits, and secrets revoked since (a ticket whose code was regenerated)."""
    if preload.since is None:
        return
    clist = preload.checkin_list
    admitted = population_queryset(preload).filter(pk=OuterRef("pk"))
    gone = OrderPosition.all.filter(
        order__event_id=clist.event_id, order__last_modified__gte=preload.since,
    ).exclude(Exists(admitted)).values_list("secret", flat=True).order_by("pk")
    for secret in gone.iterator(chunk_size=CHUNK_SIZE):
        yield code_hash(salt=preload.salt, access_code=secret)
    revoked = RevokedTicketSecret.objects.filter(
        event_id=clist.event_id, created__gte=preload.since,
    ).values_list("secret", flat=True).order_by("pk")
    for secret in revoked.iterator(chunk_size=CHUNK_SIZE):
        yield code_hash(salt=preload.salt, access_code=secret)


def iter_json(preload: Preload):
    """The response body, a few hundred records per chunk.

    Runs after the view has returned, outside pretix's request scope, so it sets up the
    organizer scope and language itself.
    """
    clist = preload.checkin_list
    language = translation.get_language()
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
        }
        yield json.dumps(head)[:-1] + ', "attendees": ['
        count = 0
        buffer = []
        for record in iter_records(preload):
            buffer.append(json.dumps(record))
            count += 1
            if len(buffer) >= 100:
                yield ("," if count > len(buffer) else "") + ",".join(buffer)
                buffer = []
        if buffer:
            yield ("," if count > len(buffer) else "") + ",".join(buffer)
        removed = list(iter_removed_hashes(preload))
        yield '], "removed": %s, "count": %d}' % (json.dumps(removed), count)
