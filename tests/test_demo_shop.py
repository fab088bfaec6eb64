"""The demo works like a shop: a visitor buys a ticket and pays by bank transfer, the
organizer marks it paid, and the desk and the rules see a real order."""
import re
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from pretix.base.models import Checkin, CheckinList, Event, Order, Question, Team
from rest_framework.test import APIClient

from pretix_desk.models import AutoCheckinRule


@pytest.fixture
def demo(db, capsys):
    call_command("desk_demo", url="http://demo.example")
    capsys.readouterr()
    return Event.objects.get(slug="democon")


def buy(client, event, item):
    """Through the shop's checkout as a visitor clicks it, paying by bank transfer."""
    base = f"/{event.organizer.slug}/{event.slug}/"
    before = set(event.orders.values_list("pk", flat=True))
    assert client.post(base + "cart/add", {f"item_{item.pk}": "1"}, follow=True).status_code == 200
    r = client.get(base + "checkout/start", follow=True)
    for _ in range(6):
        step = r.request["PATH_INFO"].rstrip("/").rsplit("/", 1)[-1]
        if step not in ("addons", "questions", "payment", "confirm"):
            break
        form = {}
        if step == "questions":
            form = {"email": "visitor@example.org", "email_repeat": "visitor@example.org"}
            for name in re.findall(r'name="([^"]*attendee_name_parts_0)"', r.content.decode()):
                form[name] = "Vera Visitor"
        elif step == "payment":
            form = {"payment": "banktransfer"}
        r = client.post(r.request["PATH_INFO"], form, follow=True)
    (pk,) = set(event.orders.values_list("pk", flat=True)) - before
    return event.orders.get(pk=pk)


@pytest.mark.django_db
def test_demo_sells_and_the_desk_sees_the_order(demo):
    ticket = demo.items.get(name="Conference ticket")
    order = buy(Client(), demo, ticket)
    assert order.email == "visitor@example.org" and order.status == Order.STATUS_PENDING
    assert order.payments.get().provider == "banktransfer"

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + Team.objects.get(organizer=demo.organizer).tokens.get(
        name="demo").token)
    main = CheckinList.objects.get(event=demo, name="Main entrance")
    url = f"/api/v1/organizers/demo/events/democon/checkinlists/{main.pk}/desk/scan/"
    code = order.positions.get().secret
    r = api.post(url, {"access_code": code, "nonce": uuid.uuid4().hex}, format="json")
    assert r.status_code == 400 and r.data["reason"] == "unpaid" and r.data["override"] == "ignore_unpaid"

    r = api.post(f"/api/v1/organizers/demo/events/democon/orders/{order.code}/mark_paid/", format="json")
    assert r.status_code == 200
    r = api.post(url, {"access_code": code, "nonce": uuid.uuid4().hex}, format="json")
    assert r.status_code == 201 and r.data["badge"]["url"]


@pytest.mark.django_db
def test_demo_has_what_the_door_uses(demo):
    lists = {cl.name: cl for cl in CheckinList.objects.filter(event=demo)}
    assert set(lists) == {"Main entrance", "Lunch counter"}
    assert Question.objects.filter(event=demo, ask_during_checkin=True).exists()
    assert demo.items.filter(checkin_text__isnull=False).exclude(checkin_text="").exists()
    assert "pretix.plugins.badges" in demo.get_plugins()
    assert "pretix.plugins.banktransfer" in demo.organizer.get_plugins()
    speaker_rule = AutoCheckinRule.objects.get(event=demo)
    assert list(speaker_rule.limit_products.values_list("name", flat=True)) == ["Speaker ticket"]
    assert not Checkin.objects.filter(list__event=demo, position__order__status=Order.STATUS_CANCELED).exists()
    assert demo.orders.count() == 20  # README: "and twenty orders"


def test_the_demo_can_add_an_event_with_signed_codes(db, capsys):
    """scripts/demo with PRETIX_DESK_DEMO_SIGNED=1: tickets whose codes pretix signed, which
    the desk's preload says how to verify (desk/signed.py)."""
    from pretix.base.secrets import Sig1TicketSecretGenerator

    call_command("desk_demo", url="http://demo.example", signed=True)
    printed = capsys.readouterr().out
    event = Event.objects.get(slug="democon-signed")
    assert Event.objects.filter(slug="democon").exists() and "/democon-signed/" in printed
    codes = [p.secret for p in event.orders.first().positions.all()]
    generator = Sig1TicketSecretGenerator(event)
    assert codes and all(generator._parse(code) is not None for code in codes)
    shown = printed.split("ticket codes:")[1].split()
    assert shown and all(generator._parse(code) is not None for code in shown)
