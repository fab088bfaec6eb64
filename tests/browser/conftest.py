"""Fixtures of the real-browser tests: Debian's Chromium driven by Playwright against pretix
running in pytest-django's live server (which also serves the static files).

Run with ``pytest -m browser tests/browser``; without Chromium the tests are skipped."""
import os
import shutil
from pathlib import Path

import pytest
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import Order

from tests.conftest import make_order

# Playwright's sync API keeps an asyncio loop in this thread; Django would refuse ORM calls
# from the test body although none of them run inside that loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PRETIX_DESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "desk-password-1"


@pytest.fixture(scope="session")
def playwright_instance():
    # The test command (scripts/test) requires the browser: there a missing one fails.
    required = os.environ.get("PRETIX_DESK_REQUIRE_BROWSER") == "1"
    try:
        from playwright import sync_api
    except ImportError:
        if required:
            pytest.fail("Playwright is not installed (pip install -e '.[test]')")
        pytest.skip("Playwright is not installed")
    if not os.path.exists(CHROMIUM):
        if required:
            pytest.fail("Chromium is not installed (apt-get install chromium)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """An SQLite test database in a file rather than in memory: the live server answers the
    page's parallel requests in several threads, and Django shares one in-memory
    connection between all of them, which fails at random."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("browserdb") / "test.sqlite3")
        # The page's parallel requests write from several threads. A writer waits for the
        # lock (timeout) and takes it when its transaction begins (IMMEDIATE): a deferred
        # transaction that reads first and then wants to write fails at once with
        # "database is locked" instead of waiting.
        db.setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")


def launch_chromium(playwright, *extra_args):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", *extra_args],
    )


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = launch_chromium(playwright_instance)
    yield b
    b.close()


@pytest.fixture
def desk_data(transactional_db, event, organizer, admin_team, admin_user, clist, ticket, tshirt):
    """An event with a paid ticket that has a T-shirt add-on, a second paid ticket, an
    unpaid ticket and a ticket for someone named Grace (found by search)."""
    admin_user.set_password(PASSWORD)
    admin_user.save()
    with scopes_disabled():
        ticket.require_checkin_attention = False
        ticket.save()
        shirt_m = tshirt.variations.get(value="M")
        paid = make_order(event, [ticket, {"item": tshirt, "variation": shirt_m, "addon_to": 0}],
                          code="PAID1", name="Ada Lovelace")
        second = make_order(event, [ticket], code="PAID2", name="Alan Turing", email="alan@example.org")
        unpaid = make_order(event, [ticket], code="UNPD1", status=Order.STATUS_PENDING,
                            name="Charles Babbage", email="charles@example.org")
        grace = make_order(event, [ticket], code="GRACE", name="Grace Hopper", email="grace@example.org")
        pos = lambda o: o.positions.order_by("positionid").first()  # NOQA: E731
        return {
            "event": event,
            "list": clist,
            "user": admin_user,
            "paid": pos(paid),
            "addon": paid.positions.get(positionid=2),
            "second": pos(second),
            "unpaid": pos(unpaid),
            "grace": pos(grace),
            "created": now(),
        }


@pytest.fixture
def context(browser, live_server):
    ctx = new_context(browser, live_server)
    yield ctx
    ctx.close()


def new_context(browser, live_server):
    ctx = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        permissions=["camera"],
    )
    ctx.set_default_timeout(15000)
    return ctx


def login(page, user):
    page.goto("/control/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/control/login" not in url)


def open_desk(page, data):
    event = data["event"]
    page.goto("/control/event/{}/{}/desk/".format(event.organizer.slug, event.slug))
    page.wait_for_selector("body[data-desk-ready='1']")
    # the first preload has arrived (no wait_for_function: the page's CSP forbids eval)
    page.wait_for_selector("body[data-last-sync]")


def wait_until_reloadable_offline(page):
    """Wait until the service worker controls the page and holds it in its cache."""
    assert page.evaluate("""async () => {
        await navigator.serviceWorker.ready;
        for (let i = 0; i < 100; i++) {
            if (navigator.serviceWorker.controller && await caches.match(location.pathname)) {
                return true;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return false;
    }""")


@pytest.fixture
def desk_page(context, desk_data):
    page = context.new_page()
    page.on("console", lambda msg: print("console:", msg.type, msg.text))
    page.on("pageerror", lambda err: print("pageerror:", page.url, err))
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    return page


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=False)
