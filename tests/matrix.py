"""A matrix of ticket states for the differential tests: each case is a ticket in one state,
scanned on one check-in list, made in as many identical copies as the test needs (a scan
changes the state, so every way of asking gets a copy of its own).

``online`` is what pretix itself answers (``checkinrpc/redeem``); ``offline`` is what a
desk that downloaded the list before the scan may answer: the same, or ``None`` for an
explicit "cannot verify offline" (the code is not in the downloaded list, or only the
server can decide).
"""
import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.timezone import now
from pretix.base.models import (
    Checkin, CheckinList, Event, Item, Order, RevokedTicketSecret,
)
from pretix.base.services.checkin import perform_checkin

from tests.conftest import PLUGINS, make_order

CANNOT_VERIFY = None


@dataclass
class Case:
    name: str
    checkin_list: CheckinList
    online: str  # "ok" or a pretix reason code
    offline: object  # the same, or CANNOT_VERIFY
    codes: list = field(default_factory=list)  # one access code per copy
    type: str = "entry"


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

    def add(self, name, checkin_list, online, offline, make, copies, type="entry"):
        case = Case(name=name, checkin_list=checkin_list, online=online, offline=offline, type=type)
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
    return m


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
