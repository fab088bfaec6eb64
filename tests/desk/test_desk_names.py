"""Who the desk says a ticket belongs to: the name pretix's own check-in answer shows.

pretix's check-in API (``CheckinListOrderPositionSerializer``) falls back from the
attendee's name to the parent's name for an add-on, then to the invoice address's name.
Staff at the door should see that name on the desk too, not a blank card, wherever the
desk shows an attendee: scan, lookup, search and the offline preload."""
import json
import urllib.parse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pretix.base.models import CheckinList, InvoiceAddress

from tests.conftest import make_order

from .conftest import desk_url, scan
from .test_desk_preload import by_position


def no_name(order, positionid):
    op = order.all_positions.get(positionid=positionid)
    op.attendee_name_parts = {}
    op.save()


def invoice_name(order, name, company=""):
    InvoiceAddress.objects.create(order=order, name_parts={"full_name": name} if name else {}, company=company)


@pytest.fixture
def everything(event):
    """A list that admits the add-ons too, so that each position can be scanned."""
    return CheckinList.objects.create(event=event, name="Everything", all_products=True)


@pytest.fixture
def tickets(event, ticket, tshirt):
    """``(order code, position id)`` of tickets whose name comes from each of pretix's sources."""
    shirt = {"item": tshirt, "addon_to": 0}
    own = make_order(event, [ticket], code="OWN01", name="Ada Lovelace")
    invoice_name(own, "Ivy Invoice")
    from_invoice = make_order(event, [ticket], code="INV01")
    no_name(from_invoice, 1)
    invoice_name(from_invoice, "Ivy Invoice")
    parent = make_order(event, [ticket, shirt], code="PAR01", name="Pat Parent")
    no_name(parent, 2)
    invoice_name(parent, "Ivy Invoice")
    parent_nameless = make_order(event, [ticket, shirt], code="PAR02")
    no_name(parent_nameless, 1)
    no_name(parent_nameless, 2)
    invoice_name(parent_nameless, "Iris Invoice")
    nothing = make_order(event, [ticket, shirt], code="NONE1")
    no_name(nothing, 1)
    no_name(nothing, 2)
    company_only = make_order(event, [ticket], code="COMP1")
    no_name(company_only, 1)
    invoice_name(company_only, "", company="ACME")
    return [
        (o, op) for o in (own, from_invoice, parent, parent_nameless, nothing, company_only)
        for op in o.all_positions.order_by("positionid")
    ]


def pretix_name(client, clist, op):
    """The name in pretix's own check-in answer (``checkinrpc/redeem``, simulated)."""
    r = client.post(
        reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": clist.event.organizer.slug}),
        {"secret": op.secret, "lists": [clist.pk], "simulate": True, "questions_supported": False},
        format="json",
    )
    assert r.status_code in (201, 400), r.data
    return r.data["position"]["attendee_name"] or None


def lookup(client, clist, op):
    url = desk_url(clist, "lookup", code=urllib.parse.quote(op.secret, safe=""))
    return client.get(url).data


@pytest.mark.django_db
def test_names_are_pretix_check_in_names(client, everything, tickets):
    expected = {op.pk: pretix_name(client, everything, op) for _, op in tickets}
    # the fixture covers every source of a name pretix knows
    assert set(expected.values()) == {"Ada Lovelace", "Iris Invoice", "Ivy Invoice", "Pat Parent", None}

    looked_up = {op.pk: lookup(client, everything, op)["attendee"]["name"] for _, op in tickets}
    assert looked_up == expected
    badges = {op.pk: lookup(client, everything, op)["badge"]["name"] for _, op in tickets}
    assert badges == expected

    r = client.get(desk_url(everything, "preload"))
    data = json.loads(b"".join(r.streaming_content))
    preloaded = {pk: rec["attendee"]["name"] for pk, rec in by_position(data).items()}
    assert preloaded == expected
    # the search index beside the sealed records shows the same name
    assert {rec["attendee"]["position_id"]: rec["index"]["name"] for rec in data["attendees"]} == expected

    scanned, scanned_badges = {}, {}
    for _, op in tickets:
        r = scan(client, everything, access_code=op.secret)
        assert r.status_code == 201, r.data
        scanned[op.pk] = r.data["attendee"]["name"]
        scanned_badges[op.pk] = r.data["badge"]["name"]
    assert scanned == expected and scanned_badges == expected
    again = {op.pk: scan(client, everything, access_code=op.secret).data["attendee"]["name"] for _, op in tickets}
    assert again == expected  # the refusal ("already_redeemed") shows the same name


@pytest.mark.django_db
def test_search_shows_and_finds_the_shown_name(client, everything, tickets):
    def found(q):
        r = client.get(desk_url(everything, "search"), {"q": q})
        return sorted((h["attendee"]["order"], h["attendee"]["name"]) for h in r.data["results"])

    # An add-on without a name of its own carries its parent's, and is found by it.
    assert found("pat parent") == [("PAR01", "Pat Parent"), ("PAR01", "Pat Parent")]
    # Tickets without any attendee name are found by the invoice name they show; a ticket
    # with a name of its own shows that name, and is not found by the invoice's.
    assert found("ivy invoice") == [("INV01", "Ivy Invoice")]
    assert found("iris") == [("PAR02", "Iris Invoice"), ("PAR02", "Iris Invoice")]


@pytest.mark.django_db
def test_names_cost_no_query(client, everything, event, ticket, tshirt):
    """The fallbacks are read in the statements that read the ticket, not one per ticket."""
    def counted(code):
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(desk_url(everything, "lookup", code=code))
        assert r.status_code == 200
        return len(ctx.captured_queries)

    named = make_order(event, [ticket], code="NAMED")
    nameless = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="NLESS")
    no_name(nameless, 1)
    no_name(nameless, 2)
    invoice_name(nameless, "Ivy Invoice")
    counted(named.all_positions.get().secret)  # warm up
    assert counted(nameless.all_positions.get(positionid=1).secret) == counted(named.all_positions.get().secret)
    assert counted(nameless.all_positions.get(positionid=2).secret) == counted(named.all_positions.get().secret)
