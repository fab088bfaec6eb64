"""Applying a rule to the orders that exist already: which orders, what it writes, and the
API and control panel around it (tasks run eagerly here; tests/test_rules_worker.py runs
them on a real Celery worker)."""
import datetime
import json
from decimal import Decimal

import pytest
from django.db import OperationalError
from pretix.base.models import (
    CachedFile, Checkin, CheckinList, LogEntry, Order, Team, User,
)

from pretix_desk import apply
from pretix_desk.models import AutoCheckinRule

from .conftest import make_order, team_client


def checkins(order):
    return sorted(
        (ci.position.positionid, ci.list.name)
        for ci in Checkin.all.filter(position__order=order).select_related("position", "list")
    )


@pytest.fixture
def anylist(event):
    return CheckinList.objects.create(event=event, name="Any", all_products=True)


@pytest.fixture
def orders(event, ticket, tshirt):
    """One order in each state, each with a ticket and a T-shirt."""
    made = {status: make_order(event, [ticket, tshirt], status=status, code=f"ORD{status.upper()}")
            for status in (Order.STATUS_PENDING, Order.STATUS_PAID, Order.STATUS_EXPIRED,
                           Order.STATUS_CANCELED)}
    made["approval"] = make_order(event, [ticket], status=Order.STATUS_PENDING, code="APPROVAL",
                                  require_approval=True)
    return made


# --- which orders -----------------------------------------------------------------------------


def test_placed_rule_covers_pending_and_paid_orders(event, clist, orders):
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    result = apply.apply_rule(rule=rule, dry_run=False)
    assert checkins(orders["n"]) == checkins(orders["p"]) == [(1, "Main")]
    assert checkins(orders["approval"]) == [(1, "Main")]  # order_placed fires for these, too
    assert checkins(orders["e"]) == checkins(orders["c"]) == []
    assert (result["orders"], result["orders_changed"], result["tickets"], result["checkins"]) == (3, 3, 3, 3)


def test_paid_rule_covers_paid_orders(event, clist, anylist, orders):
    rule = AutoCheckinRule.objects.create(event=event, mode="paid")
    result = apply.apply_rule(rule=rule, dry_run=False)
    assert checkins(orders["p"]) == [(1, "Any"), (1, "Main"), (2, "Any")]
    assert [checkins(orders[k]) for k in ("n", "e", "c", "approval")] == [[], [], [], []]
    assert result["lists"] == [
        {"id": clist.pk, "name": "Main", "checkins": 1}, {"id": anylist.pk, "name": "Any", "checkins": 2},
    ]
    assert (result["tickets"], result["checkins"]) == (2, 3)
    assert apply.describe(result) == "3 tickets have been checked in on 2 lists."


def test_rule_conditions_hold(event, ticket, clist, box):
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid", all_sales_channels=False,
                                          all_payment_methods=False, limit_payment_methods=["paypal"])
    rule.limit_sales_channels.set([box])
    web_paypal = make_order(event, [ticket], sales_channel="web")
    box_bank = make_order(event, [ticket], sales_channel="box")
    box_paypal = make_order(event, [ticket], sales_channel="box")
    box_refunded = make_order(event, [ticket], sales_channel="box")
    for order, provider, state in ((web_paypal, "paypal", "confirmed"), (box_bank, "banktransfer", "confirmed"),
                                   (box_paypal, "paypal", "confirmed"), (box_refunded, "paypal", "refunded")):
        order.payments.create(provider=provider, amount=Decimal("23.00"), state=state)
    apply.apply_rule(rule=rule, dry_run=False)
    assert [checkins(o) for o in (web_paypal, box_bank, box_paypal, box_refunded)] == [
        [], [], [(1, "Main")], [(1, "Main")],
    ]


def test_canceled_positions_stay_out(event, ticket, clist):
    order = make_order(event, [ticket, ticket])
    order.all_positions.filter(positionid=1).update(canceled=True)
    apply.apply_rule(rule=AutoCheckinRule.objects.create(event=event, list=clist), dry_run=False)
    assert checkins(order) == [(2, "Main")]


def test_other_events_orders_are_untouched(event, other_event, ticket, clist):
    other_ticket = other_event.items.create(name="Ticket", default_price=Decimal("1"))
    other_list = CheckinList.objects.create(event=other_event, name="Other")
    other = make_order(other_event, [other_ticket])
    apply.apply_rule(rule=AutoCheckinRule.objects.create(event=event), dry_run=False)
    assert checkins(other) == []
    assert not Checkin.objects.filter(list=other_list).exists()


# --- safe to run twice, dry run, batches ------------------------------------------------------


def test_dry_run_counts_and_writes_nothing(event, ticket, clist):
    for _ in range(3):
        make_order(event, [ticket, ticket])
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    logs = LogEntry.objects.count()
    result = apply.apply_rule(rule=rule, dry_run=True)
    assert (result["dry_run"], result["orders"], result["tickets"], result["checkins"]) == (True, 3, 6, 6)
    assert apply.describe(result) == "This will check in 6 tickets on list Main."
    assert not Checkin.all.exists()
    assert LogEntry.objects.count() == logs


def test_second_run_and_other_rules_check_in_nothing_twice(event, ticket, clist, anylist):
    first = make_order(event, [ticket])
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    assert apply.apply_rule(rule=rule, dry_run=False)["checkins"] == 1
    make_order(event, [ticket])
    again = apply.apply_rule(rule=rule, dry_run=False)
    assert again["checkins"] == 1 and again["orders"] == 2  # only the new order's ticket
    everywhere = AutoCheckinRule.objects.create(event=event)
    assert apply.apply_rule(rule=everywhere, dry_run=True)["lists"] == [
        {"id": anylist.pk, "name": "Any", "checkins": 2},
    ]
    assert apply.describe(apply.apply_rule(rule=rule, dry_run=True)) == (
        "Nothing to do: every ticket this rule covers is checked in already.")
    assert checkins(first) == [(1, "Main")]


def test_a_ticket_scanned_already_is_not_checked_in_again(event, ticket, clist):
    # As for the live rules: a ticket is never checked in twice on one list, whether its
    # entry was scanned or automatic (tests/stack/test_races.py found the opposite).
    order = make_order(event, [ticket])
    Checkin.objects.create(position=order.positions.get(), list=clist)
    apply.apply_rule(rule=AutoCheckinRule.objects.create(event=event, list=clist), dry_run=False)
    assert Checkin.objects.filter(position__order=order).count() == 1
    assert not Checkin.objects.filter(position__order=order, auto_checked_in=True).exists()


def test_batches_report_progress(event, ticket, clist):
    made = [make_order(event, [ticket]) for _ in range(7)]
    seen = []
    result = apply.apply_rule(rule=AutoCheckinRule.objects.create(event=event, list=clist), dry_run=False,
                              batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert result["checkins"] == 7 and all(checkins(o) == [(1, "Main")] for o in made)


def test_order_log_and_rule_log(event, ticket, clist, admin_user):
    order = make_order(event, [ticket])
    modified = order.last_modified
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    apply.apply_rule(rule=rule, dry_run=False, user=admin_user)
    entry = LogEntry.objects.get(action_type="pretix.event.checkin", object_id=order.pk)
    data = json.loads(entry.data)
    assert (data["list"], data["positionid"], data["auto_checked_in"]) == (clist.pk, 1, True)
    order.refresh_from_db()
    assert order.last_modified > modified  # pretixSCAN syncs by it
    applied = LogEntry.objects.get(action_type="pretix_desk.rule.applied")
    assert applied.content_object == rule and applied.user == admin_user
    assert json.loads(applied.data)["checkins"] == 1
    assert str(applied.display()) == ("The auto check-in rule has been applied to existing orders. "
                                      "1 ticket has been checked in on list Main.")


# --- API -------------------------------------------------------------------------------------


def api(event, rule):
    return f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/auto_checkin_rules/{rule.pk}/apply/"


def test_api_dry_run_then_apply(token_client, event, ticket, clist):
    order = make_order(event, [ticket, ticket])
    rule = AutoCheckinRule.objects.create(event=event, list=clist)

    resp = token_client.post(api(event, rule), {"dry_run": True}, format="json")
    assert resp.status_code == 202, resp.content
    assert resp.data["result"].startswith(f"http://testserver{api(event, rule)}")
    result = token_client.get(resp.data["result"])
    assert result.status_code == 200
    assert result.data == {
        "status": "done", "rule": rule.pk, "mode": "placed", "dry_run": True, "orders": 1,
        "orders_changed": 1, "tickets": 2, "checkins": 2,
        "lists": [{"id": clist.pk, "name": "Main", "checkins": 2}],
        "message": "This will check in 2 tickets on list Main.",
    }
    assert checkins(order) == []

    resp = token_client.post(api(event, rule), {}, format="json")
    assert resp.status_code == 202
    result = token_client.get(resp.data["result"])
    assert result.data["dry_run"] is False and result.data["checkins"] == 2
    assert result.data["message"] == "2 tickets have been checked in on list Main."
    assert checkins(order) == [(1, "Main"), (2, "Main")]
    log = LogEntry.objects.get(action_type="pretix_desk.rule.applied")
    assert log.api_token is not None and log.content_object == rule


def test_api_result_is_only_for_whoever_started_it(token_client, organizer, event, clist):
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    url = token_client.post(api(event, rule), {"dry_run": True}, format="json").data["result"]
    other = team_client(organizer, permissions=["event.settings.general:write"])
    assert other.get(url).status_code == 410
    # Another rule's URL with this result is no result at all.
    second = AutoCheckinRule.objects.create(event=event)
    assert token_client.get(url.replace(f"/{rule.pk}/apply/", f"/{second.pk}/apply/")).status_code == 404
    assert token_client.get(url.rsplit("/", 2)[0] + "/not-a-uuid/").status_code == 404


def test_api_result_is_kept_for_a_day(token_client, event, clist):
    """docs/rules-api.rst: the result can be fetched for a day (pretix's clean-up of expired
    files takes it then)."""
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    url = token_client.post(api(event, rule), {"dry_run": True}, format="json").data["result"]
    assert token_client.get(url).status_code == 200
    cf = CachedFile.objects.get(pk=url.rstrip("/").rsplit("/", 1)[1])
    assert abs(cf.expires - cf.date - datetime.timedelta(days=1)) < datetime.timedelta(seconds=1)


def test_api_apply_errors(token_client, organizer, event, other_event, clist):
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    assert token_client.post(api(event, rule), {"dry_run": "maybe"}, format="json").status_code == 400
    foreign = AutoCheckinRule.objects.create(event=other_event)
    assert token_client.post(api(event, foreign), {}, format="json").status_code == 404
    door = team_client(organizer, permissions=["event.orders:checkin"])
    assert door.post(api(event, rule), {}, format="json").status_code == 403
    event.plugins = "pretix.plugins.autocheckin"
    event.save()
    assert token_client.post(api(event, rule), {}, format="json").status_code == 404
    assert not Checkin.all.exists() and not CachedFile.objects.exists()


# --- control panel ------------------------------------------------------------------------------


def page(event, rule, suffix=""):
    return f"/control/event/{event.organizer.slug}/{event.slug}/desk/rules/{rule.pk}/{suffix}"


@pytest.fixture
def staff(client, admin_team, admin_user):
    client.login(email="admin@example.org", password="admin")
    return client


def test_control_panel_dry_run_then_apply(staff, event, ticket, clist, anylist):
    orders = [make_order(event, [ticket]) for _ in range(2)]
    rule = AutoCheckinRule.objects.create(event=event, mode="paid")
    edit = staff.get(page(event, rule)).content.decode()
    assert f'href="{page(event, rule, "apply")}"' in edit
    intro = staff.get(page(event, rule, "apply")).content.decode()
    assert "data-asynctask" in intro and 'name="dry_run" value="true"' in intro

    resp = staff.post(page(event, rule, "apply"), {"dry_run": "true"})
    assert resp.status_code == 302 and "?result=" in resp["Location"]
    confirm = staff.get(resp["Location"]).content.decode()
    assert "This will check in 4 tickets on 2 lists." in confirm
    assert "Main: 2 tickets" in confirm and "Any: 2 tickets" in confirm
    assert 'name="dry_run" value="false"' in confirm
    assert not Checkin.all.exists()

    resp = staff.post(page(event, rule, "apply"), {"dry_run": "false"}, follow=True)
    assert "4 tickets have been checked in on 2 lists." in resp.content.decode()
    assert resp.redirect_chain[-1][0] == page(event, rule)
    assert all(checkins(o) == [(1, "Any"), (1, "Main")] for o in orders)
    assert LogEntry.objects.get(action_type="pretix_desk.rule.applied").user.email == "admin@example.org"


def test_control_panel_ajax_answers_like_pretix_async_actions(staff, event, ticket, clist):
    make_order(event, [ticket])
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    resp = staff.post(page(event, rule, "apply"), {"dry_run": "true", "ajax": "1"})
    data = resp.json()
    assert data["ready"] and data["success"] and "?result=" in data["redirect"]


def test_control_panel_result_of_another_session_is_not_shown(staff, client, event, clist, admin_user):
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    location = staff.post(page(event, rule, "apply"), {"dry_run": "true"})["Location"]
    assert "Nothing to do" in staff.get(location).content.decode()
    staff.logout()
    staff.login(email="admin@example.org", password="admin")  # a new session
    html = staff.get(location).content.decode()
    assert "Nothing to do" not in html and 'name="dry_run" value="true"' in html


def test_control_panel_apply_needs_settings_permission(client, organizer, event, clist):
    user = User.objects.create_user("door@example.org", "door")
    team = Team.objects.create(organizer=organizer, name="Door", all_events=True,
                               limit_event_permissions={"event.orders:checkin": True})
    team.members.add(user)
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    client.login(email="door@example.org", password="door")
    assert client.get(page(event, rule, "apply")).status_code == 403
    assert client.post(page(event, rule, "apply"), {"dry_run": "false"}).status_code == 403


def test_control_panel_rule_list_links_apply(staff, event, clist):
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    html = staff.get(f"/control/event/{event.organizer.slug}/{event.slug}/desk/rules/").content.decode()
    assert f'href="{page(event, rule, "apply")}"' in html


def test_control_panel_counts_unless_told_to_check_in(staff, event, ticket, clist):
    make_order(event, [ticket])
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    assert "?result=" in staff.post(page(event, rule, "apply"), {})["Location"]
    assert not Checkin.all.exists()


def test_numbers_are_grouped():
    result = {"dry_run": True, "checkins": 1240, "lists": [
        {"id": 1, "name": "A", "checkins": 1000}, {"id": 2, "name": "B", "checkins": 240},
    ]}
    assert apply.describe(result) == "This will check in 1,240 tickets on 2 lists."


def test_a_batch_that_fails_for_another_reason_is_not_run_again(event, ticket, clist, monkeypatch):
    """Only a deadlock's victim runs again (tests/test_rules_concurrency.py drives a real
    one on PostgreSQL); any other database error ends the run."""
    make_order(event, [ticket])
    calls = []

    def always_broken(**kwargs):
        calls.append(kwargs["order_ids"])
        raise OperationalError("disk full")

    monkeypatch.setattr(apply.engine, "check_in_orders", always_broken)
    with pytest.raises(OperationalError):
        apply.apply_rule(rule=AutoCheckinRule.objects.create(event=event), dry_run=False)
    assert len(calls) == 1
