"""A matrix of ticket states for the differential tests: each case is a ticket in one state,
scanned on one check-in list, made in as many identical copies as the test needs (a scan
changes the state, so every way of asking gets a copy of its own).

``online`` is what pretix itself answers (``checkinrpc/redeem``); ``offline`` is what a
desk that downloaded the list before the scan may answer: the same, or ``None`` for an
explicit "cannot verify offline" (the code is not in the downloaded list, or only the
server can decide). ``"incomplete"`` stands for "check-in questions to answer first".

Besides the code and the direction, a case may say what else the scan sends, the same to
pretix and to the desk: ``ignore_unpaid`` ("check in anyway"), ``answers`` to check-in
questions (by question id), the ``gate`` it is made at (pretix's own API takes that only
from a device standing at the gate), and ``datetime``, when it happened (a scan uploaded
later; offline, the desk answers as at that time).
"""
import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from django.urls import reverse
from django.utils.timezone import now
from pretix.base.models import (
    Checkin, CheckinList, Device, Event, Gate, Item, Order, Question, QuestionAnswer,
    ReusableMedium, RevokedTicketSecret,
)
from pretix.base.services.checkin import perform_checkin
from rest_framework.test import APIClient

from tests.conftest import PLUGINS, make_order

CANNOT_VERIFY = None
DateTime = datetime.datetime  # (a case's field is named ``datetime``)


@dataclass
class Case:
    name: str
    checkin_list: CheckinList
    online: str  # "ok", "incomplete" or a pretix reason code
    offline: object  # the same, or CANNOT_VERIFY
    codes: list = field(default_factory=list)  # one access code per copy
    type: str = "entry"
    ignore_unpaid: bool = False
    answers: Optional[dict] = None  # {question id: answer}
    gate: Optional[Gate] = None
    datetime: Optional[DateTime] = None

    @property
    def plain(self):
        """A scan of the code now, with nothing else sent (what ``lookup`` predicts)."""
        return not (self.ignore_unpaid or self.answers is not None or self.gate or self.datetime)


def scan_extras(case):
    """What the case's scan sends besides the code, in the shape pretix's ``checkinrpc/redeem``
    and the desk's ``scan/`` both take (the desk takes the gate too: see ``desk_extras``)."""
    body = {}
    if case.ignore_unpaid:
        body["ignore_unpaid"] = True
    if case.answers is not None:
        body["answers"] = {str(q): a for q, a in case.answers.items()}
    if case.datetime is not None:
        body["datetime"] = case.datetime.isoformat()
    return body


def desk_extras(case):
    """The same for the desk, which also takes the gate's identifier from anyone."""
    body = scan_extras(case)
    if case.gate is not None:
        body["gate"] = case.gate.identifier
    return body


def outcome(data):
    """``ok``, ``incomplete`` (questions to answer first) or the reason of a refusal, from
    an answer of pretix's ``checkinrpc/redeem`` or the desk's ``scan/``."""
    return data["status"] if data["status"] in ("ok", "incomplete") else data["reason"]


def at_gate(client, case):
    """pretix's own API takes the gate only from a device that stands at it."""
    if case.gate is None:
        return client
    device, _ = Device.objects.get_or_create(
        organizer=case.checkin_list.event.organizer, name=f"At {case.gate.identifier}",
        defaults={"all_events": True, "initialized": now(), "api_token": "gate" + uuid.uuid4().hex,
                  "security_profile": "full", "gate": case.gate},
    )
    at = APIClient()
    at.credentials(HTTP_AUTHORIZATION="Device " + device.api_token)
    return at


def pretix_redeem(client, case, code):
    """pretix's own answer to the case's scan of ``code`` (``checkinrpc/redeem``)."""
    r = at_gate(client, case).post(
        reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": case.checkin_list.event.organizer.slug}),
        {"secret": code, "lists": [case.checkin_list.pk], "type": case.type, "nonce": uuid.uuid4().hex,
         "questions_supported": True, "canceled_supported": True, **scan_extras(case)},
        format="json",
    )
    return outcome(r.data)


class Matrix:
    def __init__(self, event, ticket, tshirt):
        self.event, self.ticket, self.tshirt = event, ticket, tshirt
        self.lists = {}
        self.cases = []

    def checkin_list(self, name, *, products=None, **settings):
        if name not in self.lists:
            cl = CheckinList.objects.create(
                event=settings.pop("event", self.event), name=name,
                all_products=products is None, **settings,
            )
            if products:
                cl.limit_products.set(products)
            self.lists[name] = cl
        return self.lists[name]

    def add(self, name, checkin_list, online, offline, make, copies, type="entry", **scan):
        case = Case(name=name, checkin_list=checkin_list, online=online, offline=offline, type=type, **scan)
        for i in range(copies):
            case.codes.append(make(f"M{len(self.cases):02d}C{i}"))
        self.cases.append(case)
        return case


def _secret(order, positionid=1):
    return order.all_positions.get(positionid=positionid).secret


def _checkin(position, checkin_list, type=Checkin.TYPE_ENTRY, minutes_ago=10):
    perform_checkin(op=position, clist=checkin_list, given_answers={}, type=type,
                    questions_supported=False, datetime=now() - datetime.timedelta(minutes=minutes_ago))


def build_matrix(event, ticket, tshirt, *, copies=2):
    """Every state the issue names, on the lists that make the difference."""
    m = Matrix(event, ticket, tshirt)
    main = m.checkin_list("Main", products=[ticket])
    pending_list = m.checkin_list("Pending too", products=[ticket], include_pending=True)
    multi = m.checkin_list("Multi", products=[ticket], allow_multiple_entries=True)
    no_reentry = m.checkin_list("No re-entry", products=[ticket], allow_entry_after_exit=False)
    shirts = m.checkin_list("Shirts by ticket", products=[tshirt], addon_match=True)
    with_rules = m.checkin_list("Rules", products=[ticket], rules={"<": [{"var": "entries_number"}, 0]})
    hour = datetime.timedelta(hours=1)

    def order(code, items=None, **kwargs):
        return make_order(event, items or [ticket], code=code, **kwargs)

    def paid(code):
        return _secret(order(code))

    m.add("paid", main, "ok", "ok", paid, copies)
    m.add("paid exit", main, "ok", "ok", paid, copies, type="exit")
    m.add("pending", main, "unpaid", "unpaid",
          lambda c: _secret(order(c, status=Order.STATUS_PENDING)), copies)
    m.add("pending on a list with pending", pending_list, "unpaid", "unpaid",
          lambda c: _secret(order(c, status=Order.STATUS_PENDING)), copies)
    m.add("pending exit", pending_list, "unpaid", "unpaid",
          lambda c: _secret(order(c, status=Order.STATUS_PENDING)), copies, type="exit")
    m.add("valid if pending", main, "ok", "ok",
          lambda c: _secret(order(c, status=Order.STATUS_PENDING, valid_if_pending=True)), copies)
    m.add("unapproved", pending_list, "unapproved", "unapproved",
          lambda c: _secret(order(c, status=Order.STATUS_PENDING, require_approval=True)), copies)
    m.add("canceled", main, "canceled", CANNOT_VERIFY,
          lambda c: _secret(order(c, status=Order.STATUS_CANCELED)), copies)
    m.add("expired", main, "canceled", CANNOT_VERIFY,
          lambda c: _secret(order(c, status=Order.STATUS_EXPIRED)), copies)

    def canceled_position(code):
        o = order(code)
        o.positions.update(canceled=True)
        return _secret(o)

    m.add("canceled position", main, "invalid", CANNOT_VERIFY, canceled_position, copies)

    def blocked(code):
        o = order(code)
        o.positions.update(blocked=["admin"])
        return _secret(o)

    m.add("blocked", main, "blocked", "blocked", blocked, copies)
    m.add("blocked exit", main, "blocked", "blocked", blocked, copies, type="exit")

    def window(code, **valid):
        o = order(code)
        o.positions.update(**valid)
        return _secret(o)

    m.add("not yet valid", main, "invalid_time", "invalid_time",
          lambda c: window(c, valid_from=now() + hour), copies)
    m.add("expired ticket", main, "invalid_time", "invalid_time",
          lambda c: window(c, valid_until=now() - hour), copies)
    m.add("not yet valid, exit", main, "ok", "ok",
          lambda c: window(c, valid_from=now() + hour), copies, type="exit")
    m.add("valid now", main, "ok", "ok",
          lambda c: window(c, valid_from=now() - hour, valid_until=now() + hour), copies)
    m.add("not yet valid and unpaid", main, "invalid_time", "invalid_time",
          lambda c: _window_unpaid(order(c, status=Order.STATUS_PENDING), now() + hour), copies)
    m.add("wrong product", main, "product", CANNOT_VERIFY,
          lambda c: _secret(order(c, [tshirt])), copies)

    series = _series(event)
    date_list = m.checkin_list("Day 1", products=None, event=series["event"], subevent=series["day1"])
    m.add("wrong date of a series", date_list, "invalid", CANNOT_VERIFY,
          lambda c: _secret(make_order(series["event"], [{"item": series["ticket"], "subevent": series["day2"]}],
                                       code=c)), copies)
    m.add("right date of a series", date_list, "ok", "ok",
          lambda c: _secret(make_order(series["event"], [{"item": series["ticket"], "subevent": series["day1"]}],
                                       code=c)), copies)

    def revoked(code):
        o = order(code)
        RevokedTicketSecret.objects.create(event=event, position=o.positions.get(), secret=code + "OLDSECRET")
        return code + "OLDSECRET"

    m.add("revoked", main, "revoked", CANNOT_VERIFY, revoked, copies)
    m.add("unknown", main, "invalid", CANNOT_VERIFY, lambda c: c + "NOSUCHCODE", copies)

    def used(code, checkin_list=main, then_exit=False):
        o = order(code)
        _checkin(o.positions.get(), checkin_list)
        if then_exit:
            _checkin(o.positions.get(), checkin_list, type=Checkin.TYPE_EXIT, minutes_ago=5)
        return _secret(o)

    m.add("already used", main, "already_redeemed", "already_redeemed", used, copies)
    m.add("already used, multi-entry", multi, "ok", "ok", lambda c: used(c, multi), copies)
    m.add("after an exit", main, "ok", "ok", lambda c: used(c, main, then_exit=True), copies)
    m.add("after an exit, no re-entry", no_reentry, "already_redeemed", "already_redeemed",
          lambda c: used(c, no_reentry, then_exit=True), copies)
    m.add("rules", with_rules, "rules", CANNOT_VERIFY, paid, copies)

    def with_shirt(code, **shirt_valid):
        o = order(code, [ticket, {"item": tshirt, "addon_to": 0}])
        if shirt_valid:
            o.positions.filter(positionid=2).update(**shirt_valid)
        return _secret(o)

    m.add("add-on by parent code", shirts, "ok", CANNOT_VERIFY, with_shirt, copies)
    m.add("add-on not yet valid", shirts, "invalid_time", CANNOT_VERIFY,
          lambda c: with_shirt(c, valid_from=now() + hour), copies)

    def two_shirts_not_yet_valid(code):
        o = order(code, [ticket, {"item": tshirt, "addon_to": 0}, {"item": tshirt, "addon_to": 0}])
        o.positions.filter(positionid=2).update(valid_from=now() + hour)
        o.positions.filter(positionid=3).update(valid_from=now() + 2 * hour)
        return _secret(o)

    m.add("no add-on valid yet", shirts, "invalid_time", CANNOT_VERIFY, two_shirts_not_yet_valid, copies)
    m.add("add-on by own code", shirts, "ok", "ok",
          lambda c: _secret(order(c, [ticket, {"item": tshirt, "addon_to": 0}]), 2), copies)

    _unpaid_anyway(m, order, copies)
    _questions(m, order, copies)
    _media(m, order, copies)
    _gates(m, paid, copies)
    _back_dated(m, order, window, copies)
    return m


def _unpaid_anyway(m, order, copies):
    """"Check in anyway" (``ignore_unpaid``): only a pending order on a list that includes
    pending orders gets past ``unpaid``, and only that refusal."""
    main, pending_list = m.lists["Main"], m.lists["Pending too"]
    hour = datetime.timedelta(hours=1)

    def pending(code, **kwargs):
        return _secret(order(code, status=Order.STATUS_PENDING, **kwargs))

    def pending_used(code):
        o = order(code, status=Order.STATUS_PENDING)
        perform_checkin(op=o.positions.get(), clist=pending_list, given_answers={}, ignore_unpaid=True,
                        questions_supported=False, datetime=now() - datetime.timedelta(minutes=10))
        return _secret(o)

    def pending_not_yet_valid(code):
        return _window_unpaid(order(code, status=Order.STATUS_PENDING), now() + hour)

    anyway = {"ignore_unpaid": True}
    m.add("pending, checked in anyway", pending_list, "ok", "ok", pending, copies, **anyway)
    m.add("pending exit, checked out anyway", pending_list, "ok", "ok", pending, copies, type="exit", **anyway)
    m.add("pending, anyway on a list without pending", main, "unpaid", "unpaid", pending, copies, **anyway)
    m.add("paid, anyway", pending_list, "ok", "ok", lambda c: _secret(order(c)), copies, **anyway)
    m.add("unapproved, anyway", pending_list, "unapproved", "unapproved",
          lambda c: pending(c, require_approval=True), copies, **anyway)
    m.add("expired, anyway", pending_list, "canceled", CANNOT_VERIFY,
          lambda c: _secret(order(c, status=Order.STATUS_EXPIRED)), copies, **anyway)
    m.add("pending and used, anyway", pending_list, "already_redeemed", "already_redeemed",
          pending_used, copies, **anyway)
    m.add("pending and not yet valid, anyway", pending_list, "invalid_time", "invalid_time",
          pending_not_yet_valid, copies, **anyway)


def _questions(m, order, copies):
    """Check-in questions ("ask during check-in") on a product of their own: pretix asks
    every one without an answer yet, before it looks at earlier entries, never on exit."""
    event = m.event
    workshop = Item.objects.create(event=event, name="Workshop", default_price=Decimal("5.00"), admission=True)
    badge = Question.objects.create(event=event, question="Name on the badge", type=Question.TYPE_STRING,
                                    required=True, ask_during_checkin=True, position=1)
    size = Question.objects.create(event=event, question="Size", type=Question.TYPE_CHOICE,
                                   required=True, ask_during_checkin=True, position=2)
    size.options.create(answer="Large", identifier="L")
    note = Question.objects.create(event=event, question="Note", type=Question.TYPE_TEXT,
                                   required=False, ask_during_checkin=True, position=3)
    for q in (badge, size, note):
        q.items.add(workshop)
    workshops = m.checkin_list("Workshops", products=[workshop], include_pending=True)
    everything = {badge.pk: "Ada", size.pk: "L", note.pk: "vegan"}

    def ticket(code, answered=(), **kwargs):
        o = order(code, [workshop], **kwargs)
        for q in answered:
            QuestionAnswer.objects.create(orderposition=o.positions.get(), question=q,
                                          answer="Large" if q == size else "Ada")
        return _secret(o)

    m.add("questions", workshops, "incomplete", "incomplete", ticket, copies)
    m.add("questions answered with the scan", workshops, "ok", "ok", ticket, copies, answers=everything)
    m.add("questions answered before", workshops, "ok", "ok",
          lambda c: ticket(c, answered=(badge, size, note)), copies)
    m.add("questions partly answered before", workshops, "incomplete", "incomplete",
          lambda c: ticket(c, answered=(badge,)), copies)
    m.add("questions, the rest answered with the scan", workshops, "ok", "ok",
          lambda c: ticket(c, answered=(badge,)), copies, answers={size.pk: "L", note.pk: "none"})
    m.add("questions partly answered with the scan", workshops, "incomplete", "incomplete", ticket, copies,
          answers={badge.pk: "Ada"})
    m.add("optional question answered with nothing", workshops, "ok", "ok", ticket, copies,
          answers={badge.pk: "Ada", size.pk: "L", note.pk: ""})
    m.add("questions on exit", workshops, "ok", "ok", ticket, copies, type="exit")
    m.add("questions, unpaid", workshops, "unpaid", "unpaid",
          lambda c: ticket(c, status=Order.STATUS_PENDING), copies, answers=everything)
    m.add("questions, unpaid, anyway", workshops, "incomplete", "incomplete",
          lambda c: ticket(c, status=Order.STATUS_PENDING), copies, ignore_unpaid=True)


def _media(m, order, copies):
    """A product that needs a reusable medium: pretix asks to exchange a ticket without a
    linked medium for one (``exchange``, on exit too), which only the server can judge."""
    event = m.event
    wristband = Item.objects.create(event=event, name="Festival pass", default_price=Decimal("50.00"),
                                    admission=True, media_policy=Item.MEDIA_POLICY_REUSE_OR_NEW,
                                    media_type="barcode")
    passes = m.checkin_list("Festival", products=[wristband])

    def festival_pass(code, linked=False, **kwargs):
        o = order(code, [wristband], **kwargs)
        if linked:
            medium = ReusableMedium.objects.create(organizer=event.organizer, type="barcode", identifier=code + "BAND")
            medium.linked_orderpositions.add(o.positions.get())
        return _secret(o)

    m.add("needs a medium", passes, "exchange", CANNOT_VERIFY, festival_pass, copies)
    m.add("needs a medium, exit", passes, "exchange", CANNOT_VERIFY, festival_pass, copies, type="exit")
    m.add("has its medium", passes, "ok", CANNOT_VERIFY, lambda c: festival_pass(c, linked=True), copies)
    m.add("needs a medium, unpaid", passes, "unpaid", "unpaid",
          lambda c: festival_pass(c, status=Order.STATUS_PENDING), copies)


def _gates(m, paid, copies):
    """Where a scan is made: pretix records the gate, and a list's rules may ask for it
    (which only the server can judge)."""
    north = Gate.objects.create(organizer=m.event.organizer, name="North", identifier="north")
    south = Gate.objects.create(organizer=m.event.organizer, name="South", identifier="south")
    north_only = m.checkin_list("North gate only", products=[m.ticket], rules={
        "inList": [{"var": "gate"}, {"objectList": [{"lookup": ["gate", str(north.pk), str(north.name)]}]}],
    })
    m.add("at a gate", m.lists["Main"], "ok", "ok", paid, copies, gate=north)
    m.add("at the list's gate", north_only, "ok", CANNOT_VERIFY, paid, copies, gate=north)
    m.add("at another gate", north_only, "rules", CANNOT_VERIFY, paid, copies, gate=south)
    m.add("at no gate", north_only, "rules", CANNOT_VERIFY, paid, copies)


def _back_dated(m, order, window, copies):
    """Scans uploaded later with the time they were made (``datetime``): the ticket's
    validity then decides, not now; offline, the desk answered at that time."""
    main, shirts = m.lists["Main"], m.lists["Shirts by ticket"]
    hour = datetime.timedelta(hours=1)
    then = now() - 2 * hour
    m.add("back-dated, valid then, expired now", main, "ok", "ok",
          lambda c: window(c, valid_until=now() - hour), copies, datetime=then)
    m.add("back-dated, not valid yet then, valid now", main, "invalid_time", "invalid_time",
          lambda c: window(c, valid_from=now() - hour), copies, datetime=then)
    m.add("back-dated, valid then and now", main, "ok", "ok",
          lambda c: window(c, valid_from=now() - 3 * hour, valid_until=now() + hour), copies, datetime=then)
    m.add("back-dated exit, before the window", main, "ok", "ok",
          lambda c: window(c, valid_from=now() - hour), copies, type="exit", datetime=then)

    def entered_since(code):
        o = order(code)
        _checkin(o.positions.get(), main, minutes_ago=10)
        return _secret(o)

    m.add("back-dated, entered since", main, "already_redeemed", "already_redeemed", entered_since, copies,
          datetime=then)

    def shirts_one_after_the_other(code):
        o = order(code, [m.ticket, {"item": m.tshirt, "addon_to": 0}, {"item": m.tshirt, "addon_to": 0}])
        o.positions.filter(positionid=2).update(valid_from=now() - 3 * hour, valid_until=now() - hour)
        o.positions.filter(positionid=3).update(valid_from=now() - hour)
        return _secret(o)

    m.add("back-dated into one add-on's window", shirts, "ok", CANNOT_VERIFY, shirts_one_after_the_other,
          copies, datetime=then)

    closed = m.checkin_list("Closed an hour ago", products=[m.ticket], rules={
        "isBefore": [{"var": "now"}, {"buildTime": ["custom", (now() - hour).isoformat()]}, None],
    })
    m.add("back-dated into the list's hours", closed, "ok", CANNOT_VERIFY,
          lambda c: _secret(order(c)), copies, datetime=then)
    m.add("after the list's hours", closed, "rules", CANNOT_VERIFY, lambda c: _secret(order(c)), copies)


def _window_unpaid(order, valid_from):
    order.positions.update(valid_from=valid_from)
    return _secret(order)


def _series(event):
    series = Event.objects.create(
        organizer=event.organizer, name="Series", slug="series", has_subevents=True,
        date_from=now(), plugins=PLUGINS, live=True,
    )
    ticket = Item.objects.create(event=series, name="Day ticket", default_price=Decimal("5.00"), admission=True)
    day1 = series.subevents.create(name="Day 1", date_from=now(), active=True)
    day2 = series.subevents.create(name="Day 2", date_from=now() + datetime.timedelta(days=1), active=True)
    return {"event": series, "ticket": ticket, "day1": day1, "day2": day2}
