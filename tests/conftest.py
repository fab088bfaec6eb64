"""Shared fixtures: an organizer with an event that has pretix_desk enabled, a few
products, a check-in list, teams and API clients. Test modules add their own specifics."""
import datetime
import os
from decimal import Decimal

import pytest
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import (
    CheckinList, Event, Item, Order, OrderPosition, Organizer, Quota, SalesChannel,
    Team, User,
)
from rest_framework.test import APIClient

PLUGINS = "pretix_desk,pretix.plugins.banktransfer,pretix.plugins.paypal2"


@pytest.fixture(autouse=True)
def _no_scopes():
    # django-scopes guards every ORM access in pretix; tests set up data freely.
    with scopes_disabled():
        yield


@pytest.fixture
def organizer(db):
    return Organizer.objects.create(name="Big Events", slug="bigevents")


@pytest.fixture
def event(organizer):
    ev = Event.objects.create(
        organizer=organizer,
        name="Sample Conference",
        slug="sampleconf",
        date_from=now() + datetime.timedelta(days=10),
        plugins=PLUGINS,
        live=True,
    )
    ev.settings.payment_banktransfer__enabled = True
    ev.settings.payment_paypal__enabled = True
    return ev


@pytest.fixture
def other_event(organizer):
    return Event.objects.create(
        organizer=organizer,
        name="Other Conference",
        slug="otherconf",
        date_from=now() + datetime.timedelta(days=20),
        plugins=PLUGINS,
    )


@pytest.fixture
def ticket(event):
    return Item.objects.create(
        event=event, name="Ticket", default_price=Decimal("23.00"), admission=True
    )


@pytest.fixture
def tshirt(event):
    item = Item.objects.create(
        event=event, name="T-shirt", default_price=Decimal("15.00"), admission=False
    )
    item.variations.create(value="S")
    item.variations.create(value="M")
    return item


@pytest.fixture
def quota(event, ticket, tshirt):
    """Unlimited quota for the ticket and the T-shirt, for orders through pretix's own code."""
    q = Quota.objects.create(event=event, name="All", size=None)
    q.items.add(ticket, tshirt)
    q.variations.add(*tshirt.variations.all())
    return q


@pytest.fixture
def clist(event, ticket):
    cl = CheckinList.objects.create(event=event, name="Main", all_products=False)
    cl.limit_products.add(ticket)
    return cl


@pytest.fixture
def box(organizer):
    """A second sales channel (a new organizer only has "web")."""
    return SalesChannel.objects.create(organizer=organizer, identifier="box", label="Box office",
                                       type="web", position=2)


@pytest.fixture
def admin_user(db):
    return User.objects.create_user("admin@example.org", "admin")


@pytest.fixture
def admin_team(organizer, admin_user):
    team = Team.objects.create(
        organizer=organizer,
        name="Admins",
        all_events=True,
        all_event_permissions=True,
        all_organizer_permissions=True,
    )
    team.members.add(admin_user)
    return team


@pytest.fixture
def token_client(admin_team):
    client = APIClient()
    token = admin_team.tokens.create(name="Test token")
    client.credentials(HTTP_AUTHORIZATION="Token " + token.token)
    return client


def team_client(organizer, *, permissions=None, events=None):
    """An API client whose token belongs to a team with just these event permissions."""
    team = Team.objects.create(
        organizer=organizer,
        name="Limited",
        all_events=events is None,
        limit_event_permissions={p: True for p in (permissions or [])},
    )
    if events:
        team.limit_events.set(events)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + team.tokens.create(name="t").token)
    return client


def make_order(event, items, *, status=Order.STATUS_PAID, sales_channel="web",
               code=None, email="ada@example.org", name="Ada Lovelace", **kwargs):
    """Create an order with one position per entry of ``items``.

    An entry is an Item, or a dict with ``item`` and optional ``variation``,
    ``addon_to`` (index of an earlier entry), ``subevent``, ``attendee_name``.
    """
    if code:
        kwargs["code"] = code
    order = Order.objects.create(
        event=event,
        status=status,
        email=email,
        datetime=now(),
        expires=now() + datetime.timedelta(days=10),
        total=Decimal("0.00"),
        sales_channel=event.organizer.sales_channels.get(identifier=sales_channel),
        locale="en",
        **kwargs,
    )
    created = []
    for i, entry in enumerate(items):
        if not isinstance(entry, dict):
            entry = {"item": entry}
        created.append(OrderPosition.objects.create(
            order=order,
            positionid=i + 1,
            item=entry["item"],
            variation=entry.get("variation"),
            subevent=entry.get("subevent"),
            addon_to=created[entry["addon_to"]] if "addon_to" in entry else None,
            is_bundled=entry.get("is_bundled", False),
            price=entry["item"].default_price,
            attendee_name_parts={"full_name": entry.get("attendee_name", name)},
        ))
    order.total = sum(p.price for p in created)
    order.save(update_fields=["total"])
    order.create_transactions()
    return order


@pytest.fixture(autouse=True, scope="session")
def _require_postgres(django_db_blocker):
    """scripts/test runs the suite a second time on PostgreSQL: there, a silent fallback
    to SQLite would let the concurrency tests pass without testing anything."""
    if os.environ.get("PRETIX_DESK_REQUIRE_POSTGRES"):
        from django.db import connection
        assert connection.vendor == "postgresql", "PostgreSQL required, got " + connection.vendor
    yield


def pytest_runtest_setup(item):
    # Tests marked postgres test what only a real database with row locks can show;
    # on the SQLite run they are skipped, and the PostgreSQL run requires them.
    if item.get_closest_marker("postgres"):
        from django.conf import settings
        if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
            pytest.skip("needs PostgreSQL (scripts/test runs it there)")
