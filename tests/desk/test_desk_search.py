"""GET desk/search/?q=: the attendee who lost their ticket."""
import pytest

from tests.conftest import make_order

from .conftest import desk_url


def search(client, clist, q):
    return client.get(desk_url(clist, "search"), {"q": q} if q is not None else {})


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["lovel", "ADA@EXAMPLE", "abc1"])
def test_search_by_name_email_order_code(client, clist, position, addon, pending_order, q):
    r = search(client, clist, q)
    assert r.status_code == 200
    assert r.data["count"] == 1
    hit = r.data["results"][0]
    assert hit["access_code"] == position.secret
    assert hit["attendee"]["position_id"] == position.pk


@pytest.mark.django_db
def test_search_includes_unpaid_so_staff_see_why(client, clist, pending_order):
    r = search(client, clist, "builder")
    assert [h["attendee"]["order_status"] for h in r.data["results"]] == ["n"]


@pytest.mark.django_db
def test_search_caps_results(client, clist, event, ticket):
    for i in range(55):
        make_order(event, [ticket], code=f"S{i:04d}", name=f"Grace Hopper {i}")
    assert search(client, clist, "hopper").data["count"] == 50


@pytest.mark.django_db
@pytest.mark.parametrize("q", [None, "", "ab", "x" * 201])
def test_search_query_too_short_or_long(client, clist, q):
    r = search(client, clist, q)
    assert r.status_code == 400 and "q" in r.data


@pytest.mark.django_db
def test_search_stays_in_event(client, clist, other_event, position):
    from decimal import Decimal

    from pretix.base.models import Item

    item = Item.objects.create(event=other_event, name="T", default_price=Decimal("1"))
    make_order(other_event, [item], name="Ada Elsewhere")
    assert search(client, clist, "ada").data["count"] == 1
