"""Fixtures of the desk API tests: a paid order with a ticket and a T-shirt add-on on the
"Main" list, and helpers to call the endpoints."""
import pytest
from django.urls import reverse
from pretix.base.models import Order

from tests.conftest import make_order


def desk_url(clist, name, **kwargs):
    return reverse(f"api-v1:desk-{name}", kwargs={
        "organizer": clist.event.organizer.slug, "event": clist.event.slug, "list": clist.pk,
        **kwargs,
    })


@pytest.fixture
def order(event, ticket, tshirt):
    return make_order(event, [
        ticket,
        {"item": tshirt, "variation": tshirt.variations.get(value="M"), "addon_to": 0},
    ], code="ABC12")


@pytest.fixture
def position(order):
    return order.positions.get(positionid=1)


@pytest.fixture
def addon(order):
    return order.positions.get(positionid=2)


@pytest.fixture
def pending_order(event, ticket, tshirt):
    return make_order(event, [ticket, {"item": tshirt, "addon_to": 0}],
                      status=Order.STATUS_PENDING, code="PEND1", email="bob@example.org",
                      name="Bob Builder")


@pytest.fixture
def client(token_client):
    return token_client


def scan(client, clist, **body):
    return client.post(desk_url(clist, "scan"), body, format="json")


def redeem(client, clist, **body):
    return client.post(desk_url(clist, "redeem"), body, format="json")
