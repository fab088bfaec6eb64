"""Moving from pretix's bundled automated check-in plugin: its rules become pretix-desk
rules with one action (control panel or management command), once."""
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pretix.base.models import Checkin, LogEntry, Team, User
from pretix.base.signals import order_paid, order_placed
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

from pretix_desk.importer import CREATED, SKIPPED, import_bundled_rules
from pretix_desk.models import AutoCheckinRule

from .conftest import make_order


@pytest.fixture
def bundled(event, clist, ticket, tshirt, box):
    """The bundled plugin's rules as an organizer set them up: one of each kind."""
    paid = BundledRule.objects.create(event=event, list=clist, mode="paid", all_sales_channels=False,
                                      all_products=False, all_payment_methods=False,
                                      limit_payment_methods=["paypal", "banktransfer"])
    paid.limit_sales_channels.set([box])
    paid.limit_products.set([ticket])
    paid.limit_variations.set([tshirt.variations.get(value="M")])
    everything = BundledRule.objects.create(event=event, mode="placed")
    return paid, everything


def shape(rule):
    return (
        rule.list_id, rule.mode, rule.all_sales_channels, sorted(c.identifier for c in rule.limit_sales_channels.all()),
        rule.all_products, sorted(i.pk for i in rule.limit_products.all()),
        sorted(v.pk for v in rule.limit_variations.all()),
        rule.all_payment_methods, sorted(rule.limit_payment_methods or []),
    )


def test_import_copies_every_field(event, bundled, admin_user):
    outcomes = import_bundled_rules(event=event, user=admin_user)
    assert [(o.bundled_rule, o.status) for o in outcomes] == [(b.pk, CREATED) for b in bundled]
    for outcome, source in zip(outcomes, bundled):
        rule = AutoCheckinRule.objects.get(pk=outcome.rule)
        assert shape(rule) == shape(source) and rule.imported_from == source.pk
    logs = LogEntry.objects.filter(action_type="pretix_desk.rule.imported").order_by("pk")
    assert [json.loads(le.data)["bundled_rule"] for le in logs] == [b.pk for b in bundled]
    assert logs[0].user == admin_user
    assert str(logs[0].display()) == (
        f"The auto check-in rule has been imported from rule #{bundled[0].pk} of pretix's bundled "
        "automated check-in plugin.")
    # The bundled plugin's rules are only read.
    assert BundledRule.objects.filter(event=event).count() == 2


def test_second_import_adds_nothing_even_after_edits(event, bundled):
    first = import_bundled_rules(event=event)
    AutoCheckinRule.objects.filter(pk=first[1].rule).update(mode="paid")  # edited since
    again = import_bundled_rules(event=event)
    assert [(o.status, o.rule, o.reason) for o in again] == [
        (SKIPPED, first[0].rule, f"imported before as rule #{first[0].rule}"),
        (SKIPPED, first[1].rule, f"imported before as rule #{first[1].rule}"),
    ]
    assert AutoCheckinRule.objects.count() == 2


def test_rules_that_exist_already_or_never_match_are_skipped(event, clist):
    same = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid")
    BundledRule.objects.create(event=event, list=clist, mode="paid")
    never = BundledRule.objects.create(event=event, mode="placed", all_payment_methods=False,
                                       limit_payment_methods=["paypal"])
    outcomes = import_bundled_rules(event=event)
    assert [(o.status, o.rule) for o in outcomes] == [(SKIPPED, same.pk), (SKIPPED, None)]
    assert outcomes[0].reason == f"rule #{same.pk} does the same already"
    assert outcomes[1].reason.startswith("it never checks anything in")
    assert outcomes[1].bundled_rule == never.pk
    assert AutoCheckinRule.objects.count() == 1


def test_imported_rules_work_and_the_bundled_plugin_can_go(event, ticket, clist, box):
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    BundledRule.objects.create(event=event, list=clist, mode="placed")
    before = make_order(event, [ticket])
    order_placed.send(event, order=before, bulk=False)
    import_bundled_rules(event=event)
    event.plugins = event.plugins.replace(",pretix.plugins.autocheckin", "")
    event.save()
    after = make_order(event, [ticket])
    order_placed.send(event, order=after, bulk=False)
    order_paid.send(event, order=after)
    assert Checkin.objects.filter(position__order=after, list=clist).count() == 1
    assert Checkin.objects.filter(position__order=before, list=clist).count() == 1


def test_command(event, bundled):
    out = StringIO()
    call_command("desk_import_autocheckin", event.organizer.slug, event.slug, stdout=out)
    text = out.getvalue()
    assert "2 rules have been imported from pretix's automated check-in plugin." in text
    assert f"bundled rule #{bundled[0].pk} -> pretix-desk rule #" in text
    out = StringIO()
    call_command("desk_import_autocheckin", event.organizer.slug, event.slug, stdout=out)
    assert "0 rules have been imported" in out.getvalue()
    assert f"Rule #{bundled[0].pk} was skipped: imported before as rule #" in out.getvalue()
    assert AutoCheckinRule.objects.count() == 2
    with pytest.raises(CommandError):
        call_command("desk_import_autocheckin", event.organizer.slug, "nope", stdout=StringIO())


def test_command_warns_when_pretix_desk_is_off(event, bundled):
    event.plugins = "pretix.plugins.autocheckin"
    event.save()
    out = StringIO()
    call_command("desk_import_autocheckin", event.organizer.slug, event.slug, stdout=out)
    assert "pretix-desk is not enabled for this event" in out.getvalue()


# --- control panel -------------------------------------------------------------------------------


@pytest.fixture
def staff(client, admin_team, admin_user):
    client.login(email="admin@example.org", password="admin")
    return client


def rules_page(event):
    return f"/control/event/{event.organizer.slug}/{event.slug}/desk/rules/"


def test_control_panel_import(staff, event, bundled):
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    page = staff.get(rules_page(event)).content.decode()
    assert "This event has 2 rules of pretix's bundled" in page
    assert f'action="{rules_page(event)}import"' in page

    resp = staff.post(rules_page(event) + "import", follow=True)
    html = resp.content.decode()
    assert "2 rules have been imported from pretix" in html
    assert "You can switch off pretix" in html
    assert AutoCheckinRule.objects.count() == 2
    assert LogEntry.objects.filter(action_type="pretix_desk.rule.imported", user__email="admin@example.org").count() == 2

    html = staff.post(rules_page(event) + "import", follow=True).content.decode()
    assert "0 rules have been imported" in html and "was skipped: imported before as rule #" in html
    assert AutoCheckinRule.objects.count() == 2


def test_control_panel_without_bundled_rules_offers_no_import(staff, event):
    assert 'import"' not in staff.get(rules_page(event)).content.decode()


def test_control_panel_import_needs_settings_permission(client, organizer, event, bundled):
    user = User.objects.create_user("door@example.org", "door")
    team = Team.objects.create(organizer=organizer, name="Door", all_events=True,
                               limit_event_permissions={"event.orders:checkin": True})
    team.members.add(user)
    client.login(email="door@example.org", password="door")
    assert client.post(rules_page(event) + "import").status_code == 403
    assert not AutoCheckinRule.objects.exists()
