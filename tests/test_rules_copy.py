"""Cloning an event or a product carries its auto check-in rules over."""
import pytest
from django.utils.timezone import now
from pretix.base.models import CheckinList, Event, Organizer

from pretix_desk.models import AutoCheckinRule


@pytest.fixture
def rules(event, clist, ticket, tshirt, box):
    medium = tshirt.variations.get(value="M")
    paid = AutoCheckinRule.objects.create(
        event=event, list=clist, mode="paid", all_sales_channels=False, all_products=False,
        all_payment_methods=False, limit_payment_methods=["paypal"],
    )
    paid.limit_sales_channels.set([box])
    paid.limit_products.set([ticket])
    paid.limit_variations.set([medium])
    anywhere = AutoCheckinRule.objects.create(event=event)
    return paid, anywhere


def clone(source, organizer):
    target = Event.objects.create(organizer=organizer, name="Clone", slug="clone", date_from=now())
    target.copy_data_from(source)
    return target


def test_event_copy_carries_rules_over(event, organizer, rules):
    target = clone(event, organizer)
    copied = list(AutoCheckinRule.objects.filter(event=target).order_by("pk"))
    assert len(copied) == 2
    paid, anywhere = copied
    new_list = target.checkin_lists.get(name="Main")
    new_ticket = target.items.get(name="Ticket")
    new_medium = target.items.get(name="T-shirt").variations.get(value="M")
    assert (paid.list, paid.mode, paid.all_sales_channels, paid.all_products, paid.all_payment_methods,
            paid.limit_payment_methods) == (new_list, "paid", False, False, False, ["paypal"])
    assert list(paid.limit_products.all()) == [new_ticket]
    assert list(paid.limit_variations.all()) == [new_medium]
    assert [c.identifier for c in paid.limit_sales_channels.all()] == ["box"]
    assert anywhere.list is None and anywhere.all_products and anywhere.mode == "placed"
    # The originals are untouched.
    assert AutoCheckinRule.objects.filter(event=event).count() == 2


def test_event_copy_to_another_organizer_maps_channels_by_identifier(event, rules):
    other = Organizer.objects.create(name="Other", slug="other")
    target = clone(event, other)
    paid = AutoCheckinRule.objects.filter(event=target, mode="paid").get()
    # "box" does not exist there, so the limit is empty rather than pointing across organizers.
    assert list(paid.limit_sales_channels.all()) == []


def test_event_copy_skips_rules_on_lists_of_dates(event, organizer, ticket):
    event.has_subevents = True
    event.save()
    day = event.subevents.create(name="Day", date_from=now())
    day_list = CheckinList.objects.create(event=event, name="Day list", subevent=day)
    AutoCheckinRule.objects.create(event=event, list=day_list)
    target = clone(event, organizer)
    # pretix does not clone lists of dates; the rule is not widened to every list.
    assert not AutoCheckinRule.objects.filter(event=target).exists()


def test_item_copy_joins_rules_naming_the_original(client, admin_team, admin_user, event, rules,
                                                   ticket, tshirt):
    paid, anywhere = rules
    tshirt.has_variations = True
    tshirt.save()
    medium = tshirt.variations.get(value="M")
    paid.limit_products.add(tshirt)
    client.login(email="admin@example.org", password="admin")
    resp = client.post(f"/control/event/{event.organizer.slug}/{event.slug}/items/add", {
        "name_0": "T-shirt 2", "default_price": "15.00", "copy_from": str(tshirt.pk),
        "has_variations": "on", "quota_option": "none", "admission": "", "personalized": "",
    })
    assert resp.status_code == 302, resp.content.decode()[-3000:]
    copy = event.items.exclude(pk__in=[ticket.pk, tshirt.pk]).get()
    assert str(copy.name) == "T-shirt 2"
    assert set(paid.limit_products.all()) == {ticket, tshirt, copy}
    copy_medium = copy.variations.get(value="M")
    assert set(paid.limit_variations.all()) == {medium, copy_medium}
    assert not anywhere.limit_products.exists()


def test_item_copy_without_variations(client, admin_team, admin_user, event, rules, ticket):
    paid, anywhere = rules
    client.login(email="admin@example.org", password="admin")
    resp = client.post(f"/control/event/{event.organizer.slug}/{event.slug}/items/add", {
        "name_0": "Ticket 2", "default_price": "23.00", "copy_from": str(ticket.pk),
        "quota_option": "none",
    })
    assert resp.status_code == 302
    assert sorted(str(i.name) for i in paid.limit_products.all()) == ["Ticket", "Ticket 2"]
