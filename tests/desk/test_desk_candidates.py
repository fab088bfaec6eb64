"""The candidate lookup of a scan (``desk/candidates.py``) is a hand-written statement: it
must answer what the ORM query it replaced answers, instance for instance, attribute for
attribute, on every kind of list and code, and lock the order (and only the order) on
PostgreSQL as that query did."""
import datetime
import threading
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q, Subquery
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import (
    Checkin, CheckinList, Event, Gate, InvoiceAddress, Order, OrderPosition, Organizer,
    Question, QuestionAnswer, SubEvent,
)

from pretix_desk.desk.candidates import (
    find_candidates, find_candidates_on_lists, prefetch_products,
)
from pretix_desk.desk.positions import (
    desk_positions, redeemed_at_subquery, with_desk_state,
)
from pretix_desk.models import DoorCapacity, Redemption
from tests.conftest import make_order

ANNOTATIONS = ("display_name", "last_entry_at", "has_addons", "has_shown_answers", "is_candidate", "redeemed_at")
RELATED = ("order", "item", "variation", "subevent")


def orm_candidates(*, checkin_list, access_code=None, position_id=None, lock_orders=False, as_code=False):
    """The ORM query that ``find_candidates`` replaced, as the specification it must meet."""
    if position_id is not None:
        match, addons = Q(pk=position_id), Q(addon_to_id=position_id)
        if as_code and checkin_list.addon_match:
            match |= addons
    else:
        parent = Subquery(
            OrderPosition.all.filter(secret=access_code, order__event_id=checkin_list.event_id)
            .order_by("pk").values("pk")[:1]
        )
        match, addons = Q(secret=access_code), Q(addon_to_id=parent)
        if checkin_list.addon_match:
            match |= addons
    if checkin_list.subevent_id:
        match &= Q(subevent_id=checkin_list.subevent_id)
    qs = (
        with_desk_state(
            OrderPosition.objects.filter(match | addons, order__event_id=checkin_list.event_id),
            checkin_list=checkin_list,
        )
        .annotate(is_candidate=ExpressionWrapper(match, output_field=BooleanField()),
                  redeemed_at=redeemed_at_subquery())
        .order_by(F("addon_to").asc(nulls_first=True), "pk")
    )
    if lock_orders:
        qs = qs.select_for_update(of=("order",))
    rows = list(qs)
    candidates = desk_positions([op for op in rows if op.is_candidate])
    for op in candidates:
        op.order.event = checkin_list.event
        if op.secret == access_code or op.pk == position_id:
            op.line_item_list = sorted(
                (r for r in rows if r.addon_to_id == op.pk), key=lambda r: (r.positionid, r.pk),
            )
    return candidates


def fields_of(obj):
    if obj is None:
        return None
    return (type(obj), obj._state.adding, obj._state.db,
            {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields})


def snapshot(op):
    """Everything a caller can read from a candidate without a query."""
    related = {}
    for name in RELATED:
        descriptor = getattr(OrderPosition, name)
        assert descriptor.is_cached(op), name
        related[name] = fields_of(getattr(op, name))
    return {
        "position": fields_of(op),
        "annotations": {name: getattr(op, name) for name in ANNOTATIONS},
        "related": related,
        "order_event": op.order.__dict__.get("_state").fields_cache.get("event"),
        "line_items": [snapshot(li) for li in op.line_item_list] if hasattr(op, "line_item_list") else None,
        "shown_answers": [(a.pk, a.question.pk) for a in op.shown_answer_list]
        if hasattr(op, "shown_answer_list") else None,
    }


@pytest.fixture
def world(event, clist, ticket, tshirt):
    """Tickets of every kind a code can find: add-ons (named, unnamed, canceled, bundled,
    redeemed, annulled), answers shown at check-in, check-ins of every type, an invoice
    address's name, two dates, a canceled order, a canceled ticket, a ticket whose add-on
    was canceled, another organizer's ticket with the same code."""
    day1 = SubEvent.objects.create(event=event, name={"en": "Day 1", "de": "Tag 1"},
                                   date_from=now() + datetime.timedelta(days=3))
    day2 = SubEvent.objects.create(event=event, name="Day 2", date_from=now() + datetime.timedelta(days=4))
    medium = tshirt.variations.get(value="M")
    main = make_order(event, [
        ticket,
        {"item": tshirt, "variation": medium, "addon_to": 0},
        {"item": tshirt, "addon_to": 0, "attendee_name": ""},
        {"item": tshirt, "addon_to": 0, "is_bundled": True},
        {"item": tshirt, "addon_to": 0},
    ], code="MAIN1", checkin_text="Pays at the door", checkin_attention=True)
    ticket_pos, named, unnamed, bundled, gone = main.positions.order_by("positionid")
    gone.canceled = True
    gone.save()
    Redemption.objects.create(position=named, checkin_list=clist, datetime=now() - datetime.timedelta(hours=2),
                              annulled=now() - datetime.timedelta(hours=1))
    Redemption.objects.create(position=named, checkin_list=clist, datetime=now() - datetime.timedelta(minutes=5))
    Redemption.objects.create(position=bundled, checkin_list=clist, datetime=now() - datetime.timedelta(hours=3),
                              annulled=now())
    shown = Question.objects.create(event=event, question="Diet", type=Question.TYPE_STRING, show_during_checkin=True)
    hidden = Question.objects.create(event=event, question="Internal", type=Question.TYPE_STRING)
    QuestionAnswer.objects.create(orderposition=ticket_pos, question=shown, answer="vegan")
    QuestionAnswer.objects.create(orderposition=unnamed, question=hidden, answer="x")
    other_list = CheckinList.objects.create(event=event, name="Other", all_products=True)
    t0 = now() - datetime.timedelta(hours=5)
    for minutes, kind, ok, lst in ((0, Checkin.TYPE_ENTRY, True, clist), (30, Checkin.TYPE_EXIT, True, clist),
                                   (60, Checkin.TYPE_ENTRY, True, clist), (90, Checkin.TYPE_ENTRY, False, clist),
                                   (100, Checkin.TYPE_EXIT, True, clist), (120, Checkin.TYPE_ENTRY, True, other_list)):
        Checkin.all.create(position=ticket_pos, list=lst, type=kind, successful=ok,
                           datetime=t0 + datetime.timedelta(minutes=minutes),
                           error_reason=None if ok else Checkin.REASON_ALREADY_REDEEMED)

    billed = make_order(event, [ticket, {"item": tshirt, "addon_to": 0, "attendee_name": ""}],
                        code="BILL1", status=Order.STATUS_PENDING, name="")
    InvoiceAddress.objects.create(order=billed, name_parts={"full_name": "Grace Hopper"})
    make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="CANC1", status=Order.STATUS_CANCELED)
    canceled_ticket = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="CANC2")
    canceled_ticket.positions.filter(positionid=1).update(canceled=True)
    only_canceled_addons = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="CANC3")
    only_canceled_addons.positions.filter(positionid=2).update(canceled=True)
    make_order(event, [  # tickets of two dates
        {"item": ticket, "subevent": day1},
        {"item": tshirt, "addon_to": 0, "subevent": day1},
        {"item": ticket, "subevent": day2},
        {"item": tshirt, "addon_to": 2, "subevent": day2},
        {"item": tshirt, "addon_to": 2, "subevent": day1},
    ], code="DATES")
    # codes are unique per organizer
    elsewhere = Event.objects.create(organizer=Organizer.objects.create(name="Elsewhere", slug="elsewhere"),
                                     name="Elsewhere", slug="elsewhere", date_from=now(), plugins=event.plugins)
    same_code = make_order(elsewhere, [elsewhere.items.create(name="Elsewhere", default_price=Decimal("1"))],
                           code="ELSEW").positions.get()
    same_code.secret = ticket_pos.secret
    same_code.save()

    lists = [
        clist,
        CheckinList.objects.create(event=event, name="Add-ons", all_products=True, addon_match=True),
        CheckinList.objects.create(event=event, name="Day 1", all_products=True, subevent=day1),
        CheckinList.objects.create(event=event, name="Day 2 add-ons", all_products=True, subevent=day2,
                                   addon_match=True),
    ]
    positions = list(OrderPosition.all.filter(order__event=event).order_by("pk"))
    codes = [p.secret for p in positions] + ["unknown", same_code.secret]
    return {"lists": lists, "positions": positions, "codes": codes}


@pytest.mark.django_db
@pytest.mark.parametrize("lock_orders", [False, True])
def test_answers_what_the_orm_query_answers(world, lock_orders):
    seen = 0
    with transaction.atomic():
        for checkin_list in world["lists"]:
            calls = [{"access_code": code} for code in world["codes"]] + [
                {"position_id": p.pk, "as_code": as_code} for p in world["positions"] for as_code in (False, True)
            ] + [{"position_id": 10 ** 9}]
            for kwargs in calls:
                expected = orm_candidates(checkin_list=checkin_list, lock_orders=lock_orders, **kwargs)
                with CaptureQueriesContext(connection) as ctx:
                    found = find_candidates(checkin_list=checkin_list, lock_orders=lock_orders, **kwargs)
                assert [snapshot(op) for op in found] == [snapshot(op) for op in expected], (checkin_list.name, kwargs)
                # one statement, and one more only for tickets with answers shown at check-in
                assert len(ctx.captured_queries) == 1 + any(op.has_shown_answers for op in found)
                seen += len(found)
    assert seen > 50  # the world has tickets for every list


@pytest.mark.django_db
@pytest.mark.parametrize("lock_orders", [False, True])
def test_on_several_lists_answers_what_each_list_answers(world, lock_orders):
    """The statement over several lists: per list, what ``find_candidates`` finds on it, as
    instances of its own (a simulation on one list must not touch another's)."""
    lists = world["lists"] + [world["lists"][0]]  # a list given twice is searched once
    seen = 0
    with transaction.atomic():
        calls = [{"access_code": code} for code in world["codes"]] + [
            {"position_id": p.pk} for p in world["positions"]] + [{"position_id": 10 ** 9}]
        for kwargs in calls:
            expected = {cl.pk: find_candidates(checkin_list=cl, lock_orders=lock_orders, **kwargs) for cl in lists}
            with CaptureQueriesContext(connection) as ctx:
                found = find_candidates_on_lists(checkin_lists=lists, lock_orders=lock_orders, **kwargs)
            assert list(found) == [cl.pk for cl in world["lists"]]
            for pk, candidates in found.items():
                assert [snapshot(op) for op in candidates] == [snapshot(op) for op in expected[pk]], (pk, kwargs)
            objects = [_objects(candidates) for candidates in found.values()]
            assert len(set().union(*objects)) == sum(map(len, objects))  # no list shares one
            # one statement for all lists, and one more only for tickets with answers shown at check-in
            assert len(ctx.captured_queries) == 1 + any(
                op.has_shown_answers for candidates in found.values() for op in candidates)
            seen += sum(map(len, found.values()))
    assert seen > 50  # the world has tickets for every list


def _objects(candidates):
    """The ids of the objects a caller of one list's candidates can change."""
    positions = candidates + [li for op in candidates for li in getattr(op, "line_item_list", [])]
    return {id(obj) for op in positions for obj in (op, op.order)}


@pytest.mark.django_db
def test_on_several_lists_says_which_list_has_a_door_capacity(clist, event, position):
    other = CheckinList.objects.create(event=event, name="Hall", all_products=True)
    DoorCapacity.objects.create(checkin_list=other, capacity=10)
    found = find_candidates_on_lists(checkin_lists=[clist, other], access_code=position.secret)
    assert [op.list_has_capacity for op in found[clist.pk]] == [False]
    assert [op.list_has_capacity for op in found[other.pk]] == [True]


@pytest.mark.django_db
def test_finds_what_the_world_promises(world, clist):
    ticket_pos = world["positions"][0]
    (op,) = find_candidates(checkin_list=clist, access_code=ticket_pos.secret)
    assert op.pk == ticket_pos.pk and op.order.code == "MAIN1" and op.item.name == "Ticket"
    assert op.order.event is clist.event
    assert op.display_name == "Ada Lovelace" and op.has_addons and op.has_shown_answers
    assert op.last_entry_at == Checkin.objects.filter(position=op, list=clist, type="entry").latest("datetime").datetime
    assert [a.answer for a in op.shown_answer_list] == ["vegan"]
    named, unnamed, bundled = op.line_item_list
    assert named.variation.value == "M" and named.redeemed_at is not None
    assert unnamed.display_name == "Ada Lovelace"  # the parent's name
    assert bundled.is_bundled and bundled.redeemed_at is None  # annulled
    (billed,) = find_candidates(checkin_list=clist, access_code=OrderPosition.objects.get(
        order__code="BILL1", positionid=2).secret)
    assert billed.display_name == "Grace Hopper"  # the invoice address's name


@pytest.mark.django_db
def test_says_whether_the_list_has_a_door_capacity(clist, event, position):
    """A scan looks for the capacities that apply (and locks them) only on lists with any."""
    other = CheckinList.objects.create(event=event, name="Hall", all_products=True)
    assert not find_candidates(checkin_list=clist, access_code=position.secret)[0].list_has_capacity
    DoorCapacity.objects.create(checkin_list=other, capacity=10)
    assert not find_candidates(checkin_list=clist, access_code=position.secret)[0].list_has_capacity
    DoorCapacity.objects.create(checkin_list=clist, gate=Gate.objects.create(
        organizer=event.organizer, name="North", identifier="north"), capacity=10)
    (op,) = find_candidates(checkin_list=clist, access_code=position.secret)
    assert op.list_has_capacity is True and all(li.list_has_capacity for li in op.line_item_list)


def on_lists(*, checkin_list, **kwargs):
    """``find_candidates_on_lists`` as ``find_candidates`` is called, on the list and another."""
    other = CheckinList.objects.create(event=checkin_list.event, name="Another", all_products=True)
    return find_candidates_on_lists(checkin_lists=[other, checkin_list], **kwargs)[checkin_list.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("finder", [find_candidates, on_lists])
def test_locking_needs_a_transaction_where_there_are_locks(clist, position, finder):
    if not connection.features.has_select_for_update:
        assert finder(checkin_list=clist, access_code=position.secret, lock_orders=True)
        return
    with pytest.raises(transaction.TransactionManagementError):
        finder(checkin_list=clist, access_code=position.secret, lock_orders=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("finder", [find_candidates, on_lists])
def test_locks_the_order_and_nothing_else(clist, position, addon, finder):
    """``FOR UPDATE OF`` the order, as the ORM query did: a payment of the order waits for the
    scan (docs/reliability.rst, finding 3); the positions are left to ``perform_checkin``."""
    attempts = {}

    def other_transaction():
        try:
            with scopes_disabled(), transaction.atomic():
                for name, qs in (("order", Order.objects.filter(pk=position.order_id)),
                                 ("position", OrderPosition.objects.filter(pk=position.pk)),
                                 ("item", position.item.__class__.objects.filter(pk=position.item_id))):
                    try:
                        with transaction.atomic():
                            list(qs.select_for_update(nowait=True, of=("self",)).values_list("pk"))
                        attempts[name] = "locked it"
                    except DatabaseError as e:
                        attempts[name] = "waited" if "could not obtain lock" in str(e) else str(e)
        finally:
            connections.close_all()

    with transaction.atomic():
        (op,) = finder(checkin_list=clist, access_code=position.secret, lock_orders=True)
        assert [li.pk for li in op.line_item_list] == [addon.pk]
        other = threading.Thread(target=other_transaction)
        other.start()
        other.join()
    assert attempts == {"order": "waited", "position": "locked it", "item": "locked it"}


@pytest.mark.django_db
def test_prefetched_products_are_the_lists(clist, event, ticket, tshirt, django_assert_num_queries):
    """What pretix's check-in reads of the list (``clist.limit_products.all()``) is the same
    set, read once; the products load their other fields when asked."""
    clist.limit_products.add(tshirt)
    with django_assert_num_queries(1):
        prefetch_products(clist)
        prefetch_products(clist)
        ids = sorted(i.pk for i in clist.limit_products.all())
    assert ids == sorted(CheckinList.objects.get(pk=clist.pk).limit_products.values_list("pk", flat=True))
    assert sorted(str(i.name) for i in clist.limit_products.all()) == ["T-shirt", "Ticket"]
    everything = CheckinList.objects.create(event=event, name="All", all_products=True)
    with django_assert_num_queries(0):
        prefetch_products(everything)
