"""Sync tokens, list fingerprints and the ETag's ``SyncState``: what lets an offline desk
fetch only what changed since its download, and get a 304 when nothing did."""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.core import signing
from django.db.models import (
    Count, DateTimeField, ExpressionWrapper, FloatField, Func, Max, OuterRef, Q,
    Subquery, Sum, Value,
)
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from pretix.base.models import (
    Item, ItemVariation, Order, OrderPosition, Question, RevokedTicketSecret, SubEvent,
)
from pretix.base.models.orders import BlockedTicketSecret

from pretix_desk.models import DeletedSecret

from . import sealing
from .positions import list_product_ids
from .questions import checkin_questions

_SIGNING_SALT = "pretix_desk.preload.sync"
# Rows written by transactions that were still open when a preload started carry earlier
# timestamps than the token; overlapping the next sync by this much picks them up.
SYNC_OVERLAP = timedelta(minutes=2)
#: Sync windows start on multiples of this many seconds: the desks of a list that synced in
#: the same half minute ask for the same changes, and one rendering answers them all
#: (shared_preload.py). A window starting earlier only sends a record again.
WINDOW_STEP = 30
NOT_READ = object()


class InvalidSyncToken(ValueError):
    pass


def list_fingerprint(*, checkin_list, product_ids, questions=(), catalog="", may_list=False):
    """Changes when what the preload sends changes for reasons no order's timestamp shows
    (the list's products, date, entry and add-on settings, whether it has rules, its
    check-in questions, ``catalog``: the event's products, dates, texts, time zone, the
    language of the download and the sealing keys' generation, and whether the caller gets
    the search index), which makes older tokens invalid: the desk downloads everything
    again."""
    parts = [
        3, checkin_list.pk, checkin_list.subevent_id, checkin_list.include_pending,
        None if product_ids is None else sorted(product_ids),
        checkin_list.allow_multiple_entries, checkin_list.allow_entry_after_exit,
        checkin_list.addon_match, bool(checkin_list.rules),
        [(q.pk, q.type, q.required, sorted(i.pk for i in q.items.all())) for q in questions],
        catalog, may_list,
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def fingerprint_of(checkin_list, *, product_ids=NOT_READ, questions=NOT_READ, may_list=False):
    """The list's fingerprint as a preload for a caller who may (or may not) list attendees
    now states it (what it has not read yet is read here)."""
    if product_ids is NOT_READ:
        product_ids = list_product_ids(checkin_list=checkin_list)
    if questions is NOT_READ:
        questions = checkin_questions(event=checkin_list.event, item_ids=product_ids)
    return list_fingerprint(
        checkin_list=checkin_list, product_ids=product_ids, questions=questions,
        catalog=catalog_digest(event=checkin_list.event), may_list=may_list,
    )


def catalog_digest(*, event):
    """A digest of everything of the event a record shows or decides on that is not part
    of an order: names, check-in texts and attention flags of products and variations, the
    products' reusable-media policy, the questions shown or asked at check-in with their
    options, the dates, the event's time zone, and the language the records are rendered
    in. pretix keeps no modification time for products, so their rows are read (a few
    per product); dates have one, and are read as their latest change and count."""
    rows = [
        list(Item.objects.filter(event=event).order_by("pk").values_list(
            "pk", "name", "checkin_text", "checkin_attention", "media_policy", "media_type")),
        list(ItemVariation.objects.filter(item__event=event).order_by("pk").values_list(
            "pk", "value", "checkin_text", "checkin_attention")),
        list(Question.objects.filter(
            Q(show_during_checkin=True) | Q(ask_during_checkin=True), event=event,
        ).order_by("pk").values_list(
            "pk", "question", "help_text", "type", "required", "position", "show_during_checkin",
            "ask_during_checkin", "valid_number_min", "valid_number_max", "valid_date_min", "valid_date_max",
            "valid_datetime_min", "valid_datetime_max", "valid_string_length_min", "valid_string_length_max",
            "options__pk", "options__identifier", "options__answer",
        )),
        event.has_subevents and SubEvent.objects.filter(event=event).aggregate(Max("last_modified"), Count("pk")),
        event.settings.timezone,
        translation.get_language(),
        sealing.generation(event),
        # signed codes: which generator, and the key they are verified with (desk/signed.py)
        event.settings.ticket_secret_generator, event.settings.ticket_secrets_pretix_sig1_pubkey,
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def make_sync_token(*, checkin_list, product_id, fingerprint, started_at, admission=None):
    """``admission``: what of the list decides admission then (``admission_fingerprint``),
    by which an offline upload shows that the list changed after its download."""
    return signing.dumps(
        {"l": checkin_list.pk, "p": product_id, "f": fingerprint, "t": started_at.timestamp(),
         "a": admission or admission_fingerprint(checkin_list)},
        salt=_SIGNING_SALT, compress=True,
    )


def admission_fingerprint(checkin_list):
    """What of a list pretix's admission depends on: its products, date, pending, entry and
    add-on settings, its rules, and which of the event's products need a reusable medium.
    Names, texts and the language change what a record shows, not who is admitted."""
    product_ids = list_product_ids(checkin_list=checkin_list)
    parts = [
        1, checkin_list.pk, checkin_list.subevent_id, checkin_list.include_pending,
        None if product_ids is None else sorted(product_ids),
        checkin_list.allow_multiple_entries, checkin_list.allow_entry_after_exit, checkin_list.addon_match,
        json.dumps(checkin_list.rules, sort_keys=True),
        sorted(Item.objects.filter(event_id=checkin_list.event_id).exclude(media_policy__isnull=True).exclude(
            media_policy="").values_list("pk", "media_policy", "media_type")),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def read_sync_token(token, *, checkin_list, product_id, fingerprint):
    """``(since, issued)``: the time from which changes must be sent again (the token's time
    less the overlap, rounded down to ``WINDOW_STEP``) and the time the token was issued.
    Raises InvalidSyncToken."""
    data = _read(token, checkin_list=checkin_list)
    issued, token_product, token_fingerprint = data["since"], data["p"], data["f"]
    if token_product != product_id:
        raise InvalidSyncToken(_("This sync token belongs to another list or product filter."))
    if token_fingerprint != fingerprint:
        raise InvalidSyncToken(
            _("The check-in list has changed since this sync token was issued. Download "
              "everything again without since.")
        )
    start = (issued - SYNC_OVERLAP).timestamp()
    return datetime.fromtimestamp(start - start % WINDOW_STEP, tz=timezone.utc), issued


def read_download_time(token, *, checkin_list):
    """``(since, admission)`` of the download a desk answered from when offline: its time
    less the sync overlap (what it may have missed starts there), and the list's
    ``admission_fingerprint`` then (None in tokens from before it was kept). Raises
    InvalidSyncToken."""
    data = _read(token, checkin_list=checkin_list)
    return data["since"] - SYNC_OVERLAP, data.get("a")


def _read(token, *, checkin_list):
    try:
        data = signing.loads(token, salt=_SIGNING_SALT)
        data["since"] = datetime.fromtimestamp(float(data["t"]), tz=timezone.utc)
        token_list = data["l"]
        if not {"p", "f"} <= data.keys():
            raise KeyError("p")
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise InvalidSyncToken(_("This is not a sync token of this server."))
    if token_list != checkin_list.pk:
        raise InvalidSyncToken(_("This sync token belongs to another list or product filter."))
    return data


class Epoch(Func):
    """Seconds since 1970 of a date-time column, summed for ``with_sync_state``."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(julianday(%(expressions)s) * 86400.0)", **extra)


def _latest(model, field, event_ref):
    return Subquery(model.objects.filter(event_id=event_ref).order_by("-" + field).values(field)[:1])


def _recent_sum(model, field):
    """The sum of ``field`` over the rows within ``SYNC_OVERLAP`` of the latest one: a
    transaction that commits late, stamped earlier than the latest change, still changes
    it, where the sync token's overlap would send its rows. An index range read."""
    since = ExpressionWrapper(
        _latest(model, field, OuterRef(OuterRef("event_id"))) - Value(SYNC_OVERLAP), output_field=DateTimeField(),
    )
    return Subquery(
        model.objects.filter(event_id=OuterRef("event_id"), **{field + "__gte": since})
        .order_by().values("event_id").annotate(total=Sum(Epoch(field))).values("total")[:1]
    )


#: The kinds of change the ETag follows, each as ``(name, model, time field)``.
SYNC_KINDS = (
    ("modified", Order, "last_modified"), ("revoked", RevokedTicketSecret, "created"),
    ("deleted", DeletedSecret, "created"), ("blocked", BlockedTicketSecret, "updated"),
)


def with_sync_state(lists):
    """Check-in lists annotated with their event's ``SyncState``, in the statement that
    loads them: for orders (their modification), revoked secrets and deleted orders (their
    creation) and blocked secrets (their change: ``desk/signed.py`` lists them), the latest
    time and the sum over the last ``SYNC_OVERLAP`` before it, all with index reads. The
    desk loads its list this way for the preload, so an unchanged sync costs no statement of
    its own; ``SyncState.of`` reads the annotations."""
    annotations = {}
    for name, model, field in SYNC_KINDS:
        annotations[f"sync_{name}"] = _latest(model, field, OuterRef("event_id"))
        annotations[f"sync_{name}_recent"] = _recent_sum(model, field)
    return lists.annotate(**annotations)


@dataclass(frozen=True)
class SyncState:
    """When the event last changed in each way a preload follows (``with_sync_state``)."""

    values: tuple

    @classmethod
    def of(cls, checkin_list):
        """The state loaded with a list by ``with_sync_state``."""
        try:
            return cls(tuple(getattr(checkin_list, f"sync_{name}{suffix}")
                             for name, _model, _field in SYNC_KINDS for suffix in ("", "_recent")))
        except AttributeError:
            raise TypeError("load the check-in list with with_sync_state() to read its sync state")


def preload_etag(*, sync_state, product_id, fingerprint, capacities=()):
    """A digest of everything a preload shows; equal digests mean equal data.

    It rests on what the incremental sync rests on: every change a record shows touches its
    order's ``last_modified`` (pretix's ``Checkin.save``/``delete`` do, so do order changes
    and our redemptions and auto check-ins), a regenerated code leaves a revoked secret, a
    deleted order a ``DeletedSecret``, and everything else is in the fingerprint. Anything
    the sync from a token would send again that a desk holding an answer with this digest
    lacks changes the latest time or the recent sum (``with_sync_state``), so the digest
    never hides it behind a 304. ``sync_state`` (``SyncState``) comes with the list in the
    statement that loads it, so the digest costs no statement.

    ``capacities`` (``door.capacity.capacities_of``) are in the head of every answer, so
    they are part of the digest but not of the fingerprint: a changed capacity is sent with
    the next changes, without a full download.

    It leaves out the sync token: a desk that holds the data of an earlier answer with this
    digest holds everything, whichever token it syncs from, so its periodic sync gets a
    304 until something changes.
    """
    parts = [5, fingerprint, product_id, capacities, *sync_state.values]
    return '"%s"' % hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def remember_deleted_order(order):
    """Keep the codes of an order pretix is about to delete (it deletes test mode orders
    only), so that the next sync removes them from every desk."""
    DeletedSecret.objects.bulk_create([
        DeletedSecret(event_id=order.event_id, secret=secret)
        for secret in OrderPosition.all.filter(order=order).values_list("secret", flat=True)
    ])


def etag_matches(if_none_match, etag):
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == etag or t == "W/" + etag for t in tags)
