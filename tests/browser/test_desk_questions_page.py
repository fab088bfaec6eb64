"""Check-in questions, check-in texts, answers shown at check-in and the attention flag on the
desk page, online and offline. Each test ends by counting pretix's check-ins."""
import time

import pytest
from django_scopes import scopes_disabled
from pretix.base.models import Item, Question, QuestionAnswer

from tests.browser.conftest import (
    login, open_desk, screenshot, wait_until_reloadable_offline,
)
from tests.browser.desk_page_helpers import SCAN, queue_body, storage_snapshot
from tests.browser.test_desk_scanning import (
    REPEAT_WINDOW, checkins, result_state, scans_done, wedge,
)
from tests.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_question(event, item, question, qtype, **kwargs):
    with scopes_disabled():
        q = Question.objects.create(event=event, question=question, type=qtype, ask_during_checkin=True, **kwargs)
        q.items.add(item)
        return q


def answers_of(position):
    with scopes_disabled():
        return {a.question_id: a.answer for a in QuestionAnswer.objects.filter(orderposition=position)}


def scan_bodies(page):
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if SCAN.search(r.url) else None)
    return sent


def question(page, q):
    return page.locator(".desk-q[data-question='{}']".format(q.pk))


def ignored_bursts(page):
    """How many bursts of keys the page left with the focused field, as no scan
    (body[data-scanner-ignored], scanner.js)."""
    return int(page.get_attribute("body", "data-scanner-ignored") or 0)


def focused(page):
    return page.evaluate("[document.activeElement.name || document.activeElement.id, document.activeElement.value]")


def test_required_question_blocks_admission_until_answered_online(context, desk_data):
    event, ticket = desk_data["event"], desk_data["list"].limit_products.get()
    id_checked = add_question(event, ticket, "ID checked?", Question.TYPE_BOOLEAN, required=True, position=1)
    wristband = add_question(event, ticket, "Wristband", Question.TYPE_STRING, valid_string_length_max=20, position=2)
    guests = add_question(event, ticket, "Guests", Question.TYPE_NUMBER, valid_number_max=10, position=3)
    country = add_question(event, ticket, "Country", Question.TYPE_COUNTRYCODE, position=4)
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    sent = scan_bodies(page)

    wedge(page, desk_data["paid"].secret)
    text = result_state(page, "ask")
    assert "Questions before check-in" in text and "Ada Lovelace" in text
    form = page.locator("#desk-questions")
    assert form.locator(".desk-q").count() == 4
    assert question(page, id_checked).locator(".desk-q-required").count() == 1
    assert question(page, wristband).locator(".desk-q-required").count() == 0
    # pretix's limits are the fields' constraints
    assert float(question(page, guests).locator("input").get_attribute("max")) == 10
    assert question(page, wristband).locator("input").get_attribute("maxlength") == "20"
    assert not checkins(desk_data["paid"])  # nothing recorded while questions are open
    # no badges plugin: nothing of badges appears
    assert page.locator(".desk-print-badge").count() == 0 and page.locator("#desk-badges").count() == 0

    # Enter submits; the required yes/no is not answered yet: said at the question, nothing sent
    assert focused(page)[0] == "q{}".format(id_checked.pk)
    page.keyboard.press("Enter")
    assert "must be “Yes”" in question(page, id_checked).locator(".desk-q-error").inner_text()
    assert len(sent) == 1
    page.keyboard.press("Space")  # "Yes"
    page.keyboard.press("Tab")
    assert focused(page)[0] == "q{}".format(wristband.pk)
    # a scanner fills the focused field; it starts no new scan
    done, ignored = scans_done(page), ignored_bursts(page)
    wedge(page, "WB0000123456", enter=False)
    page.wait_for_selector("body[data-scanner-ignored='{}']".format(ignored + 1))
    assert scans_done(page) == done
    assert question(page, wristband).locator("input").input_value() == "WB0000123456"
    assert page.input_value("#desk-input") == "" and len(sent) == 1
    page.keyboard.press("Tab")
    page.keyboard.type("99")
    page.keyboard.press("Tab")
    page.keyboard.type("XX")
    page.keyboard.press("Enter")
    # the browser holds pretix's limit: nothing sent
    assert question(page, guests).locator(".desk-q-error").inner_text()
    assert focused(page)[0] == "q{}".format(guests.pk)
    assert len(sent) == 1
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    # pretix refuses the country code: its message at that question, the answers kept
    question(page, country).locator(".desk-q-error:has-text('Unknown country code')").wait_for()
    assert len(sent) == 2
    assert question(page, wristband).locator("input").input_value() == "WB0000123456"
    assert question(page, id_checked).locator("input[value='true']").is_checked()
    assert not checkins(desk_data["paid"]) and not answers_of(desk_data["paid"])
    assert focused(page)[0] == "q{}".format(country.pk)
    screenshot(page, "desk-questions.png")
    page.keyboard.press("Control+A")
    page.keyboard.type("DE")
    page.keyboard.press("Enter")
    assert "Valid" in result_state(page, "ok")
    assert page.locator("#desk-questions").is_hidden()
    assert page.evaluate("document.activeElement.id") == "desk-input"

    # one scan, sent again with the same nonce and the answers
    assert len(sent) == 3 and len({b["nonce"] for b in sent}) == 1
    assert "questions_supported" not in sent[0] and "answers" not in sent[0]
    assert sent[2]["answers"] == {str(id_checked.pk): True, str(wristband.pk): "WB0000123456",
                                  str(guests.pk): "3", str(country.pk): "DE"}
    assert answers_of(desk_data["paid"]) == {id_checked.pk: "True", wristband.pk: "WB0000123456",
                                             guests.pk: "3", country.pk: "DE"}
    assert len(checkins(desk_data["paid"], successful=True)) == 1

    # Escape cancels: a visible "not checked in", and nothing recorded
    wedge(page, desk_data["second"].secret)
    result_state(page, "ask")
    page.keyboard.press("Escape")
    text = result_state(page, "error")
    assert "Not checked in" in text and "not answered" in text and "Alan Turing" in text
    assert not checkins(desk_data["second"])

    # a question the desk cannot collect (a file): check in with pretix
    with scopes_disabled():
        vip = Item.objects.create(event=event, name="VIP", default_price=0, admission=True)
        desk_data["list"].limit_products.add(vip)
        photo = make_order(event, [vip], code="PHOTO", name="Hedy Lamarr").positions.get()
    add_question(event, vip, "Photo", Question.TYPE_FILE, required=True)
    wedge(page, photo.secret)
    text = result_state(page, "error")
    assert "checked in with pretix" in text and "Photo" in text
    assert page.locator("#desk-questions").is_hidden()
    assert not checkins(photo, successful=True)


def test_required_question_blocks_admission_until_answered_offline(context, desk_data):
    event, ticket = desk_data["event"], desk_data["list"].limit_products.get()
    id_checked = add_question(event, ticket, "ID checked?", Question.TYPE_BOOLEAN, required=True, position=1)
    diet = add_question(event, ticket, "Diet", Question.TYPE_CHOICE, position=2)
    with scopes_disabled():
        vegan = diet.options.create(answer="Vegan", identifier="VEGAN")
        diet.options.create(answer="Anything", identifier="ANY")
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")

    wedge(page, desk_data["paid"].secret)
    text = result_state(page, "ask")
    assert "Ada Lovelace" in text and "offline" in text.lower()
    page.locator("#desk-questions button[type=submit]").click()  # nothing answered yet
    assert "must be “Yes”" in question(page, id_checked).inner_text()
    assert page.get_attribute("body", "data-queued") == "0"
    question(page, id_checked).get_by_label("Yes", exact=True).check()
    question(page, diet).get_by_label("Vegan", exact=True).check()
    page.locator("#desk-questions button[type=submit]").click()
    assert "offline" in result_state(page, "ok").lower()
    page.wait_for_selector("body[data-queued='1']")
    (item,) = storage_snapshot(page)["queue"]
    assert "answers" not in item["body"]  # sealed to the server (docs/offline.rst)
    assert queue_body(event, item)["answers"] == {str(id_checked.pk): True, str(diet.pk): vegan.pk}

    # answered here: not asked again, and the queued entry counts (the refusal is queued too)
    time.sleep(REPEAT_WINDOW)
    wedge(page, desk_data["paid"].secret)
    assert "Already used" in result_state(page, "warn")
    page.wait_for_selector("body[data-queued='2']")
    # cancelled offline: not checked in, nothing queued
    wedge(page, desk_data["second"].secret)
    result_state(page, "ask")
    page.locator("#desk-questions .desk-q-cancel").click()
    assert "Not checked in" in result_state(page, "error")
    assert page.get_attribute("body", "data-queued") == "2"

    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    assert page.locator("#desk-refused").is_hidden()
    (done,) = checkins(desk_data["paid"], successful=True)
    assert done.nonce == item["nonce"]
    assert [c.error_reason for c in checkins(desk_data["paid"], successful=False)] == ["already_redeemed"]
    assert answers_of(desk_data["paid"]) == {id_checked.pk: "True", diet.pk: "Vegan"}
    assert not checkins(desk_data["second"])


def test_checkin_texts_shown_answers_and_attention_online_and_offline(context, desk_data):
    event = desk_data["event"]
    ticket = desk_data["list"].limit_products.get()
    with scopes_disabled():
        diet = Question.objects.create(event=event, question="Diet", type=Question.TYPE_STRING,
                                       show_during_checkin=True)
        diet.items.add(ticket)
        ticket.checkin_text = "Hand out the welcome bag"
        ticket.save()
        for key, text, answer in (("paid", "Speaker: green lanyard", "Vegan"), ("second", "VIP: row 1", "Kosher")):
            order = desk_data[key].order
            order.checkin_text = text
            order.checkin_attention = True
            order.save()
            QuestionAnswer.objects.create(orderposition=desk_data[key], question=diet, answer=answer)
    page = context.new_page()
    login(page, desk_data["user"])
    open_desk(page, desk_data)

    wedge(page, desk_data["paid"].secret)
    result_state(page, "ok")
    texts = page.locator("#desk-result-texts li").all_inner_texts()
    assert texts == ["Speaker: green lanyard", "Hand out the welcome bag"]
    assert page.locator("#desk-result-attention").is_visible()
    assert "desk-result--attention" in page.get_attribute("#desk-result", "class")
    card = page.locator("#desk-card")
    assert "Diet" in card.locator(".desk-shown-answers").inner_text()
    assert "Vegan" in card.locator(".desk-shown-answers").inner_text()
    assert card.locator(".desk-badge--attention").is_visible()
    # the next answer shows its own: the product's text only, no attention
    wedge(page, desk_data["grace"].secret)
    result_state(page, "ok")
    assert page.locator("#desk-result-texts li").all_inner_texts() == ["Hand out the welcome bag"]
    assert page.locator("#desk-result-attention").is_hidden()
    assert page.locator("#desk-card .desk-shown-answers").count() == 0

    wait_until_reloadable_offline(page)
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["second"].secret)
    assert "offline" in result_state(page, "ok").lower()
    assert page.locator("#desk-result-texts li").all_inner_texts() == ["VIP: row 1", "Hand out the welcome bag"]
    assert page.locator("#desk-result-attention").is_visible()
    assert "Kosher" in page.locator("#desk-card .desk-shown-answers").inner_text()
    page.wait_for_selector("body[data-queued='1']")
    context.set_offline(False)
    page.wait_for_selector("body[data-queued='0']", timeout=30000)
    for key in ("paid", "second", "grace"):
        assert len(checkins(desk_data[key], successful=True)) == 1
