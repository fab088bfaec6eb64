"""The auto_checkin_rules REST resource as a client sees it."""
import json

import pytest
from pretix.base.models import (
    CheckinList, Event, Item, LogEntry, Organizer, SalesChannel,
)
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule
from rest_framework.test import APIClient

from pretix_desk.models import AutoCheckinRule

from .conftest import team_client


def url(event, rule=None):
    base = f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/auto_checkin_rules/"
    return f"{base}{rule.pk if hasattr(rule, 'pk') else rule}/" if rule is not None else base


def as_json(**overrides):
    data = {
        "list": None, "mode": "placed",
        "all_sales_channels": True, "limit_sales_channels": [],
        "all_products": True, "limit_products": [], "limit_variations": [],
        "all_payment_methods": True, "limit_payment_methods": [],
    }
    data.update(overrides)
    return data


@pytest.fixture
def full_rule(event, clist, ticket, tshirt, box):
    r = AutoCheckinRule.objects.create(
        event=event, list=clist, mode="paid", all_sales_channels=False, all_products=False,
        all_payment_methods=False, limit_payment_methods=["paypal"],
    )
    r.limit_sales_channels.set([box])
    r.limit_products.set([ticket])
    r.limit_variations.set([tshirt.variations.first()])
    return r


def full_json(rule, clist, ticket, tshirt):
    return as_json(
        id=rule.pk, list=clist.pk, mode="paid", all_sales_channels=False,
        limit_sales_channels=["box"], all_products=False, limit_products=[ticket.pk],
        limit_variations=[tshirt.variations.first().pk], all_payment_methods=False,
        limit_payment_methods=["paypal"],
    )


def snapshot():
    """Everything a failed write must leave alone."""
    return (
        [(r.pk, r.mode, r.list_id, r.all_payment_methods, r.limit_payment_methods,
          sorted(r.limit_products.values_list("pk", flat=True)))
         for r in AutoCheckinRule.objects.order_by("pk")],
        LogEntry.objects.count(),
    )


# --- reading --------------------------------------------------------------------------------


def test_list_is_paginated_envelope_ordered_by_id(token_client, event, full_rule, clist, ticket, tshirt):
    second = AutoCheckinRule.objects.create(event=event)
    resp = token_client.get(url(event))
    assert resp.status_code == 200
    assert resp.json() == {
        "count": 2, "next": None, "previous": None,
        "results": [full_json(full_rule, clist, ticket, tshirt), as_json(id=second.pk)],
    }


def test_pages(token_client, event):
    AutoCheckinRule.objects.bulk_create([AutoCheckinRule(event=event) for _ in range(51)])
    first = token_client.get(url(event)).json()
    assert first["count"] == 51 and len(first["results"]) == 50 and first["next"].endswith("?page=2")
    second = token_client.get(url(event) + "?page=2").json()
    assert len(second["results"]) == 1 and second["next"] is None
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert ids == sorted(ids)


def test_detail(token_client, event, full_rule, clist, ticket, tshirt):
    resp = token_client.get(url(event, full_rule))
    assert resp.status_code == 200
    assert resp.json() == full_json(full_rule, clist, ticket, tshirt)


def test_detail_of_another_event_is_404(token_client, event, other_event):
    foreign = AutoCheckinRule.objects.create(event=other_event)
    assert token_client.get(url(event, foreign)).status_code == 404
    assert token_client.patch(url(event, foreign), {"mode": "paid"}, format="json").status_code == 404
    assert token_client.delete(url(event, foreign)).status_code == 404
    assert AutoCheckinRule.objects.filter(pk=foreign.pk, mode="placed").exists()


# --- writing --------------------------------------------------------------------------------


def test_create(token_client, event, clist, ticket, tshirt, box):
    body = as_json(list=clist.pk, all_sales_channels=False, limit_sales_channels=["box"],
                   all_products=False, limit_products=[ticket.pk],
                   limit_variations=[tshirt.variations.first().pk])
    resp = token_client.post(url(event), body, format="json")
    assert resp.status_code == 201, resp.content
    rule = AutoCheckinRule.objects.get()
    assert resp.json() == {**body, "id": rule.pk}
    assert rule.event == event and rule.list == clist
    assert list(rule.limit_sales_channels.all()) == [box]
    assert list(rule.limit_products.all()) == [ticket]
    log = LogEntry.objects.get(action_type="pretix_desk.rule.added")
    assert log.content_object == rule and log.api_token is not None
    assert json.loads(log.data) == resp.json()  # the log records the rule as the API shows it
    assert str(log.display()) == "The auto check-in rule has been created."
    assert f'/desk/rules/{rule.pk}/">#{rule.pk}</a>' in log.display_object


def test_create_with_empty_body_uses_defaults(token_client, event):
    resp = token_client.post(url(event), {}, format="json")
    assert resp.status_code == 201
    assert resp.json() == as_json(id=AutoCheckinRule.objects.get().pk)


def test_patch_changes_only_what_it_names(token_client, event, full_rule, clist, ticket, tshirt):
    resp = token_client.patch(url(event, full_rule), {"limit_payment_methods": ["banktransfer"]},
                              format="json")
    assert resp.status_code == 200
    assert resp.json() == {**full_json(full_rule, clist, ticket, tshirt),
                           "limit_payment_methods": ["banktransfer"]}
    log = LogEntry.objects.get(action_type="pretix_desk.rule.changed")
    assert log.content_object == full_rule
    assert str(log.display()) == "The auto check-in rule has been changed."


def test_patch_validates_the_merged_rule(token_client, event, full_rule):
    before = snapshot()
    resp = token_client.patch(url(event, full_rule), {"mode": "placed"}, format="json")
    assert resp.status_code == 400
    assert resp.json() == {"non_field_errors": ["all_payment_methods should be used for mode=placed"]}
    assert snapshot() == before
    # Changing both at once is fine.
    resp = token_client.patch(url(event, full_rule), {"mode": "placed", "all_payment_methods": True},
                              format="json")
    assert resp.status_code == 200 and resp.json()["mode"] == "placed"


def test_put_resets_omitted_fields(token_client, event, full_rule, ticket):
    resp = token_client.put(url(event, full_rule), {"mode": "paid", "limit_products": [ticket.pk]},
                            format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json() == as_json(id=full_rule.pk, mode="paid", limit_products=[ticket.pk])
    full_rule.refresh_from_db()
    assert full_rule.list is None and full_rule.all_payment_methods and full_rule.limit_payment_methods == []
    assert not full_rule.limit_sales_channels.exists() and not full_rule.limit_variations.exists()


def test_delete(token_client, event, full_rule):
    resp = token_client.delete(url(event, full_rule))
    assert resp.status_code == 204
    assert not AutoCheckinRule.objects.exists()
    log = LogEntry.objects.get(action_type="pretix_desk.rule.deleted")
    assert json.loads(log.data)["id"] == full_rule.pk
    assert str(log.display()) == "The auto check-in rule has been deleted."
    assert "(deleted)" in log.display_object


def test_payment_methods_of_the_event(token_client, event):
    # Bank transfer and PayPal are enabled on the event (hybrid plugins whose organizer
    # switch is off in this fixture); core methods are always there.
    for method in ("banktransfer", "paypal", "manual", "boxoffice"):
        resp = token_client.post(url(event), as_json(mode="paid", all_payment_methods=False,
                                                     limit_payment_methods=[method]), format="json")
        assert resp.status_code == 201, (method, resp.content)
    resp = token_client.post(url(event), as_json(mode="paid", all_payment_methods=False,
                                                 limit_payment_methods=["paypal", "paypal"]), format="json")
    assert resp.json()["limit_payment_methods"] == ["paypal"]


# --- invalid input ----------------------------------------------------------------------------


@pytest.fixture
def foreign(organizer, other_event):
    other_org = Organizer.objects.create(name="Else", slug="else")
    shirt = Item.objects.create(event=other_event, name="Other shirt", default_price=1)
    return {
        "list": CheckinList.objects.create(event=other_event, name="Other list"),
        "item": shirt,
        "variation": shirt.variations.create(value="L"),
        "channel": SalesChannel.objects.create(organizer=other_org, identifier="kiosk", label="Kiosk",
                                               type="web"),
    }


def _invalid_bodies(foreign):
    return [
        ({"list": foreign["list"].pk}, "list"),
        ({"limit_products": [foreign["item"].pk]}, "limit_products"),
        ({"limit_variations": [foreign["variation"].pk]}, "limit_variations"),
        ({"all_sales_channels": False, "limit_sales_channels": ["kiosk"]}, "limit_sales_channels"),
        ({"mode": "paid", "all_payment_methods": False, "limit_payment_methods": ["bitcoin"]},
         "limit_payment_methods"),
        ({"mode": "paid", "all_payment_methods": False, "limit_payment_methods": ["paypal_settings"]},
         "limit_payment_methods"),
        ({"mode": "paid", "limit_payment_methods": "paypal"}, "limit_payment_methods"),
        ({"mode": "later"}, "mode"),
        ({"all_products": "perhaps"}, "all_products"),
        ({"all_products": None}, "all_products"),
        ({"list": "main"}, "list"),
        ({"list": True}, "list"),
        ({"limit_products": "1"}, "limit_products"),
        ({"limit_products": ["x"]}, "limit_products"),
        ({"limit_sales_channels": [{"identifier": "web"}]}, "limit_sales_channels"),
        ({"mode": "placed", "all_payment_methods": False}, "non_field_errors"),
    ]


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_invalid_input_is_400_keyed_by_field_and_writes_nothing(token_client, event, full_rule,
                                                                foreign, method):
    before = snapshot()
    target = url(event) if method == "post" else url(event, full_rule)
    for body, field in _invalid_bodies(foreign):
        resp = getattr(token_client, method)(target, body, format="json")
        assert resp.status_code == 400, (body, resp.content)
        assert field in resp.json(), (body, resp.json())
    assert snapshot() == before


def test_error_messages_name_the_problem(token_client, event, foreign):
    resp = token_client.post(url(event), {"mode": "paid", "all_payment_methods": False,
                                          "limit_payment_methods": ["paypal", "bitcoin"]}, format="json")
    assert resp.json()["limit_payment_methods"][0].startswith('Unknown payment method: "bitcoin".')
    pk = foreign["list"].pk
    resp = token_client.post(url(event), {"list": pk}, format="json")
    assert resp.json() == {"list": [f'Invalid pk "{pk}" - object does not exist.']}
    resp = token_client.post(url(event), {"limit_sales_channels": ["kiosk"]}, format="json")
    assert resp.json() == {"limit_sales_channels": ["Object with identifier=kiosk does not exist."]}


def test_body_that_is_not_json(token_client, event, full_rule):
    before = snapshot()
    # The reference's own PATCH example carries a trailing comma.
    resp = token_client.generic("PATCH", url(event, full_rule), '{\n  "mode": "paid",\n}',
                                content_type="application/json")
    assert resp.status_code == 400
    assert "JSON parse error" in resp.json()["detail"]
    resp = token_client.generic("POST", url(event), "mode=paid", content_type="application/json")
    assert resp.status_code == 400
    assert snapshot() == before


# --- authentication and permissions -------------------------------------------------------------


def test_without_credentials_401(event, full_rule):
    client = APIClient()
    assert client.get(url(event)).status_code == 401
    assert client.post(url(event), {}, format="json").status_code == 401


def test_without_permission_403(organizer, event, full_rule):
    client = team_client(organizer, permissions=["event.orders:read", "event.orders:checkin"])
    assert client.get(url(event)).status_code == 403
    assert client.get(url(event, full_rule)).status_code == 403
    assert client.delete(url(event, full_rule)).status_code == 403
    assert AutoCheckinRule.objects.filter(pk=full_rule.pk).exists()


def test_event_outside_the_teams_events_403(organizer, event, other_event, full_rule):
    client = team_client(organizer, permissions=["event.settings.general:write"], events=[other_event])
    assert client.get(url(event)).status_code == 403
    assert client.get(url(other_event)).status_code == 200


def test_settings_permission_is_enough(organizer, event, full_rule):
    client = team_client(organizer, permissions=["event.settings.general:write"])
    assert client.get(url(event)).status_code == 200
    assert client.patch(url(event, full_rule), {"list": None}, format="json").status_code == 200


def test_session_of_a_control_panel_user(client, admin_team, admin_user, event, full_rule):
    client.login(email="admin@example.org", password="admin")
    resp = client.get(url(event))
    assert resp.status_code == 200 and resp.json()["count"] == 1


# --- living beside pretix's bundled plugin ------------------------------------------------------


@pytest.fixture
def stock_event(organizer):
    from django.utils.timezone import now

    return Event.objects.create(organizer=organizer, name="Stock", slug="stock", date_from=now(),
                                plugins="pretix.plugins.autocheckin,pretix.plugins.banktransfer")


def test_events_without_pretix_desk_get_stock_pretix(token_client, event, stock_event, full_rule):
    stock_list = CheckinList.objects.create(event=stock_event, name="Stock list")
    bundled = BundledRule.objects.create(event=stock_event, list=stock_list, mode="placed")

    listing = token_client.get(url(stock_event)).json()
    assert [r["id"] for r in listing["results"]] == [bundled.pk]
    assert listing["results"][0]["list"] == stock_list.pk

    resp = token_client.post(url(stock_event), {"list": stock_list.pk, "mode": "paid"}, format="json")
    assert resp.status_code == 201
    created = BundledRule.objects.get(pk=resp.json()["id"])
    assert created.event == stock_event and created.mode == "paid"
    assert LogEntry.objects.filter(action_type="pretix.plugins.autocheckin.rule.added").count() == 1

    assert token_client.delete(url(stock_event, bundled)).status_code == 204
    # Our rules were never involved.
    assert list(AutoCheckinRule.objects.all()) == [full_rule]
    assert not LogEntry.objects.filter(action_type__startswith="pretix_desk.").exists()


def test_events_with_pretix_desk_never_touch_bundled_rules(token_client, event, full_rule):
    event.plugins += ",pretix.plugins.autocheckin"
    event.save()
    bundled = BundledRule.objects.create(event=event, mode="placed")

    listing = token_client.get(url(event)).json()
    assert [r["id"] for r in listing["results"]] == [full_rule.pk]
    assert token_client.post(url(event), {}, format="json").status_code == 201
    assert token_client.delete(url(event, full_rule)).status_code == 204
    assert list(BundledRule.objects.all()) == [bundled]
    assert AutoCheckinRule.objects.count() == 1
