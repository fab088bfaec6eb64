"""What a desk needs to answer offline a signed ticket (``pretix_sig1``) that its download
does not hold, such as one sold after its last sync, as pretixSCAN answers it.

A signed code proves by its Ed25519 signature that pretix issued it and names product,
variation, date and validity window (pretix's ``Sig1TicketSecretGenerator``). The page
verifies it with the event's public key and answers from the preload head's ``signed``
part: per product and variation, the steps ``verdict.scan_steps`` works out for a fresh
ticket (paid, never checked in: what a signature cannot tell, ``docs/offline.rst``) on the
list's date, and the answer for another date; the dates; and, hashed like the records'
codes, the codes pretix refuses whatever the payload says (revoked, blocked). The page holds
no rule of its own: the ticket's validity window fills the ``["window", "ticket"]`` step
where ``scan_steps`` puts it.
"""
from pretix.base.models import Checkin, Order, OrderPosition, RevokedTicketSecret
from pretix.base.models.orders import BlockedTicketSecret

from . import serialization
from .codes import code_hash
from .verdict import REFUSE, SERVER, scan_steps

SIG1 = "pretix_sig1"
#: Fills the validity window of the scanned ticket (its payload) into a step.
TICKET_WINDOW = "ticket"
#: With add-on matching pretix looks at the ticket's add-ons, which a signature does not name.
SERVER_ADDONS = "addons"
_PLACEHOLDER = object()


def is_signed(event) -> bool:
    return event.settings.ticket_secret_generator == SIG1


def valid_keys(event):
    """The public keys pretix's event API lists as ``valid_keys["pretix_sig1"]``: base64 of
    a PEM SubjectPublicKeyInfo. pretix makes the key with the first signed ticket."""
    key = event.settings.ticket_secrets_pretix_sig1_pubkey
    return [key] if key else []


def head(preload):
    """The preload head's ``signed`` part, or None for an event with other codes. A full
    download has the keys, products and dates, and lists every code pretix refuses. An
    incremental one only the codes refused since its token and, in ``released``, those
    blocked before and no longer: the rest is unchanged while the token is valid (keys,
    products, dates and the list are in its fingerprint)."""
    clist = preload.checkin_list
    event = clist.event
    if not is_signed(event):
        return None
    out = {"v": 1}
    if preload.since is None:
        tz = event.timezone
        out.update({
            "keys": valid_keys(event),
            "subevent": clist.subevent_id,
            "tickets": _tickets(preload, tz),
            "dates": {str(se.pk): serialization.subevent_data(se, tz) for se in event.subevents.all()}
            if event.has_subevents else {},
        })
    out["refused"], out["released"] = _refused(preload)
    return out


def _tickets(preload, tz):
    """Per ``"{item}-{variation}"`` (0: none, as the payload says): the attendee fields a
    signature tells, and the steps on the list's date and, for a list of one date, another."""
    clist = preload.checkin_list
    facts = preload.facts
    # pretix narrows by product over the ticket and its add-ons; the payload names no add-on
    on_list = 2 if facts.addon_match else 1
    order = Order(status=Order.STATUS_PAID, require_approval=False, valid_if_pending=False)

    def steps(item, variation, subevent_id):
        fresh = OrderPosition(
            order=order, item=item, variation=variation, subevent_id=subevent_id, canceled=False,
            blocked=None, valid_from=_PLACEHOLDER, valid_until=None,
        )
        entry, exit_ = scan_steps(
            fresh, facts=facts, candidates_on_list=on_list,
            unanswered=preload.questions_by_item.get(item.pk, ()),
            isoformat=lambda dt: TICKET_WINDOW if dt is _PLACEHOLDER else serialization.isoformat(dt, tz),
        )
        if facts.addon_match:
            entry = exit_ = [[SERVER, SERVER_ADDONS]]
        return {"entry": entry, "exit": exit_}

    # pretix looks a code up among the positions of the list's date only (``find_candidates``
    # does the same): a ticket of another date is an unknown code there
    unknown = [REFUSE, Checkin.REASON_INVALID]
    tickets = {}
    for item in clist.event.items.prefetch_related("variations"):
        for variation in [None] + list(item.variations.all()):
            attendee = {
                "product": serialization.product_data(item),
                "variation": serialization.variation_data(variation),
                "require_attention": bool(item.checkin_attention or (variation and variation.checkin_attention)),
            }
            ticket = {"attendee": attendee, **steps(item, variation, clist.subevent_id)}
            if clist.subevent_id:
                ticket["other_date"] = {"entry": [unknown], "exit": [unknown]}
            tickets["{}-{}".format(item.pk, variation.pk if variation else 0)] = ticket
    return tickets


def _refused(preload):
    clist = preload.checkin_list
    salt = preload.salt
    revoked = RevokedTicketSecret.objects.filter(event_id=clist.event_id)
    blocked = BlockedTicketSecret.objects.filter(event_id=clist.event_id)
    if preload.since is None:
        blocked = blocked.filter(blocked=True)
    else:
        revoked = revoked.filter(created__gte=preload.since)
        blocked = blocked.filter(updated__gte=preload.since)
    refused, released = {}, []
    for secret in revoked.values_list("secret", flat=True).order_by("pk").iterator(chunk_size=2000):
        refused[code_hash(salt=salt, access_code=secret)] = Checkin.REASON_REVOKED
    # a code revoked stays refused, whatever became of a block on it
    blocked = blocked.exclude(blocked=False, secret__in=RevokedTicketSecret.objects.filter(
        event_id=clist.event_id).values("secret"))
    for secret, is_blocked in blocked.values_list("secret", "blocked").order_by("pk").iterator(chunk_size=2000):
        if is_blocked:
            refused[code_hash(salt=salt, access_code=secret)] = Checkin.REASON_BLOCKED
        else:
            released.append(code_hash(salt=salt, access_code=secret))
    return refused, released
