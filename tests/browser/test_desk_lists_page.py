"""A desk that scans against two check-in lists at a gate: chosen once and remembered on the
device; online the server's first admitting list checks the ticket in, offline the downloads
of both lists answer the same way and the scans are queued for the list that admitted them.
Each test ends by counting pretix's check-ins."""
import pytest
from django_scopes import scopes_disabled
from pretix.base.models import CheckinList, Gate, Item

from tests.browser.conftest import login, wait_until_reloadable_offline
from tests.browser.desk_page_helpers import open_setup, queue_body, storage_snapshot
from tests.browser.test_desk_scanning import checkins, result_state, wedge
from tests.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_downloads(page, count):
    """Wait until a sync round has left count lists downloaded. Called after the lists were
    chosen: the round running then (if any) may lack one, the next one does not."""
    for _ in range(2):
        rounds = page.get_attribute("body", "data-sync-rounds") or "0"
        if storage_snapshot(page).get("meta") == count:
            return
        # the next round ended (body[data-sync-rounds], sync.js)
        page.wait_for_selector("body[data-sync-rounds]:not([data-sync-rounds='{}'])".format(rounds))
    assert storage_snapshot(page).get("meta") == count, "the desk did not download {} lists".format(count)


def test_two_lists_and_a_gate_online_and_offline(context, desk_data):
    event, main = desk_data["event"], desk_data["list"]
    with scopes_disabled():
        tshirt = Item.objects.get(event=event, name="T-shirt")
        shirts = CheckinList.objects.create(event=event, name="Shirts", all_products=False)
        shirts.limit_products.add(tshirt)
        CheckinList.objects.create(event=event, name="Staff", all_products=False)  # not chosen
        parking = Item.objects.create(event=event, name="Parking", default_price=5, admission=True)
        hall = Gate.objects.create(organizer=event.organizer, name="Hall", identifier="hall")
        Gate.objects.create(organizer=event.organizer, name="Side door", identifier="side")
        shirt_m = tshirt.variations.get(value="M")
        shirt1 = make_order(event, [{"item": tshirt, "variation": shirt_m}], code="SHIR1", name="Mary Shelley")
        shirt2 = make_order(event, [{"item": tshirt, "variation": shirt_m}], code="SHIR2", name="Percy Shelley")
        park1 = make_order(event, [parking], code="PARK1", name="Karl Benz")
        park2 = make_order(event, [parking], code="PARK2", name="Bertha Benz")
        shirt1, shirt2, park1, park2 = (o.positions.get() for o in (shirt1, shirt2, park1, park2))
    page = context.new_page()
    login(page, desk_data["user"])
    page.goto("/control/event/{}/{}/desk/".format(event.organizer.slug, event.slug))
    page.wait_for_selector("body[data-desk-ready='1']")
    page.select_option("#desk-list", str(main.pk))
    open_setup(page)
    page.locator("#desk-setup label", has_text="Shirts").locator("input").check()
    page.select_option("#desk-gate", "hall")
    summary = page.inner_text("#desk-setup summary")
    assert "Also: Shirts" in summary and "Gate: Hall" in summary
    wait_for_downloads(page, 2)

    # chosen once: a reload keeps lists and gate
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    summary = page.inner_text("#desk-setup summary")
    assert "Also: Shirts" in summary and "Gate: Hall" in summary

    # online: either list admits, neither refuses with the primary list's reason
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    wedge(page, shirt1.secret)
    assert "List: Shirts" in result_state(page, "ok")
    wedge(page, park1.secret)
    assert "Wrong ticket type" in result_state(page, "error")

    # offline: the same from both downloads
    wait_until_reloadable_offline(page)
    page.context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["grace"].secret)
    assert "offline" in result_state(page, "ok").lower()
    wedge(page, shirt2.secret)
    text = result_state(page, "ok")
    assert "offline" in text.lower() and "Percy Shelley" in text and "List: Shirts" in text
    wedge(page, desk_data["unpaid"].secret)  # refused by Main, not in Shirts: Main's answer
    text = result_state(page, "error")
    assert "Not paid" in text and "Answered offline" in text
    wedge(page, park2.secret)  # in neither download: never admitted offline
    assert "Cannot verify offline" in result_state(page, "unverified")
    page.wait_for_selector("body[data-queued='3']")
    queue = {queue_body(event, i)["access_code"]: i for i in storage_snapshot(page)["queue"]}
    assert set(queue) == {desk_data["grace"].secret, shirt2.secret, desk_data["unpaid"].secret}
    grace_item, shirt_item = queue[desk_data["grace"].secret], queue[shirt2.secret]
    assert (grace_item["list"], grace_item["body"]["other_lists"], grace_item["body"]["gate"]) == (main.pk, [shirts.pk], "hall")
    assert (shirt_item["list"], shirt_item["body"]["other_lists"], shirt_item["body"]["gate"]) == (shirts.pk, [main.pk], "hall")
    # the refusal is recorded on the list that answered, with the token of its download
    refusal = queue[desk_data["unpaid"].secret]
    assert (refusal["list"], "other_lists" in refusal["body"], refusal["body"]["gate"]) == (main.pk, False, "hall")
    assert refusal["body"]["offline"]["reason"] == "unpaid"

    page.context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert page.locator("#desk-refused").is_hidden()
    expected = {"paid": main, "grace": main}
    for key, clist in expected.items():
        (done,) = checkins(desk_data[key], successful=True)
        assert (done.list_id, done.gate_id) == (clist.pk, hall.pk), key
    for position in (shirt1, shirt2):
        (done,) = checkins(position, successful=True)
        assert (done.list_id, done.gate_id) == (shirts.pk, hall.pk)
    assert not checkins(park1, successful=True) and not checkins(park2)
    (refused,) = checkins(desk_data["unpaid"])
    assert (refused.successful, refused.error_reason, refused.list_id) == (False, "unpaid", main.pk)
