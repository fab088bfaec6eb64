"""Sync tokens and ETags for the preload: what an offline desk needs to fetch only changes."""
import hashlib
from datetime import datetime, timedelta, timezone

from django.core import signing
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext_lazy as _
from pretix.base.models import Order, OrderPosition, RevokedTicketSecret

from pretix_desk.models import DeletedSecret

_SIGNING_SALT = "pretix_desk.preload.sync"
# Rows written by transactions that were still open when a preload started carry earlier
# timestamps than the token; overlapping the next sync by this much picks them up.
SYNC_OVERLAP = timedelta(minutes=2)


class InvalidSyncToken(ValueError):
    pass


def list_fingerprint(*, checkin_list, product_ids, questions=()):
    """Changes when what the preload sends changes for reasons no timestamp shows (the
    list's products, date, entry and add-on settings, whether it has rules, its check-in
    questions), which makes older tokens invalid: the desk downloads everything again."""
    parts = [
        2, checkin_list.pk, checkin_list.subevent_id, checkin_list.include_pending,
        None if product_ids is None else sorted(product_ids),
        checkin_list.allow_multiple_entries, checkin_list.allow_entry_after_exit,
        checkin_list.addon_match, bool(checkin_list.rules),
        [(q.pk, q.type, q.required, sorted(i.pk for i in q.items.all())) for q in questions],
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def make_sync_token(*, checkin_list, product_id, fingerprint, started_at):
    return signing.dumps(
        {"l": checkin_list.pk, "p": product_id, "f": fingerprint, "t": started_at.timestamp()},
        salt=_SIGNING_SALT, compress=True,
    )


def read_sync_token(token, *, checkin_list, product_id, fingerprint) -> datetime:
    """The time from which changes must be sent again. Raises InvalidSyncToken."""
    try:
        data = signing.loads(token, salt=_SIGNING_SALT)
        since = datetime.fromtimestamp(float(data["t"]), tz=timezone.utc)
        token_list, token_product, token_fingerprint = data["l"], data["p"], data["f"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise InvalidSyncToken(_("This is not a sync token of this server."))
    if token_list != checkin_list.pk or token_product != product_id:
        raise InvalidSyncToken(_("This sync token belongs to another list or product filter."))
    if token_fingerprint != fingerprint:
        raise InvalidSyncToken(
            _("The check-in list has changed since this sync token was issued. Download "
              "everything again without since.")
        )
    return since - SYNC_OVERLAP


def with_sync_state(lists):
    """Check-in lists annotated with what ``preload_etag`` reads: the latest modified order,
    revoked secret and deleted order of the list's event (three index reads). The desk
    loads its list this way for the preload, so an unchanged sync costs no statement of
    its own."""
    def latest(model, field):
        return Subquery(
            model.objects.filter(event_id=OuterRef("event_id")).order_by("-" + field).values(field)[:1]
        )

    return lists.annotate(
        sync_modified=latest(Order, "last_modified"), sync_revoked=latest(RevokedTicketSecret, "pk"),
        sync_deleted=latest(DeletedSecret, "pk"),
    )


def preload_etag(*, checkin_list, product_id, fingerprint):
    """A cheap digest of everything a preload shows; equal digests mean equal data.

    It rests on what the incremental sync rests on: every change a record shows touches its
    order's ``last_modified`` (pretix's ``Checkin.save``/``delete`` do, so do order changes
    and our redemptions and auto check-ins), a regenerated code leaves a revoked secret and
    a deleted order a ``DeletedSecret``. So the latest of each stands for the whole list,
    whatever the size of the event (a count of the orders, for deletions, read every order
    of the event). ``checkin_list`` must come from ``with_sync_state``: the view loads it so,
    and the digest then costs no statement.

    It leaves out the sync token: a desk that holds the data of an earlier answer with this
    digest holds everything, whichever token it syncs from, so its periodic sync gets a
    304 until something changes.
    """
    parts = [4, fingerprint, product_id, checkin_list.sync_modified, checkin_list.sync_revoked,
             checkin_list.sync_deleted]
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
