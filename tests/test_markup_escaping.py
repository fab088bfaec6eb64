"""No markup from input is rendered unescaped by a page of ours in the control panel.

Every name and text someone else typed (attendee, company, email, product, variation,
question and answer, check-in texts, list, sales channel, gate, device, user, payment method
of a rule, a scanned barcode) carries the same payloads: an ``<img onerror>``, a
``<script>`` that first closes an attribute, a template expression and a ``javascript:``
URL. Each page must show the text, escaped, and none of the markup.

Not covered, because pretix lets no markup into them: order codes (generated, [A-Z0-9]),
sales channel and gate identifiers (letters, digits, ``.-_``). Rules have no name.
"""
import datetime
import json
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils.html import escape
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import (
    CheckinList, Device, Event, Gate, Item, Organizer, Question, QuestionAnswer,
    SalesChannel, Team, User,
)
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

from pretix_desk import apply
from pretix_desk.desk.redeem import redeem
from pretix_desk.desk.scan import scan
from pretix_desk.models import AutoCheckinRule

from .conftest import PLUGINS, make_order

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = '"><script>window.__pwned=1</script>'
TEMPLATE = "{{7*7}}"
JS_URL = "javascript:alert(1)"
#: What may never appear in a page: markup or a script URL taken from input.
RAW = ("<img src=x", "<script>window.__pwned", '="javascript:', "='javascript:")


def hostile(label):
    """A value for one field: a label that names the field, then every payload."""
    return f"{label} {IMG} {SCRIPT} {TEMPLATE} {JS_URL}"


def in_json_script(value):
    """How a value reads inside <script type="application/json"> (Django's json_script)."""
    return json.dumps(value)[1:-1].replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026")


#: A barcode someone scanned: markup first, so that pretix's 16-character excerpt of it in
#: the log holds markup too.
BARCODE = IMG + "BARCODE" + SCRIPT


def assert_escaped(html, *labels):
    for raw in RAW:
        assert raw not in html, f"{raw!r} is rendered unescaped"
    for label in labels:
        assert escape(hostile(label)) in html, f"the field {label!r} is not shown (escaped)"


@pytest.fixture(scope="module")
def hostile_event(django_db_setup, django_db_blocker):
    """The event with markup in every field our pages show, an order with two redeemed
    add-ons, an unknown scan, rules (one applied already) and a rule of pretix's bundled
    plugin. Seeded once for the module, in a transaction rolled back at its end; each test
    runs in a savepoint of it (pytest-django's ``db``)."""
    with django_db_blocker.unblock(), scopes_disabled(), transaction.atomic():
        yield _seed()
        transaction.set_rollback(True)


def _seed():
    organizer = Organizer.objects.create(name=hostile("Organizer"), slug="hostile")
    event = Event.objects.create(organizer=organizer, name=hostile("Event"), slug="hostile",
                                 date_from=now() + datetime.timedelta(days=10),
                                 plugins=PLUGINS + ",pretix.plugins.autocheckin")
    event.settings.attendee_emails_asked = True  # pretix's order page shows what is asked
    event.settings.attendee_company_asked = True
    admin = User.objects.create_user("admin@example.org", "admin")
    team = Team.objects.create(organizer=organizer, name="Admins", all_events=True,
                               all_event_permissions=True, all_organizer_permissions=True)
    team.members.add(admin)

    ticket = Item.objects.create(event=event, name=hostile("Product"), default_price=Decimal("23.00"),
                                 admission=True, personalized=True, checkin_text=hostile("ProductText"))
    tshirt = Item.objects.create(event=event, name=hostile("Shirt"), default_price=Decimal("15.00"))
    medium = tshirt.variations.create(value=hostile("Variation"), checkin_text=hostile("VariationText"))
    clist = CheckinList.objects.create(event=event, name=hostile("List"), all_products=True)
    other = CheckinList.objects.create(event=event, name=hostile("OtherList"), all_products=True)
    box = SalesChannel.objects.create(organizer=organizer, identifier="box", label=hostile("Channel"),
                                      type="web", position=2)
    Gate.objects.create(organizer=organizer, name=hostile("Gate"), identifier="gate1")
    question = Question.objects.create(event=event, question=hostile("Question"), type=Question.TYPE_STRING,
                                       help_text=hostile("Help"), show_during_checkin=True)
    question.items.add(ticket)

    order = make_order(event, [ticket, {"item": tshirt, "variation": medium, "addon_to": 0},
                               {"item": tshirt, "variation": medium, "addon_to": 0}],
                       code="HOST1", email=hostile("Email") + "@example.org", name=hostile("Attendee"),
                       checkin_text=hostile("OrderText"))
    position, addon, second_addon = order.positions.order_by("positionid")
    position.company = hostile("Company")
    position.attendee_email = hostile("AttendeeEmail") + "@example.org"
    position.save()
    QuestionAnswer.objects.create(orderposition=position, question=question, answer=hostile("Answer"))

    # A hand-out at the desk by a user (pretix keeps emails in lower case), one by a device;
    # a scan of a code nobody knows.
    door = User.objects.create_user(hostile("door") + "@example.org", "door", fullname=hostile("DoorName"))
    device = Device.objects.create(organizer=organizer, name=hostile("Device"), all_events=True)
    assert redeem(checkin_list=clist, access_code=position.secret, line_item_id=addon.pk,
                  user=door).status == "redeemed"
    assert redeem(checkin_list=clist, access_code=position.secret, line_item_id=second_addon.pk,
                  auth=device).status == "redeemed"
    assert scan(checkin_list=clist, access_code=BARCODE, user=admin).status == "invalid"

    # A rule limited by everything a rule names, one applied already (its log names the list),
    # one to count (its result names the list), and the bundled plugin's rule to import.
    described = AutoCheckinRule.objects.create(
        event=event, list=clist, mode="paid", all_sales_channels=False, all_products=False,
        all_payment_methods=False, limit_payment_methods=["paypal", hostile("Method")],
    )
    described.limit_sales_channels.set([box])
    described.limit_products.set([ticket])
    described.limit_variations.set([medium])
    described.log_action("pretix_desk.rule.added", user=admin, data={})
    applied = AutoCheckinRule.objects.create(event=event, list=other, mode="placed")
    assert apply.apply_rule(rule=applied, dry_run=False, user=admin)["checkins"] == 3
    to_count = AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    BundledRule.objects.create(event=event, mode="paid", all_payment_methods=False,
                               limit_payment_methods=[hostile("BundledMethod")])
    return {"event": event, "order": order, "described": described, "to_count": to_count}


@pytest.fixture
def staff(db, client, hostile_event):
    client.login(email="admin@example.org", password="admin")
    return client


def control(event, path=""):
    return f"/control/event/{event.organizer.slug}/{event.slug}/{path}"


def rules(event, path=""):
    return control(event, "desk/rules/" + path)


def get(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.content.decode()


# --- auto check-in rules ---------------------------------------------------------------------


def test_rule_list(staff, hostile_event):
    html = get(staff, rules(hostile_event["event"]))
    assert html.count('class="pretix-desk-rule"') == 3
    assert_escaped(html, "Event", "List", "OtherList", "Channel", "Product", "Shirt", "Variation", "Method")


def test_rule_forms(staff, hostile_event):
    event = hostile_event["event"]
    html = get(staff, rules(event, "{}/".format(hostile_event["described"].pk)))
    # the pickers' labels and the payment method's value attribute
    assert_escaped(html, "List", "OtherList", "Channel", "Product", "Shirt", "Variation", "Method")
    assert 'value="{}"'.format(escape(hostile("Method"))) in html
    html = get(staff, rules(event, "add"))
    assert_escaped(html, "List", "OtherList", "Channel", "Product", "Shirt", "Variation")


def test_rule_form_repeats_posted_values_escaped(staff, hostile_event):
    """A rejected choice is named in the error message: what was posted comes back escaped."""
    event = hostile_event["event"]
    resp = staff.post(rules(event, "add"), {
        "mode": "paid", "list": "", "all_sales_channels": "on", "all_products": "on",
        "limit_payment_methods": [hostile("PostedMethod")], "itemvars": [hostile("PostedProduct")],
    })
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "We could not save your changes." in html
    assert_escaped(html, "PostedMethod", "PostedProduct")
    assert AutoCheckinRule.objects.filter(event=event).count() == 3


def test_rule_delete_page(staff, hostile_event):
    html = get(staff, rules(hostile_event["event"], "{}/delete".format(hostile_event["described"].pk)))
    assert "Are you sure you want to delete this rule?" in html
    assert_escaped(html, "List", "Channel", "Product", "Shirt", "Variation", "Method")


def test_apply_pages(staff, hostile_event):
    event, rule = hostile_event["event"], hostile_event["to_count"]
    url = rules(event, f"{rule.pk}/apply")
    assert_escaped(get(staff, url), "List")

    # the dry run's result names the list twice: in the sentence and in the list of lists
    resp = staff.post(url, {"dry_run": "true"})
    assert resp.status_code == 302 and "?result=" in resp["Location"]
    html = get(staff, resp["Location"])
    assert "This will check in 3 tickets on list " + escape(hostile("List")) + "." in html
    assert escape(hostile("List")) + ": 3 tickets" in html
    assert_escaped(html, "List")

    # the run's message names it
    resp = staff.post(url, {"dry_run": "false"}, follow=True)
    html = resp.content.decode()
    assert "3 tickets have been checked in on list " + escape(hostile("List")) + "." in html
    assert_escaped(html, "List")


def test_import_page(staff, hostile_event):
    event = hostile_event["event"]
    html = staff.post(rules(event, "import"), follow=True).content.decode()
    assert "1 rule has been imported from pretix" in html
    assert html.count('class="pretix-desk-rule"') == 4
    assert_escaped(html, "BundledMethod", "List")


# --- the desk page ---------------------------------------------------------------------------


def test_desk_page(staff, hostile_event):
    event = hostile_event["event"]
    html = get(staff, control(event, "desk/"))
    # the event's name in the title and header, the lists in the picker
    assert html.count(escape(hostile("Event"))) == 2
    assert_escaped(html, "Event", "List", "OtherList")
    # names in the configuration are JSON inside a <script> element that they cannot end
    for label in ("Event", "List", "OtherList", "Gate"):
        assert in_json_script(hostile(label)) in html
    assert "</script>" not in html.split('id="desk-config"')[1].split("</script>")[0]

    sw = get(staff, control(event, "desk/sw.js"))
    for raw in RAW + ("img src", "__pwned"):
        assert raw not in sw


# --- the order: redemptions panel and log ----------------------------------------------------


def test_order_page_redemptions_and_log(staff, hostile_event):
    order = hostile_event["order"]
    html = get(staff, control(hostile_event["event"], f"orders/{order.code}/"))
    panel = html.split("Handed out at the registration desk")[1].split("</table>")[0]
    # product and variation, list, the user and the device who handed out
    assert panel.count(escape(hostile("Shirt")) + " – " + escape(hostile("Variation"))) == 2
    assert_escaped(panel, "Shirt", "Variation", "List", "door", "Device")
    # our log entries name product and list
    handed_out = 'was handed out at the registration desk (check-in list &quot;{}&quot;)'.format(
        escape(hostile("List")))
    assert html.count(handed_out) == 2
    # and pretix's own parts of the page show the attendee's data escaped too
    assert_escaped(html, "Event", "Attendee", "Company", "AttendeeEmail", "Product", "Question", "Answer",
                   "OrderText", "List", "OtherList")


def test_event_logs(staff, hostile_event):
    event = hostile_event["event"]
    html = get(staff, control(event, "logs/"))
    # the redemptions, the applied rule's sentence with the list name, the unknown barcode
    assert html.count("was handed out at the registration desk") == 2
    assert ("The auto check-in rule has been applied to existing orders. 3 tickets have been checked in on list "
            + escape(hostile("OtherList")) + ".") in html
    assert 'Unknown scan of code &quot;{}…&quot;'.format(escape(BARCODE[:16])) in html
    assert_escaped(html, "Event", "List", "OtherList", "DoorName")
    assert 'Auto check-in rule <a href="{}">#{}</a>'.format(
        rules(event, "{}/".format(hostile_event["described"].pk)), hostile_event["described"].pk) in html

    # the dashboard's latest entries: the rule applied
    dashboard_logs = get(staff, control(event, "dashboard/partials/logs"))
    assert "The auto check-in rule has been applied" in dashboard_logs
    assert_escaped(dashboard_logs, "OtherList")


def test_checkin_log_shows_the_raw_barcode_escaped(staff, hostile_event):
    """pretix's check-in log, where the desk's refused scans appear with the code as scanned."""
    html = get(staff, control(hostile_event["event"], "checkins/"))
    assert escape(BARCODE) in html
    assert_escaped(html, "List")
