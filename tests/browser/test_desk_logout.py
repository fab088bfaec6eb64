"""Logging out, however it happens, and the queue sealed to the server (docs/offline.rst,
"Sealed records", "What is stored where"): the queue at rest names nobody; pretix's own
logout in another tab, a session ended elsewhere, or opening the desk after a logout removes
the downloaded lists, the search index, the conflicts and the scans kept after upload, keeps
the sealed queue, and the next login (the same user or another) uploads it. Each test ends by
counting pretix's check-ins."""
import json
import re
import time
from importlib import import_module

import pytest
from django.conf import settings
from django_scopes import scopes_disabled
from pretix.base.models import Question, User

from pretix_desk.desk import envelope
from pretix_desk.models import Redemption
from tests.browser.conftest import (
    PASSWORD, login, open_desk, wait_until_reloadable_offline,
)
from tests.browser.desk_page_helpers import cancel_meanwhile, desk_url, idb_contents
from tests.browser.test_desk_questions_page import add_question, answers_of, question
from tests.browser.test_desk_scanning import checkins, result_state, wedge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

API = re.compile(r"/api/v1/")
ANSWER = "Zebra wristband 4711"
#: every store that holds what a login downloaded or learnt (people: the search index, where
#: this version of the page has it)
DOWNLOADED = ("attendees", "people", "counts", "conflicts")


def downloads_left(dump):
    """What of a login's downloads and findings is still stored (the login tag is no data)."""
    left = {name: len(dump.get(name, [])) for name in DOWNLOADED}
    left["meta"] = len([m for m in dump.get("meta", []) if m.get("list") != "login"])
    left["uploaded"] = len([i for i in dump["queue"] if i["state"] == "uploaded"])
    return {name: n for name, n in left.items() if n}


def wait_for_dump(page, condition, timeout=15):
    until = time.monotonic() + timeout
    while True:
        dump = idb_contents(page)
        if condition(dump) or time.monotonic() > until:
            return dump
        time.sleep(0.2)


def assert_sealed(queue, event, *secrets):
    """No clear code, answer or name in the queue's records; each body opens on the server."""
    raw = json.dumps(queue, ensure_ascii=False)
    for secret in secrets:
        assert secret not in raw, secret
    for item in queue:
        assert "access_code" not in item["body"] and "answers" not in item["body"]
        assert set(item.get("label") or {}) <= {"product"} and item.get("response") in (None, {"answers": True})
        if "sealed" in item["body"]:
            envelope.open_sealed(event, item["body"]["sealed"], nonce=item["nonce"])


def test_the_queue_at_rest_holds_no_code_answer_or_name(context, desk_data):
    event, ticket = desk_data["event"], desk_data["list"].limit_products.get()
    wristband = add_question(event, ticket, "Wristband", Question.TYPE_STRING, position=1)
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")

    wedge(page, desk_data["paid"].secret)
    assert "Ada Lovelace" in result_state(page, "ask")
    question(page, wristband).locator("input").fill(ANSWER)
    page.locator("#desk-questions button[type=submit]").click()
    assert "Ada Lovelace" in result_state(page, "ok")
    page.locator("#desk-card button.desk-handout").click()  # the T-shirt, offline
    page.locator("#desk-card .desk-handed").wait_for()
    wedge(page, desk_data["second"].secret)
    result_state(page, "ask")
    question(page, wristband).locator("input").fill("WB-second-0815")
    page.locator("#desk-questions button[type=submit]").click()
    result_state(page, "ok")
    page.wait_for_selector("body[data-queued='3']")

    queue = idb_contents(page)["queue"]
    assert sorted(i["kind"] for i in queue) == ["redeem", "scan", "scan"]
    assert all("sealed" in i["body"] for i in queue)
    assert_sealed(queue, event, desk_data["paid"].secret, desk_data["second"].secret, "Ada", "Lovelace", "Alan",
                  "Turing", "alan@example.org", ANSWER, "WB-second-0815", "PAID1", "PAID2")

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert len(checkins(desk_data["paid"], successful=True)) == 1
    assert len(checkins(desk_data["second"], successful=True)) == 1
    assert answers_of(desk_data["paid"]) == {wristband.pk: ANSWER}
    assert answers_of(desk_data["second"]) == {wristband.pk: "WB-second-0815"}
    with scopes_disabled():
        assert Redemption.objects.filter(position=desk_data["addon"]).count() == 1
    # the scans kept a day after their upload are as sealed as before
    kept = idb_contents(page)["queue"]
    assert [i["state"] for i in kept] == ["uploaded", "uploaded"]
    assert_sealed(kept, event, desk_data["paid"].secret, desk_data["second"].secret, "Lovelace", "Turing", ANSWER)


def queue_conflict_and_one_unsent(page, desk_data, context):
    """The desk learns of a conflict (an upload, kept a day) and then queues a scan of Alan
    that it cannot upload (its API requests fail, while the browser is online)."""
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    page.wait_for_selector("body[data-queued='1']")
    cancel_meanwhile(desk_data["paid"].order)
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    conflict = page.locator("#desk-conflicts li")
    conflict.wait_for()
    assert "Ada Lovelace" in conflict.inner_text()  # this page saw her

    page.route(API, lambda route: route.abort())
    wedge(page, desk_data["second"].secret)
    assert "offline" in result_state(page, "ok").lower()
    page.wait_for_selector("body[data-queued='1']")
    before = idb_contents(page)
    assert before["attendees"] and before["conflicts"]
    assert [i["state"] for i in before["queue"]] == ["uploaded", "pending"]
    assert_sealed(before["queue"], desk_data["event"], desk_data["second"].secret, "Turing", "Lovelace")
    return before["queue"][1]


def assert_logged_out_here(page, desk_data, unsent):
    """The page noticed the ended login: downloads gone, the sealed scan kept, a banner."""
    banner = page.locator("#desk-banner")
    banner.get_by_role("button", name="Log in again").wait_for()
    assert "logged out" in banner.inner_text()
    dump = wait_for_dump(page, lambda d: not downloads_left(d))
    assert downloads_left(dump) == {}
    assert [(i["nonce"], i["state"], i["body"]) for i in dump["queue"]] == [
        (unsent["nonce"], "pending", unsent["body"])]
    assert page.locator("#desk-conflicts").is_hidden()
    assert page.locator("#desk-card").is_hidden()
    assert not checkins(desk_data["second"])


def test_pretix_logout_in_another_tab_removes_the_downloads_at_the_next_request(context, desk_data):
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    unsent = queue_conflict_and_one_unsent(page, desk_data, context)

    other = context.new_page()
    other.goto("/control/logout")  # pretix's own logout, in another tab
    other.wait_for_url(re.compile(r"/control/login"))
    other.close()
    page.unroute(API)
    page.click("#desk-sync")  # the desk's next request
    assert_logged_out_here(page, desk_data, unsent)

    # the same user logs in again: that login uploads the sealed scan
    page.locator("#desk-banner").get_by_role("button", name="Log in again").click()
    page.wait_for_url(re.compile(r"/control/login"))
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    (alan,) = checkins(desk_data["second"])
    assert alan.successful and alan.nonce == unsent["nonce"]
    assert len(checkins(desk_data["paid"])) == 1


def test_another_user_logging_in_uploads_the_sealed_queue(context, desk_data):
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    unsent = queue_conflict_and_one_unsent(page, desk_data, context)

    other = context.new_page()
    other.goto("/control/logout")
    other.wait_for_url(re.compile(r"/control/login"))
    page.unroute(API)
    page.click("#desk-sync")
    assert_logged_out_here(page, desk_data, unsent)

    with scopes_disabled():
        door2 = User.objects.create_user("door2@example.org", PASSWORD)
        desk_data["user"].teams.first().members.add(door2)
    login(other, door2)
    # the open page notices the new login at its next answer, and lets go of the old one
    page.click("#desk-sync")
    page.locator("#desk-banner").get_by_role("button", name="Reload").wait_for()
    assert "Someone else" in page.inner_text("#desk-banner")
    page.close()
    open_desk(other, desk_data)
    other.wait_for_selector("body[data-queued='0']", timeout=30000)
    (alan,) = checkins(desk_data["second"])
    assert alan.successful and alan.nonce == unsent["nonce"]
    assert "Alan Turing" not in other.inner_text("body")  # the new login never saw him


def test_a_session_ended_elsewhere_behaves_the_same(context, desk_data):
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    unsent = queue_conflict_and_one_unsent(page, desk_data, context)

    # the session is gone on the server (expired, or ended by an administrator)
    (cookie,) = [c for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"]).delete()
    page.unroute(API)
    page.click("#desk-sync")
    assert_logged_out_here(page, desk_data, unsent)

    login(page, desk_data["user"])
    open_desk(page, desk_data)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert len(checkins(desk_data["second"], successful=True)) == 1


def test_opening_the_desk_after_a_logout_removes_what_the_login_left(context, desk_data):
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    wait_until_reloadable_offline(page)
    unsent = queue_conflict_and_one_unsent(page, desk_data, context)
    page.unroute(API)

    # logged out while no desk page runs; the next visit gets the login page
    page.goto("/control/logout")
    page.wait_for_url(re.compile(r"/control/login"))
    assert downloads_left(idb_contents(page))
    page.goto(desk_url(desk_data))
    page.wait_for_url(re.compile(r"/control/login"))
    dump = wait_for_dump(page, lambda d: not downloads_left(d))
    assert downloads_left(dump) == {}
    assert [(i["nonce"], i["state"]) for i in dump["queue"]] == [(unsent["nonce"], "pending")]

    login(page, desk_data["user"])
    open_desk(page, desk_data)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert len(checkins(desk_data["second"], successful=True)) == 1


SESSION = """
    const s = await load("session.js");
    const answer = (status, body = null, type = "basic") => async () => ({
        status, type, async json() { if (body === null) throw new SyntaxError("no JSON"); return body; }});
    const state = (fetchImpl) => s.sessionState({url: "/s/", login: "me", fetchImpl});
"""


def test_the_session_url_tells_an_ended_login_from_a_missing_permission(context, live_server):
    page = context.new_page()
    page.goto("/static/pretix_desk/desk/desk.css")
    result = page.evaluate("""async () => {
        const load = (m) => import("/static/pretix_desk/desk/" + m);
        %s
        const states = [
            await state(answer(0, null, "opaqueredirect")), await state(answer(302)), await state(answer(401)),
            await state(answer(403)), await state(answer(200, {login: "me"})), await state(answer(200, {login: "you"})),
            await state(answer(200)), await state(async () => { throw new TypeError("offline"); }),
        ];
        // the API clients' answers, watched: 401/403 ask, and so does any answer once ended
        const calls = [];
        let next = "ended";
        const asked = [];
        const watch = new s.SessionWatch({url: "/s/", login: "me",
            fetchImpl: async () => { asked.push(next); return next === "ended" ? {status: 0, type: "opaqueredirect"}
                : {status: 200, type: "basic", json: async () => ({login: next})}; },
            onEnded: async () => calls.push("ended"), onOther: async () => calls.push("other"),
            onBack: () => calls.push("back")});
        const reporter = watch.watch({mark: () => 1, answered: (m) => calls.push("answered " + m), failed: () => {}});
        reporter.answered(1, 200);
        reporter.answered(1, 404);
        reporter.answered(1, 403);
        await watch.checking;
        reporter.answered(1, 403);
        await watch.checking;
        next = "me";
        reporter.answered(1, 200);  // logged in again in another tab
        await watch.checking;
        reporter.answered(1, 200);
        next = "you";
        reporter.answered(1, 401);
        await watch.checking;
        return {states, calls, asked};
    }""" % SESSION)
    assert result["states"] == ["ended", "ended", "ended", "unknown", "same", "other", "unknown", "unknown"]
    assert result["calls"] == [
        "answered 1", "answered 1", "answered 1", "ended", "answered 1", "ended",
        "answered 1", "back", "answered 1", "answered 1", "other"]
    assert result["asked"] == ["ended", "ended", "me", "you"]
