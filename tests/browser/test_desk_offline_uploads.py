"""What the door did offline reaches pretix's record, in a real browser: two desks that admit
the same ticket offline both end up in pretix (one entry forced) and both show the conflict;
an offline refusal is recorded as a failed scan; uploads the server fails on hold back
nothing; an add-on handed out twice is shown, not parked. Each test ends by counting
pretix's check-ins."""
import pytest
from django_scopes import scopes_disabled

from pretix_desk.desk.redeem import redeem
from pretix_desk.models import Redemption
from tests.browser.conftest import login, new_context, open_desk
from tests.browser.desk_page_helpers import SCAN, storage_snapshot
from tests.browser.test_desk_scanning import checkins, result_state, wedge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def go_offline(context, page):
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")


def uploaded_everything(context, page):
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)


def test_two_desks_admit_the_same_ticket_offline_pretix_keeps_both_and_both_show_the_conflict(
        browser, live_server, desk_data):
    paid = desk_data["paid"]
    desks = []
    try:
        for _ in range(2):
            context = new_context(browser, live_server)
            page = context.new_page()
            page.on("pageerror", lambda err: print("pageerror:", err))
            login(page, desk_data["user"])
            open_desk(page, desk_data)
            desks.append((context, page))
        (first_context, first), (second_context, second) = desks
        for context, page in desks:
            go_offline(context, page)
        for context, page in desks:
            wedge(page, paid.secret)
            assert "Ada Lovelace" in result_state(page, "ok")
            page.wait_for_selector("body[data-queued='1']")
        assert not checkins(paid)

        # the first desk's network comes back first: an ordinary check-in
        uploaded_everything(first_context, first)
        (entry,) = checkins(paid)
        assert entry.successful and not entry.forced and entry.force_sent
        # then the second's: the ticket was used meanwhile, but the person is inside
        uploaded_everything(second_context, second)
        done = checkins(paid)
        assert len(done) == 2 and all(c.successful and c.force_sent for c in done)
        assert sorted(c.forced for c in done) == [False, True]

        # the second desk learnt of it from its upload's answer...
        conflict = second.locator("#desk-conflicts li")
        conflict.wait_for()
        text = conflict.inner_text()
        assert "Ada Lovelace" in text and "admitted offline at" in text and "already used at" in text
        assert "forced check-in" in text
        # ...the first from its next download, which names its own upload
        first.click("#desk-sync")
        conflict = first.locator("#desk-conflicts li")
        conflict.wait_for(timeout=30000)
        text = conflict.inner_text()
        assert "Ada Lovelace" in text and "admitted here at" in text and "also admitted at" in text
        for page in (first, second):
            assert page.locator("#desk-refused").is_hidden()
            assert page.get_attribute("body", "data-queued") == "0"
            assert page.locator("#desk-failing").is_hidden()
            # the upload is kept for a day as done: it counts nowhere
            (item,) = storage_snapshot(page)["queue"]
            assert item["state"] == "uploaded" and item["nonce"] in {c.nonce for c in done}

        # kept across a reload, dismissed one by one, and a full download does not bring it back
        first.reload()
        first.wait_for_selector("body[data-desk-ready='1']")
        first.locator("#desk-conflicts li", has_text="Ada Lovelace").wait_for()
        first.locator("#desk-conflicts li button").click()
        first.locator("#desk-conflicts").wait_for(state="hidden")
        first.click("#desk-forget")
        first.wait_for_selector("body:not([data-last-sync])")
        with first.expect_response(lambda r: "/desk/preload/" in r.url and "since=" not in r.url):
            first.click("#desk-sync")
        first.wait_for_selector("body[data-last-sync]")
        assert first.locator("#desk-conflicts").is_hidden()
        assert len(checkins(paid)) == 2
    finally:
        for context, _page in desks:
            context.close()


def test_an_offline_refusal_is_uploaded_and_recorded_as_a_failed_scan(desk_page, desk_data, context):
    page = desk_page
    go_offline(context, page)
    wedge(page, desk_data["unpaid"].secret)
    text = result_state(page, "error")
    assert "Not paid" in text and "Answered offline" in text
    page.wait_for_selector("body[data-queued='1']")
    (item,) = storage_snapshot(page)["queue"]
    offline = item["body"]["offline"]
    assert offline["answer"] == "error" and offline["reason"] == "unpaid" and offline["sync_token"]
    wedge(page, desk_data["second"].secret)
    result_state(page, "ok")
    page.wait_for_selector("body[data-queued='2']")
    assert not checkins(desk_data["unpaid"])

    uploaded_everything(context, page)
    (failed,) = checkins(desk_data["unpaid"])
    assert not failed.successful and failed.error_reason == "unpaid"
    assert failed.nonce == item["nonce"]
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert page.locator("#desk-refused").is_hidden()
    assert page.locator("#desk-conflicts").is_hidden()


def test_three_uploads_the_server_fails_on_hold_back_nothing(desk_page, desk_data, context):
    page = desk_page
    failing = {desk_data[k].secret: k for k in ("paid", "grace", "unpaid")}
    go_offline(context, page)
    for key in ("paid", "grace", "unpaid", "second"):
        wedge(page, desk_data[key].secret)
        result_state(page, "error" if key == "unpaid" else "ok")
    page.wait_for_selector("body[data-queued='4']")

    # The queue holds no codes (they are sealed to the server): its items name the position.
    keys = {desk_data[k].pk: k for k in ("paid", "grace", "unpaid", "second")}
    key_of_nonce = {item["nonce"]: keys[item["owner"]] for item in storage_snapshot(page)["queue"]}
    sent = []

    def server_fails_on_some(route):
        body = route.request.post_data_json or {}
        assert "access_code" not in body and body["sealed"]["ct"]
        key = key_of_nonce[body["nonce"]]
        sent.append(key)
        if key in failing.values():
            route.fulfill(status=500, content_type="text/html", body="<h1>Server Error (500)</h1>")
        else:
            route.continue_()

    context.route(SCAN, server_fails_on_some)
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='3']", timeout=30000)
    # the good one went up in the same round, right behind the three failures
    assert sent == ["paid", "grace", "unpaid", "second"]
    assert len(checkins(desk_data["second"], successful=True)) == 1
    shown = page.locator("#desk-failing li")
    shown.first.wait_for()
    assert shown.count() == 3
    texts = shown.all_inner_texts()
    for name in ("Ada Lovelace", "Grace Hopper", "Charles Babbage"):
        assert any(name in t and "server error" in t and "next try at" in t for t in texts), (name, texts)
    assert page.get_attribute("#desk-net", "data-state") in ("online", "syncing")
    assert page.locator("#desk-refused").is_hidden()
    for key in failing.values():
        assert not checkins(desk_data[key])
    # the queue holds no names: after a reload they come from the search index of this
    # login (it may view orders)
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    shown.first.wait_for()
    texts = shown.all_inner_texts()
    for name in ("Ada Lovelace", "Grace Hopper", "Charles Babbage"):
        assert any(name in t and "server error" in t for t in texts), (name, texts)

    # the server is well again: "Retry now" does not wait for the items' next try
    context.unroute(SCAN)
    page.click("#desk-failing button.desk-retry")
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    page.locator("#desk-failing").wait_for(state="hidden")
    assert len(checkins(desk_data["paid"], successful=True)) == 1
    assert len(checkins(desk_data["grace"], successful=True)) == 1
    assert [c.successful for c in checkins(desk_data["unpaid"])] == [False]
    assert len(checkins(desk_data["second"])) == 1


def test_an_add_on_handed_out_offline_and_meanwhile_elsewhere_is_a_conflict_not_a_parked_upload(
        desk_page, desk_data, context):
    page = desk_page
    paid, shirt = desk_data["paid"], desk_data["addon"]
    go_offline(context, page)
    wedge(page, paid.secret)
    result_state(page, "ok")
    page.locator("#desk-card button.desk-handout").click()
    page.locator("#desk-card .desk-handed").wait_for()
    page.wait_for_selector("body[data-queued='2']")
    with scopes_disabled():  # meanwhile another desk hands the T-shirt out, online
        outcome = redeem(checkin_list=desk_data["list"], access_code=paid.secret, line_item_id=shirt.pk,
                         user=desk_data["user"])
        assert outcome.status == "redeemed"

    uploaded_everything(context, page)
    conflict = page.locator("#desk-conflicts li[data-role='redeem']")
    conflict.wait_for()
    text = conflict.inner_text()
    assert "Ada Lovelace" in text and "T-shirt handed out offline at" in text and "already handed out at" in text
    assert page.locator("#desk-refused").is_hidden()
    with scopes_disabled():
        assert Redemption.objects.filter(position=shirt).count() == 1
    assert len(checkins(paid, successful=True)) == 1
    conflict.locator("button").click()
    page.locator("#desk-conflicts").wait_for(state="hidden")
