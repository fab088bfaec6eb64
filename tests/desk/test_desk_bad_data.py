"""One bad datum stays alone: an answer pretix cannot hold is a 400 naming the question,
and a record that cannot be rendered never breaks the preload, a scan or a lookup of
anyone else (issue 16)."""
import datetime
import json
import logging
from decimal import Decimal

import pytest
from pretix.base.models import Checkin, Question, QuestionAnswer

from pretix_desk.desk import serialization
from tests.conftest import make_order

from .conftest import desk_url, scan
from .test_desk_preload import by_position, plain_hashed, preload


@pytest.fixture
def arrival(event, ticket):
    q = Question.objects.create(event=event, question="Arrival", type=Question.TYPE_DATETIME,
                                required=False, ask_during_checkin=True, show_during_checkin=True)
    q.items.add(ticket)
    return q


@pytest.fixture
def meal(event, ticket):
    q = Question.objects.create(event=event, question="Meal", type=Question.TYPE_CHOICE,
                                required=False, ask_during_checkin=True)
    q.items.add(ticket)
    q.options.create(answer="Fish", identifier="FISH")
    return q


@pytest.fixture
def meals(event, ticket):
    q = Question.objects.create(event=event, question="Meals", type=Question.TYPE_CHOICE_MULTIPLE,
                                required=False, ask_during_checkin=True)
    q.items.add(ticket)
    q.options.create(answer="Lunch", identifier="L")
    return q


@pytest.fixture
def remark(event, ticket):
    q = Question.objects.create(event=event, question="Remark", type=Question.TYPE_STRING,
                                required=False, ask_during_checkin=True)
    q.items.add(ticket)
    return q


@pytest.fixture
def west(event):
    event.settings.timezone = "America/Los_Angeles"
    return event


def nothing_written(position):
    return not Checkin.all.filter(position=position).exists() and \
        not QuestionAnswer.objects.filter(orderposition=position).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["9999-12-31T23:59", "9999-12-31T23:59:00-08:00", "0001-01-01T00:00",
                                    "0001-01-01T00:00:00+14:00"])
def test_a_datetime_answer_out_of_range_is_400(client, clist, position, arrival, west, answer):
    r = scan(client, clist, access_code=position.secret, answers={str(arrival.pk): answer})
    assert r.status_code == 400, r.data
    assert list(r.data["answers"]) == [str(arrival.pk)]
    assert nothing_written(position)


@pytest.mark.django_db
def test_a_datetime_answer_in_range_is_kept(client, clist, position, arrival, west):
    r = scan(client, clist, access_code=position.secret, answers={str(arrival.pk): "2026-12-06T18:30"})
    assert r.status_code == 201, r.data
    r = client.get(desk_url(clist, "lookup", code=position.secret))
    assert [a["question"] for a in r.data["attendee"]["shown_answers"]] == ["Arrival"]


@pytest.mark.django_db
@pytest.mark.parametrize("question, answer", [
    ("meal", "\u00b2"), ("meal", "\u0663"), ("meal", "\ud800"), ("meals", ["\u00b2"]), ("meals", ["\udfff"]),
    ("meals", "\u00b2,1"), ("remark", "lone \ud83d surrogate"),
])
def test_unicode_digits_and_lone_surrogates_in_answers_are_400(request, client, clist, position, question,
                                                               answer):
    q = request.getfixturevalue(question)
    r = client.post(desk_url(clist, "scan"),
                    json.dumps({"access_code": position.secret, "answers": {str(q.pk): answer}}),
                    content_type="application/json")
    assert r.status_code == 400, r.content
    assert list(r.json()["answers"]) == [str(q.pk)]
    assert nothing_written(position)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["access_code", "nonce", "gate"])
def test_lone_surrogates_in_other_fields_are_400(client, clist, position, field):
    body = {"access_code": position.secret, field: "x\ud800y"}
    r = client.post(desk_url(clist, "scan"), json.dumps(body), content_type="application/json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert not Checkin.all.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("when,ok", [
    ("1999-12-31T23:00:00-12:00", False), ("2000-01-02T00:00:00Z", True), ("2199-12-30T23:59:59Z", True),
    ("2199-12-31T00:00:00Z", False), ("9999-12-31T23:59:59+14:00", False),
])
def test_a_scan_time_outside_the_years_2000_to_2199_is_400(client, clist, position, when, ok):
    """A replayed scan's time is a fact pretix records; a typo'd year is refused by name."""
    r = scan(client, clist, access_code=position.secret, nonce="n-" + when, datetime=when)
    if ok:
        assert r.status_code == 201, r.content
        assert Checkin.objects.get().datetime == datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
    else:
        assert r.status_code == 400 and r.json()["datetime"] == [
            "The date must lie between the years 2000 and 2199."], r.content
        assert not Checkin.all.exists()


@pytest.mark.django_db
def test_search_with_a_lone_surrogate_finds_nothing(client, clist):
    # (Django decodes what is not UTF-8 in a query string as U+FFFD)
    r = client.get(desk_url(clist, "search") + "?q=ab%ED%A0%80c")
    assert r.status_code == 200 and r.json()["count"] == 0, r.content


def _stored_bad_answer(position, question, text):
    """An answer pretix cannot render, as one written before this validation (or by another
    client) leaves it in the database."""
    return QuestionAnswer.objects.create(orderposition=position, question=question, answer=text)


@pytest.mark.django_db
def test_an_answer_pretix_cannot_show_is_shown_as_stored(client, clist, event, ticket, position, arrival, west,
                                                         caplog):
    others = [make_order(event, [ticket], code=f"GOOD{i}").positions.get() for i in range(3)]
    _stored_bad_answer(position, arrival, "9999-12-31T23:59:00-08:00")
    with caplog.at_level(logging.ERROR, logger="pretix_desk"):
        r, data = preload(client, clist)
    assert r.status_code == 200
    records = by_position(data)
    assert set(records) == {position.pk, *(o.pk for o in others)} and data["count"] == len(records)
    assert records[position.pk]["attendee"]["shown_answers"] == [
        {"question": "Arrival", "answer": "9999-12-31T23:59:00-08:00"}]
    assert any(f"position {position.pk}" in m for m in caplog.messages)


@pytest.mark.django_db
def test_a_record_that_cannot_be_rendered_is_sent_as_cannot_verify(client, clist, event, ticket, position,
                                                                   monkeypatch, caplog):
    """Whatever fails while one record is rendered, the stream completes and that record
    answers "cannot verify offline" in both directions."""
    others = [make_order(event, [ticket], code=f"GOOD{i}").positions.get() for i in range(3)]
    real = serialization.line_items_data

    def failing(parent, *args, **kwargs):
        if parent.pk == position.pk:
            raise OverflowError("date value out of range")
        return real(parent, *args, **kwargs)

    monkeypatch.setattr(serialization, "line_items_data", failing)
    with caplog.at_level(logging.ERROR, logger="pretix_desk"):
        r, data = preload(client, clist)
    assert r.status_code == 200
    records = by_position(data)
    assert set(records) == {position.pk, *(o.pk for o in others)} and data["count"] == len(records)
    bad = records[position.pk]
    assert bad["entry"] == [["server", "error"]] and bad["exit"] == [["server", "error"]]
    assert bad["code_hash"] == plain_hashed(data, position.secret)  # (and nothing personal in it)
    assert set(bad["attendee"]) == {"position_id", "checked_in"}
    assert any(f"position {position.pk}" in m for m in caplog.messages)
    for o in others:
        assert "entry" not in records[o.pk] and records[o.pk]["line_items"]


@pytest.mark.django_db
def test_scan_and_lookup_of_a_record_with_a_bad_answer_still_answer(client, clist, position, arrival, west):
    _stored_bad_answer(position, arrival, "9999-12-31T23:59:00-08:00")
    r = client.get(desk_url(clist, "lookup", code=position.secret))
    assert r.status_code == 200
    assert r.data["attendee"]["shown_answers"] == [{"question": "Arrival", "answer": "9999-12-31T23:59:00-08:00"}]
    r = scan(client, clist, access_code=position.secret, questions_supported=False)
    assert r.status_code == 201 and r.data["status"] == "ok"


@pytest.mark.django_db
def test_the_offline_form_gets_every_limit_pretix_checks(client, clist, event, ticket, arrival):
    arrival.valid_datetime_min = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    arrival.valid_datetime_max = datetime.datetime(2026, 12, 8, 18, 0, tzinfo=datetime.timezone.utc)
    arrival.save()
    born = Question.objects.create(event=event, question="Born", type=Question.TYPE_DATE, ask_during_checkin=True,
                                   valid_date_min=datetime.date(1900, 1, 1), valid_date_max=datetime.date(2010, 1, 1))
    size = Question.objects.create(event=event, question="Size", type=Question.TYPE_NUMBER, ask_during_checkin=True,
                                   valid_number_min=1, valid_number_max=60)
    for q in (born, size):
        q.items.add(ticket)
    _, data = preload(client, clist)
    limits = {q["question"]: q.get("limits") for q in data["questions"].values()}
    assert limits["Born"] == {"min": "1900-01-01", "max": "2010-01-01"}
    assert {k: Decimal(v) for k, v in limits["Size"].items()} == {"min": 1, "max": 60}
    assert limits["Arrival"] == {"min": "2026-12-01T09:00:00+00:00", "max": "2026-12-08T18:00:00+00:00"}
    # without limits of its own, a date-time question gets those the desk takes anyway
    arrival.valid_datetime_min = arrival.valid_datetime_max = None
    arrival.save()
    _, data = preload(client, clist)
    assert data["questions"][str(arrival.pk)]["limits"] == {
        "min": "1900-01-01T00:00:00+00:00", "max": "2999-12-31T00:00:00+00:00"}
