"""Query counts of scan and lookup: constant in the size of the order, fewer than pretix's
own check-in endpoint for the same scan."""
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pretix.base.models import Checkin, CheckinList

from tests.conftest import make_order

from .conftest import desk_url, scan

# Measured on SQLite and PostgreSQL in the test transaction (savepoints count), with
# pretix's test settings (no settings cache); pretix's checkinrpc/redeem takes 32 here.
# A scan is one transaction that locks the order first (no deadlock with a payment), so
# pretix's own transaction inside it costs a savepoint: two statements, three when it fails.
# Answers shown at check-in cost a query only for tickets that have them. An entry reads
# the list's door capacities (one statement; door/capacity.py) only on a list that has any,
# which the ticket's statement says (desk/candidates.py).
SCAN_OK_QUERIES = 21
SCAN_USED_QUERIES = 21
LOOKUP_QUERIES = 14
#: The add-ons are read with the ticket, in the same query, whether none or nine.
WITH_ADDONS = 0
#: A scan on several lists reads the ticket's candidates on all of them in one statement
#: (desk/multilist.py). What it adds: the view reads the other lists (one statement), pretix
#: simulates the check-in on the list that admits (its questions, the position, its
#: check-ins on the list), and a nonce is looked up on all lists.
OTHER_LISTS_QUERIES = 1
SIMULATION_QUERIES = 3
NONCE_ON_LISTS_QUERIES = 1


def count(fn):
    with CaptureQueriesContext(connection) as ctx:
        response = fn()
    return response, len(ctx.captured_queries)


@pytest.fixture
def orders(client, clist, event, ticket, tshirt):
    # Warm up what a running server has cached (content types, the settings of the organizer).
    warm = make_order(event, [ticket], code="WARMU").positions.get().secret
    scan(client, clist, access_code=warm)
    client.get(desk_url(clist, "lookup", code=warm))
    small = make_order(event, [ticket], code="SMALL")
    big = make_order(event, [ticket] + [{"item": tshirt, "addon_to": 0}] * 9, code="LARGE")
    return small, big


@pytest.mark.django_db
def test_scan_query_counts(client, clist, orders):
    for o, addons in zip(orders, (0, WITH_ADDONS)):
        code = o.positions.get(positionid=1).secret
        r, n = count(lambda: scan(client, clist, access_code=code))
        assert r.status_code == 201
        assert n == SCAN_OK_QUERIES + addons, o.code
        r, n = count(lambda: scan(client, clist, access_code=code))
        assert r.data["reason"] == "already_redeemed"
        assert n == SCAN_USED_QUERIES, o.code


@pytest.mark.django_db
def test_lookup_query_count(client, clist, orders):
    for o, addons in zip(orders, (0, WITH_ADDONS)):
        url = desk_url(clist, "lookup", code=o.positions.get(positionid=1).secret)
        r, n = count(lambda: client.get(url))
        assert r.status_code == 200
        assert n == LOOKUP_QUERIES + addons, o.code


@pytest.mark.django_db
def test_fewer_queries_than_pretix_checkinrpc(client, clist, organizer, orders):
    code = orders[1].positions.get(positionid=1).secret

    def pretix_redeem():
        return client.post(f"/api/v1/organizers/{organizer.slug}/checkinrpc/redeem/",
                           {"secret": code, "lists": [clist.pk]}, format="json")

    r, pretix_ok = count(pretix_redeem)
    assert r.status_code == 201
    r, pretix_used = count(pretix_redeem)
    assert r.status_code == 400
    Checkin.all.all().delete()
    _, ours_ok = count(lambda: scan(client, clist, access_code=code))
    _, ours_used = count(lambda: scan(client, clist, access_code=code))
    assert ours_ok < pretix_ok and ours_used < pretix_used


def candidate_statements(ctx):
    return sum("FROM pretixbase_orderposition p\n" in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("with_nonce", [False, True])
def test_several_lists_read_the_candidates_once(client, clist, orders, event, ticket, tshirt, with_nonce):
    """Scans on one, two and three lists that the desk's own list admits: the same
    statements but those a scan on several lists adds, whatever their number."""
    shirts = CheckinList.objects.create(event=event, name="Shirts", all_products=False)
    shirts.limit_products.add(tshirt)
    everything = CheckinList.objects.create(event=event, name="Everything", all_products=True)
    counts = []
    for other_lists in ([], [shirts.pk], [shirts.pk, everything.pk]):
        code = make_order(event, [ticket]).positions.get().secret
        body = {"nonce": uuid.uuid4().hex} if with_nonce else {}
        with CaptureQueriesContext(connection) as ctx:
            r = scan(client, clist, access_code=code, other_lists=other_lists, **body)
        assert r.status_code == 201 and r.data["list"]["id"] == clist.pk
        assert candidate_statements(ctx) == 1
        counts.append(len(ctx.captured_queries))
    single = SCAN_OK_QUERIES + 2 * with_nonce  # pretix looks for the nonce too, and so does the scan
    several = single + OTHER_LISTS_QUERIES + SIMULATION_QUERIES + NONCE_ON_LISTS_QUERIES * with_nonce
    assert counts == [single, several, several]


@pytest.mark.django_db
def test_the_third_list_costs_its_simulations_only(client, clist, orders, event, ticket, tshirt):
    """Admitted by the third list only: one candidate statement still, and pretix's
    simulation on each list."""
    shirts = CheckinList.objects.create(event=event, name="Shirts", all_products=False)
    shirts.limit_products.add(tshirt)
    everything = CheckinList.objects.create(event=event, name="Everything", all_products=True)
    badge = event.items.create(name="Badge", default_price=1)
    code = make_order(event, [badge]).positions.get().secret
    with CaptureQueriesContext(connection) as ctx:
        r = scan(client, clist, access_code=code, other_lists=[shirts.pk, everything.pk])
    assert r.status_code == 201 and r.data["list"]["id"] == everything.pk
    assert candidate_statements(ctx) == 1
    # The scan on "Everything" reads no list products (a scan on the desk's list reads them:
    # one statement); the simulations on the desk's list and on "Shirts" read them and stop
    # at the product (three statements each).
    assert len(ctx.captured_queries) == (SCAN_OK_QUERIES - 1) + OTHER_LISTS_QUERIES + 3 + 3 + SIMULATION_QUERIES
