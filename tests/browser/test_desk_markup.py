"""The desk page shows names and texts others typed as text, never as markup: online and
offline, in the result panel, the check-in questions, the attendee card, search results, the
setup panel and the list of uploads the server refused.

Every such field holds the payloads of tests/test_markup_escaping.py. The page's
Content-Security-Policy would block an injected inline script or event handler anyway, so
``window.__pwned`` alone proves little: each test also looks for injected elements and
attributes in the DOM, and for the text shown literally."""
import time

import pytest
from django_scopes import scopes_disabled
from pretix.base.models import CheckinList, Gate, Question, QuestionAnswer

from tests.browser.conftest import login, open_desk, wait_until_reloadable_offline
from tests.browser.desk_page_helpers import (
    cancel_meanwhile, desk_url, open_setup, put_queue_items, queue_body, queue_item,
    storage_snapshot,
)
from tests.browser.test_desk_scanning import (
    REPEAT_WINDOW, checkins, result_state, wedge,
)
from tests.test_markup_escaping import hostile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: A ticket code with markup (imported secrets can be anything) and one nobody knows. Both
#: are typed into the code field and sent with "Check": they hold spaces, so Enter alone
#: would search for them.
MARKUP_CODE = '"><img src=x onerror="window.__pwned=1">CODE'
UNKNOWN_CODE = '"><script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'

#: Ada's check-in texts, in pretix's order: the order's, the variation's, the product's.
ADA_TEXTS = [hostile("OrderText"), hostile("VariationText"), hostile("ProductText")]

#: Elements and attributes that only markup from the data could have put into the page.
INJECTED = """() => {
    const found = [];
    for (const node of document.querySelectorAll("img, svg, iframe, object, embed, [onerror], [onload], [onclick]")) {
        found.push(node.outerHTML);
    }
    for (const node of document.querySelectorAll("a[href^='javascript:' i], [src^='javascript:' i]")) {
        found.push(node.outerHTML);
    }
    for (const node of document.querySelectorAll("script")) {
        if (node.type !== "application/json" && node.textContent.includes("__pwned")) {
            found.push(node.outerHTML);
        }
    }
    return {found, pwned: typeof window.__pwned};
}"""


def assert_inert(page):
    assert page.evaluate(INJECTED) == {"found": [], "pwned": "undefined"}


@pytest.fixture
def hostile_desk(desk_data):
    """desk_data with markup in every field the desk page shows: the event, both lists, a
    gate; Ada's ticket (product, variation, check-in texts, a question asked at check-in with
    its help text and options, a shown answer, her T-shirt add-on); the others' names; and
    Grace's ticket code."""
    event, clist = desk_data["event"], desk_data["list"]
    with scopes_disabled():
        event.name = hostile("Event")
        event.save()
        clist.name = hostile("List")
        clist.save()
        other = CheckinList.objects.create(event=event, name=hostile("OtherList"), all_products=True)
        Gate.objects.create(organizer=event.organizer, name=hostile("Gate"), identifier="gate1")
        ticket = clist.limit_products.get()
        ticket.name = hostile("Product")
        ticket.checkin_text = hostile("ProductText")
        ticket.save()
        variation = ticket.variations.create(value=hostile("Variation"), checkin_text=hostile("VariationText"))
        shirt = desk_data["addon"]
        shirt.item.name = hostile("Shirt")
        shirt.item.save()
        shirt.variation.value = hostile("Size")
        shirt.variation.save()

        ada = desk_data["paid"]
        ada.variation = variation
        ada.attendee_name_parts = {"full_name": hostile("Attendee")}
        ada.attendee_email = hostile("email") + "@example.org"
        ada.save()
        ada.order.checkin_text = hostile("OrderText")
        ada.order.save()
        asked = Question.objects.create(event=event, question=hostile("Question"), help_text=hostile("Help"),
                                        type=Question.TYPE_CHOICE, ask_during_checkin=True, required=True)
        asked.items.add(ticket)
        asked.options.create(answer=hostile("Option"), identifier="OPT1")
        shown = Question.objects.create(event=event, question=hostile("Shown"), type=Question.TYPE_STRING,
                                        show_during_checkin=True)
        shown.items.add(ticket)
        for key in ("paid", "second", "unpaid", "grace"):
            QuestionAnswer.objects.create(orderposition=desk_data[key], question=shown, answer=hostile("Answer"))
        for key, label in (("second", "Second"), ("unpaid", "Unpaid"), ("grace", "Grace")):
            desk_data[key].attendee_name_parts = {"full_name": hostile(label)}
            desk_data[key].save()
        # asked of Ada only (the others answered already)
        for key in ("second", "unpaid", "grace"):
            QuestionAnswer.objects.create(orderposition=desk_data[key], question=asked, answer="x")
        desk_data["grace"].secret = MARKUP_CODE
        desk_data["grace"].save()
    return {**desk_data, "other": other, "ticket_label": hostile("Product") + " – " + hostile("Variation")}


def open_hostile_desk(page, data):
    """Open the desk on the first list (there are two: the page asks which)."""
    login(page, data["user"])
    page.goto(desk_url(data))
    page.wait_for_selector("body[data-desk-ready='1']")
    page.select_option("#desk-list", str(data["list"].pk))
    page.wait_for_selector("body[data-last-sync]")


def type_code(page, code):
    page.fill("#desk-input", code)
    page.click("#desk-check")


def search(page, text):
    page.fill("#desk-input", text)
    page.click("#desk-search")
    page.locator(".desk-hit").first.wait_for()
    return page.locator(".desk-hit")


def texts(page, selector):
    return page.locator(selector).all_inner_texts()


def test_online_scan_questions_card_lookup_and_search_show_markup_as_text(context, hostile_desk):
    data = hostile_desk
    page = context.new_page()
    open_hostile_desk(page, data)

    # the header, the list picker, the setup panel's other list and gate
    assert page.inner_text(".desk-event") == hostile("Event")
    assert page.title().startswith("Registration desk :: " + hostile("Event"))
    assert texts(page, "#desk-list option") == [hostile("List"), hostile("OtherList")]
    open_setup(page)
    assert hostile("OtherList") in texts(page, "#desk-setup label")
    assert hostile("Gate") in texts(page, "#desk-setup option")
    assert_inert(page)

    # a scan that asks a question first: question, help text and option as text
    wedge(page, data["paid"].secret)
    result_state(page, "ask")
    assert page.inner_text("#desk-result-name") == hostile("Attendee")
    assert page.inner_text("#desk-result-product") == data["ticket_label"]
    form = page.locator("#desk-questions")
    assert form.locator(".desk-q-label").first.inner_text().startswith(hostile("Question"))
    assert form.locator(".desk-q-help").inner_text() == hostile("Help")
    assert_inert(page)
    form.get_by_label(hostile("Option"), exact=True).check()
    form.locator("button[type=submit]").click()
    result_state(page, "ok")
    # the check-in texts of order, variation and product; the card with the shown answer
    # and the add-on
    assert texts(page, "#desk-result-texts li") == ADA_TEXTS
    card = page.locator("#desk-card")
    assert card.locator(".desk-card-name").inner_text() == hostile("Attendee")
    assert texts(page, "#desk-card .desk-card-facts dd")[:3] == [
        data["ticket_label"], "PAID1", hostile("email") + "@example.org"]
    assert texts(page, "#desk-card .desk-shown-answers dt") == [hostile("Shown")]
    assert texts(page, "#desk-card .desk-shown-answers dd") == [hostile("Answer")]
    assert texts(page, "#desk-card .desk-addon-name") == [hostile("Shirt") + " – " + hostile("Size")]
    page.get_by_text(hostile("Attendee")).first.wait_for()
    assert_inert(page)
    card.locator("button.desk-handout").click()
    card.locator(".desk-handed").wait_for()
    assert_inert(page)

    # a refusal: the card comes from the server's lookup
    wedge(page, data["unpaid"].secret)
    assert "Not paid" in result_state(page, "error")
    page.locator("#desk-card .desk-card-name", has_text="Unpaid").wait_for()
    assert page.inner_text("#desk-card .desk-card-name") == hostile("Unpaid")
    assert texts(page, "#desk-card .desk-shown-answers dd") == [hostile("Answer")]
    assert_inert(page)

    # a search for markup, and its results
    hits = search(page, "Second <img")
    assert hits.count() == 1
    assert hits.locator("strong").inner_text() == hostile("Second")
    assert hostile("Product") in hits.locator(".desk-muted").first.inner_text()
    hits.locator("button.desk-hit-checkin").click()
    result_state(page, "ok")
    assert page.inner_text("#desk-result-name") == hostile("Second")
    assert_inert(page)

    # a code with markup that nobody knows
    type_code(page, UNKNOWN_CODE)
    assert "Unknown code" in result_state(page, "error")
    assert_inert(page)

    assert len(checkins(data["paid"], successful=True)) == 1
    assert len(checkins(data["second"], successful=True)) == 1
    assert not checkins(data["unpaid"], successful=True)


def test_offline_answers_search_and_conflicts_show_markup_as_text(context, hostile_desk):
    data = hostile_desk
    page = context.new_page()
    open_hostile_desk(page, data)
    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")

    # a scan answered from the download
    wedge(page, data["second"].secret)
    assert "offline" in result_state(page, "ok").lower()
    assert page.inner_text("#desk-result-name") == hostile("Second")
    assert page.inner_text("#desk-result-product") == hostile("Product")
    assert texts(page, "#desk-result-texts li") == [hostile("ProductText")]
    assert texts(page, "#desk-card .desk-shown-answers dd") == [hostile("Answer")]
    assert_inert(page)

    # the downloaded list searched for markup
    hits = search(page, "Unpaid <img")
    assert "downloaded list" in page.inner_text("#desk-results")
    assert hits.locator("strong").inner_text() == hostile("Unpaid")
    assert_inert(page)

    # Ada offline: her question from the download, then the page's questions form
    time.sleep(REPEAT_WINDOW)
    wedge(page, data["paid"].secret)
    result_state(page, "ask")
    assert page.locator("#desk-questions .desk-q-help").inner_text() == hostile("Help")
    page.locator("#desk-questions").get_by_label(hostile("Option"), exact=True).check()
    page.locator("#desk-questions button[type=submit]").click()
    result_state(page, "ok")
    assert texts(page, "#desk-result-texts li") == ADA_TEXTS
    assert_inert(page)

    # a code with markup typed in: admitted offline and queued
    type_code(page, MARKUP_CODE)
    assert "offline" in result_state(page, "ok").lower()
    assert page.inner_text("#desk-result-name") == hostile("Grace")
    page.wait_for_selector("body[data-queued='3']")
    assert MARKUP_CODE in [queue_body(data["event"], i).get("access_code") for i in storage_snapshot(page)["queue"]]
    assert_inert(page)

    # an upload set aside (its list is unknown) names the attendee and product as text
    event = data["event"]
    put_queue_items(page, [queue_item("pretix_desk:{}:{}".format(event.organizer.slug, event.slug), 999997, None,
                                      "NOADDRESS", label={"name": hostile("Grace"), "product": hostile("Product")})])
    # the order was canceled meanwhile: pretix records the entry as forced, and the list of
    # conflicts names the attendee as text
    cancel_meanwhile(data["grace"].order)
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    conflict = page.locator("#desk-conflicts .desk-conflict")
    conflict.wait_for()
    text = conflict.locator("span").inner_text()
    assert hostile("Grace") in text and "Order canceled" in text
    parked = page.locator("#desk-refused .desk-refused-item span").inner_text()
    assert hostile("Grace") in parked and hostile("Product") in parked
    assert_inert(page)

    assert len(checkins(data["second"], successful=True)) == 1
    assert len(checkins(data["paid"], successful=True)) == 1
    (grace,) = checkins(data["grace"])
    assert grace.successful and grace.forced
    # a fresh page shows the conflict the same way, by product and list: it never saw the
    # name, and none is stored
    open_desk(page, data)
    page.locator("#desk-conflicts .desk-conflict").wait_for()
    text = page.inner_text("#desk-conflicts")
    assert hostile("Grace") not in text and hostile("Product") in text and hostile("List") in text
    assert_inert(page)
