"""The control panel pages for auto check-in rules, driven with a logged-in browser session."""
import pytest
from django.utils.html import escape
from pretix.base.models import LogEntry, Team, User

from pretix_desk.models import AutoCheckinRule
from pretix_desk.views.rules import describe_rule


def base(event):
    return f"/control/event/{event.organizer.slug}/{event.slug}/desk/rules/"


@pytest.fixture
def staff(client, admin_team, admin_user):
    client.login(email="admin@example.org", password="admin")
    return client


def form_data(**overrides):
    data = {
        "mode": "placed", "list": "",
        "all_sales_channels": "on", "all_products": "on", "all_payment_methods": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_empty_state_and_navigation(staff, event):
    resp = staff.get(base(event))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "You haven't created any auto check-in rules yet." in html
    assert f'href="{base(event)}add"' in html
    # Listed in the event's navigation, under check-in.
    dashboard = staff.get(f"/control/event/{event.organizer.slug}/{event.slug}/").content.decode()
    assert f'href="{base(event)}"' in dashboard


def test_list_describes_each_rule_in_words(staff, event, clist, ticket, tshirt, box):
    paid = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid", all_products=False,
                                          all_payment_methods=False, limit_payment_methods=["paypal"])
    paid.limit_products.set([tshirt])
    placed = AutoCheckinRule.objects.create(event=event, all_sales_channels=False, all_products=False)
    placed.limit_sales_channels.set([box])
    placed.limit_variations.set([tshirt.variations.get(value="M")])
    placed.limit_products.set([ticket])

    html = staff.get(base(event)).content.decode()
    assert "When an order is paid with PayPal, check in T-shirt tickets on list Main." in html
    assert escape("When an order is placed through Box office, check in Ticket and T-shirt – M "
                  "tickets on every list that admits them.") in html
    assert f'href="{base(event)}{paid.pk}/"' in html and f'href="{base(event)}{paid.pk}/delete"' in html


@pytest.mark.parametrize("rule_kwargs, expected", [
    ({}, "When an order is placed, check in all tickets on every list that admits them."),
    ({"mode": "paid"}, "When an order is paid, check in all tickets on every list that admits them."),
    ({"mode": "paid", "all_payment_methods": False, "limit_payment_methods": ["paypal", "banktransfer", "x"]},
     "When an order is paid with PayPal, Bank transfer or x, check in all tickets on every list that admits them."),
])
def test_describe_rule(event, rule_kwargs, expected):
    rule = AutoCheckinRule.objects.create(event=event, **rule_kwargs)
    names = {"paypal": "PayPal", "banktransfer": "Bank transfer"}
    assert describe_rule(rule, payment_method_names=names) == expected


def test_describe_paid_rule_with_channels(event, box, clist):
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid", all_sales_channels=False,
                                          all_payment_methods=False, limit_payment_methods=["paypal"])
    rule.limit_sales_channels.set([box, event.organizer.sales_channels.get(identifier="web")])
    text = describe_rule(rule, payment_method_names={"paypal": "PayPal"})
    assert text.startswith("When an order placed through ") and "Box office" in text
    assert text.endswith(" is paid with PayPal, check in all tickets on list Main.")


def test_add(staff, event, clist, ticket, tshirt, box):
    medium = tshirt.variations.get(value="M")
    form = staff.get(base(event) + "add").content.decode()
    for option in ('value="paypal"', 'value="banktransfer"', f'value="{ticket.pk}"',
                   f'value="{tshirt.pk}-{medium.pk}"', f'value="{box.pk}"', f'value="{clist.pk}"'):
        assert option in form
    resp = staff.post(base(event) + "add", form_data(
        mode="paid", list=str(clist.pk),
        all_sales_channels=None, limit_sales_channels=[str(box.pk)],
        all_products=None, itemvars=[str(ticket.pk), f"{tshirt.pk}-{medium.pk}"],
        all_payment_methods=None, limit_payment_methods=["paypal"],
    ), follow=True)
    assert resp.status_code == 200
    assert "The rule has been created." in resp.content.decode()
    rule = AutoCheckinRule.objects.get()
    assert (rule.event, rule.list, rule.mode, rule.all_products, rule.all_payment_methods) == (
        event, clist, "paid", False, False)
    assert rule.limit_payment_methods == ["paypal"]
    assert list(rule.limit_products.all()) == [ticket]
    assert list(rule.limit_variations.all()) == [medium]
    assert list(rule.limit_sales_channels.all()) == [box]
    log = LogEntry.objects.get(action_type="pretix_desk.rule.added")
    assert log.content_object == rule and log.user.email == "admin@example.org"


def test_add_shows_validation_messages(staff, event):
    resp = staff.post(base(event) + "add", form_data(
        mode="placed", all_payment_methods=None, limit_payment_methods=["paypal"],
        all_products=None, all_sales_channels=None,
    ))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "We could not save your changes." in html
    assert "A rule limited to payment methods can only run once the order is paid" in html
    assert "Select at least one product or variation" in html
    assert "Select at least one sales channel" in html
    resp = staff.post(base(event) + "add", form_data(mode="paid", all_payment_methods=None,
                                                     limit_payment_methods=["bitcoin"]))
    assert "Select a valid choice. bitcoin is not one of the available choices." in resp.content.decode()
    assert not AutoCheckinRule.objects.exists()
    assert not LogEntry.objects.filter(action_type__startswith="pretix_desk.").exists()


def test_edit(staff, event, clist, ticket, tshirt):
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid", all_products=False,
                                          all_payment_methods=False, limit_payment_methods=["paypal"])
    rule.limit_products.set([tshirt])
    resp = staff.post(f"{base(event)}{rule.pk}/", form_data(
        mode="paid", list="", all_products=None, itemvars=[str(ticket.pk)],
    ), follow=True)
    assert "Your changes have been saved." in resp.content.decode()
    rule.refresh_from_db()
    assert rule.list is None and rule.all_payment_methods
    assert list(rule.limit_products.all()) == [ticket]
    assert LogEntry.objects.get(action_type="pretix_desk.rule.changed").content_object == rule


def test_edit_form_preselects_current_values(staff, event, tshirt):
    medium = tshirt.variations.get(value="M")
    rule = AutoCheckinRule.objects.create(event=event, mode="paid", all_products=False,
                                          all_payment_methods=False, limit_payment_methods=["paypal"])
    rule.limit_variations.set([medium])
    form = staff.get(f"{base(event)}{rule.pk}/").context["form"]
    assert form.initial["itemvars"] == [f"{tshirt.pk}-{medium.pk}"]
    assert form.initial["limit_payment_methods"] == ["paypal"]


def test_delete(staff, event):
    rule = AutoCheckinRule.objects.create(event=event, mode="paid")
    page = staff.get(f"{base(event)}{rule.pk}/delete").content.decode()
    assert "When an order is paid, check in all tickets" in page
    resp = staff.post(f"{base(event)}{rule.pk}/delete", follow=True)
    assert "The rule has been deleted." in resp.content.decode()
    assert not AutoCheckinRule.objects.exists()
    assert LogEntry.objects.filter(action_type="pretix_desk.rule.deleted").count() == 1


def test_rules_of_other_events_are_404(staff, event, other_event):
    rule = AutoCheckinRule.objects.create(event=other_event)
    assert staff.get(f"{base(event)}{rule.pk}/").status_code == 404
    assert staff.post(f"{base(event)}{rule.pk}/delete").status_code == 404
    assert AutoCheckinRule.objects.filter(pk=rule.pk).exists()


def test_needs_settings_permission(client, organizer, event):
    user = User.objects.create_user("door@example.org", "door")
    team = Team.objects.create(organizer=organizer, name="Door", all_events=True,
                               limit_event_permissions={"event.orders:checkin": True, "event.orders:read": True})
    team.members.add(user)
    rule = AutoCheckinRule.objects.create(event=event)
    client.login(email="door@example.org", password="door")
    assert client.get(base(event)).status_code == 403
    assert client.post(base(event) + "add", form_data()).status_code == 403
    assert client.post(f"{base(event)}{rule.pk}/delete").status_code == 403
    assert AutoCheckinRule.objects.count() == 1
    # And no navigation entry for them.
    dashboard = client.get(f"/control/event/{organizer.slug}/{event.slug}/").content.decode()
    assert f'href="{base(event)}"' not in dashboard


def test_anonymous_is_sent_to_login(client, event):
    resp = client.get(base(event))
    assert resp.status_code == 302 and "/control/login" in resp["Location"]


def test_events_without_the_plugin_404(staff, event):
    event.plugins = "pretix.plugins.autocheckin"
    event.save()
    assert staff.get(base(event)).status_code == 404
    assert staff.post(base(event) + "add", form_data()).status_code == 404
