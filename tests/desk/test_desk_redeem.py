"""POST desk/redeem/ and desk/redeem/annul/: handing out add-ons once."""
import pytest
from django.test import RequestFactory
from pretix.base.models import CheckinList, LogEntry, Order

from pretix_desk.desk.order_view import order_redemptions_html
from pretix_desk.models import Redemption

from .conftest import desk_url, redeem


def annul(client, clist, **body):
    return client.post(desk_url(clist, "redeem-annul"), body, format="json")


@pytest.mark.django_db
def test_redeem_records_and_logs(client, clist, order, position, addon, admin_team):
    r = redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    assert r.status_code == 201, r.data
    red = Redemption.objects.get()
    assert red.position == addon and red.checkin_list == clist and red.annulled is None
    assert r.data["status"] == "redeemed"
    assert r.data["redemption"]["id"] == red.pk
    assert r.data["line_item"]["line_item_id"] == addon.pk
    assert r.data["line_item"]["redeemed"] is True
    assert r.data["attendee"]["position_id"] == position.pk
    entry = LogEntry.objects.get(action_type="pretix_desk.redeemed")
    assert entry.object_id == order.pk
    assert entry.api_token is not None
    assert "T-shirt" in str(entry.display())


@pytest.mark.django_db
def test_second_redeem_is_409_with_time(client, clist, position, addon):
    first = redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    r = redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    assert r.status_code == 409
    assert r.data == {"status": "error", "reason": "already_redeemed",
                      "redeemed_at": first.data["redemption"]["datetime"]}
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_redeemed_at_once_across_lists(client, clist, event, position, addon):
    other_list = CheckinList.objects.create(event=event, name="Side door", all_products=True)
    assert redeem(client, clist, access_code=position.secret, line_item_id=addon.pk).status_code == 201
    assert redeem(client, other_list, access_code=position.secret, line_item_id=addon.pk).status_code == 409


@pytest.mark.django_db
def test_nonce_replay(client, clist, position, addon):
    a = redeem(client, clist, access_code=position.secret, line_item_id=addon.pk, nonce="r1")
    b = redeem(client, clist, access_code=position.secret, line_item_id=addon.pk, nonce="r1")
    assert a.status_code == b.status_code == 201
    assert a.data == b.data
    assert Redemption.objects.count() == 1
    assert LogEntry.objects.filter(action_type="pretix_desk.redeemed").count() == 1


@pytest.mark.django_db
def test_only_the_attendees_addons(client, clist, position, pending_order):
    r = redeem(client, clist, access_code=position.secret, line_item_id=position.pk)
    assert r.status_code == 400 and r.data == {"status": "error", "reason": "line_item"}
    other_addon = pending_order.positions.get(positionid=2)
    r = redeem(client, clist, access_code=position.secret, line_item_id=other_addon.pk)
    assert r.data["reason"] == "line_item"
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_canceled_addon_is_not_a_line_item(client, clist, position, addon):
    addon.canceled = True
    addon.save()
    assert redeem(client, clist, access_code=position.secret, line_item_id=addon.pk).data["reason"] == "line_item"


@pytest.mark.django_db
def test_unpaid_and_canceled(client, clist, order, position, addon, pending_order):
    p = pending_order.positions.get(positionid=1)
    a = pending_order.positions.get(positionid=2)
    r = redeem(client, clist, access_code=p.secret, line_item_id=a.pk)
    assert r.status_code == 400 and r.data["reason"] == "unpaid"
    pending_order.valid_if_pending = True
    pending_order.save()
    assert redeem(client, clist, access_code=p.secret, line_item_id=a.pk).status_code == 201

    order.status = Order.STATUS_CANCELED
    order.save()
    r = redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    assert r.status_code == 400 and r.data["reason"] == "canceled"
    assert Redemption.objects.count() == 1


@pytest.mark.django_db
def test_unknown_code_is_404(client, clist, addon):
    r = redeem(client, clist, access_code="nope", line_item_id=addon.pk)
    assert r.status_code == 404 and r.data == {"status": "error", "reason": "invalid"}


@pytest.mark.django_db
def test_annul_then_redeem_again(client, clist, order, position, addon):
    assert annul(client, clist, access_code=position.secret, line_item_id=addon.pk).data["reason"] == "not_redeemed"
    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    r = annul(client, clist, access_code=position.secret, line_item_id=addon.pk)
    assert r.status_code == 200, r.data
    assert r.data["status"] == "annulled"
    assert r.data["line_item"]["redeemed"] is False
    assert Redemption.objects.get().annulled is not None
    assert LogEntry.objects.filter(action_type="pretix_desk.redemption.annulled", object_id=order.pk).exists()
    assert annul(client, clist, access_code=position.secret, line_item_id=addon.pk).status_code == 400
    assert redeem(client, clist, access_code=position.secret, line_item_id=addon.pk).status_code == 201
    assert Redemption.objects.count() == 2


@pytest.mark.django_db
def test_redemption_state_shows_in_scan_and_order_page(client, clist, order, position, addon, admin_user):
    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    r = client.post(desk_url(clist, "scan"), {"access_code": position.secret}, format="json")
    assert r.data["line_items"][1]["redeemed"] is True
    request = RequestFactory().get("/")
    request.user = admin_user
    html = order_redemptions_html(order=order, request=request)
    assert "T-shirt" in html and "#2" in html


@pytest.mark.django_db
@pytest.mark.parametrize("body,field", [
    ({"line_item_id": 1}, "access_code"),
    ({"access_code": "x"}, "line_item_id"),
    ({"access_code": "x", "line_item_id": "1"}, "line_item_id"),
    ({"access_code": "x", "line_item_id": True}, "line_item_id"),
    ({"access_code": "x", "line_item_id": 1.5}, "line_item_id"),
    ({"access_code": "x", "line_item_id": 10 ** 30}, "line_item_id"),
    ({"access_code": "x", "line_item_id": 0}, "line_item_id"),
    ({"access_code": "x", "line_item_id": 1, "datetime": "soon"}, "datetime"),
])
def test_malformed_redeem(client, clist, position, body, field):
    r = redeem(client, clist, **body)
    assert r.status_code == 400 and field in r.data
    assert not Redemption.objects.exists()


@pytest.mark.django_db
def test_order_page_in_control_panel_shows_redemptions(client, clist, order, position, addon, admin_team, admin_user):
    from django.test import Client

    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    browser = Client()
    browser.force_login(admin_user)
    r = browser.get(f"/control/event/{order.event.organizer.slug}/{order.event.slug}/orders/{order.code}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Handed out at the registration desk" in html  # the order_info panel
    assert "was handed out at the registration desk" in html  # the order's log
