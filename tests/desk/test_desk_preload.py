"""GET desk/preload/: offline data, hashed codes, incremental sync, constant queries."""
import datetime
import hashlib
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.timezone import now
from pretix.base.models import (
    CheckinList, Item, Order, OrderPosition, Question, QuestionAnswer,
    RevokedTicketSecret, SubEvent,
)

from pretix_desk.desk import sealing
from pretix_desk.desk.positions import (
    desk_positions, last_checkin_type_subquery, line_items_of, with_desk_state,
)
from pretix_desk.desk.preload import (
    offline_record, population_queryset, prepare_preload,
)
from tests.conftest import make_order

from .conftest import desk_url, redeem, scan


def preload(client, clist, **params):
    r = client.get(desk_url(clist, "preload"), params)
    if r.status_code == 200:
        body = b"".join(r.streaming_content)
        return r, json.loads(body)
    return r, None


def by_position(data):
    """The records as a desk sees each after scanning its code: sealed fields opened (the
    code read from the database) after the search index's, ``sealed`` gone."""
    return {rec["attendee"]["position_id"]: opened(data, rec) for rec in data["attendees"]}


def opened(data, record):
    record = dict(record)
    sealed = record.pop("sealed", None)
    if sealed is None:
        return record
    personal = {}
    if sealed:
        secret = OrderPosition.all.get(pk=record["attendee"]["position_id"]).secret
        personal = sealing.unseal(secret, data["seal"]["salt"], record["code_hash"], sealed)
    index = record.get("index") or {}
    record["attendee"] = {**record["attendee"], **{
        name: personal[short] if short in personal
        else index.get(name, [] if name in ("checkin_texts", "shown_answers") else None)
        for name, short in sealing.PERSONAL.items()
    }}
    return record


def hashed(data, secret):
    """The ``code_hash`` of a sealed record of ``secret``."""
    return sealing.lookup_id(sealing.derive_master(secret, data["seal"]["salt"]), data["salt"])


def plain_hashed(data, secret):
    """The ``code_hash`` of a record sent before its sealing key exists."""
    return hashlib.sha256((data["salt"] + secret).encode()).hexdigest()


@pytest.mark.django_db
def test_preload_records(client, clist, order, position, addon, pending_order):
    r, data = preload(client, clist)
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert data["list"] == clist.pk and data["count"] == 2 and data["removed"] == []
    assert data["entries"] == {"allow_multiple_entries": False, "allow_entry_after_exit": True}
    rec = by_position(data)[position.pk]
    assert rec["code_hash"] == hashed(data, position.secret)
    assert position.secret not in json.dumps(data)
    assert "owner" not in rec  # the attendee's own position: left out (docs/offline.rst)
    assert [li["line_item_id"] for li in rec["line_items"]] == [position.pk, addon.pk]
    assert rec["line_items"][1]["redeemable"] is True
    # Admitted: no steps, nothing checked in yet.
    assert not {"entry", "exit", "last", "redeem"} & set(rec)


@pytest.mark.django_db
@pytest.mark.parametrize("include_pending", [False, True])
def test_unpaid_ticket_is_shipped_with_its_refusal(client, clist, position, pending_order, include_pending):
    """An unpaid ticket is refused online whether or not the list includes pending orders
    (that only allows an explicit override), so offline it carries the same refusal."""
    clist.include_pending = include_pending
    clist.save()
    _, data = preload(client, clist)
    pending = by_position(data)[pending_order.positions.get(positionid=1).pk]
    refusal = ["refuse", "unpaid", "ignore_unpaid"] if include_pending else ["refuse", "unpaid"]
    assert pending["entry"] == pending["exit"] == [refusal]
    assert pending["redeem"] == "unpaid"


@pytest.mark.django_db
def test_salt_is_stable_per_list(client, clist, event, order):
    other = CheckinList.objects.create(event=event, name="Other", all_products=True)
    _, a = preload(client, clist)
    _, b = preload(client, clist)
    _, c = preload(client, other)
    assert a["salt"] == b["salt"] != c["salt"]


@pytest.mark.django_db
def test_addon_on_list_has_own_record(client, event, ticket, tshirt, order, position, addon):
    lst = CheckinList.objects.create(event=event, name="All", all_products=True)
    _, data = preload(client, lst)
    recs = by_position(data)
    assert set(recs) == {position.pk, addon.pk}
    assert [li["line_item_id"] for li in recs[position.pk]["line_items"]] == [position.pk, addon.pk]
    assert recs[addon.pk]["code_hash"] == hashed(data, addon.secret)
    _, only_shirts = preload(client, lst, product=tshirt.pk)
    assert set(by_position(only_shirts)) == {addon.pk}


@pytest.mark.django_db
def test_incremental_sync(client, clist, event, ticket, order, position, addon):
    second = make_order(event, [ticket], code="SEC02")
    _, full = preload(client, clist)
    assert full["count"] == 2
    token = full["sync_token"]

    # Older than the token (minus the overlap), nothing changed: no records at all.
    Order.objects.update(last_modified=now() - datetime.timedelta(hours=1))
    _, delta = preload(client, clist, since=token)
    assert delta["count"] == 0 and delta["removed"] == []

    scan(client, clist, access_code=position.secret)
    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    second.status = Order.STATUS_CANCELED
    second.save()
    RevokedTicketSecret.objects.create(event=event, position=position, secret="OLD")
    _, delta = preload(client, clist, since=token)
    recs = by_position(delta)
    assert set(recs) == {position.pk}
    assert recs[position.pk]["attendee"]["checked_in"] is True
    assert recs[position.pk]["line_items"][1]["redeemed"] is True
    # Removed: the canceled ticket and the revoked code; it may also name codes the desk never
    # had (here the T-shirt, which this list does not admit), never a code still admitted.
    assert {hashed(full, second.positions.get().secret), hashed(full, "OLD")} <= set(delta["removed"])
    assert hashed(full, position.secret) not in delta["removed"]


@pytest.mark.django_db
def test_sync_removes_the_codes_of_a_deleted_test_mode_order(client, clist, event, organizer, ticket, tshirt,
                                                             order, position):
    """pretix deletes test mode orders without a trace a timestamp could show; the desk
    must still forget their tickets, or it would admit them offline."""
    doomed = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="TEST1", testmode=True)
    doomed_codes = list(doomed.positions.values_list("secret", flat=True))
    r, full = preload(client, clist)
    assert hashed(full, doomed_codes[0]) in {a["code_hash"] for a in full["attendees"]}

    r = client.delete(f"/api/v1/organizers/{organizer.slug}/events/{event.slug}/orders/{doomed.code}/")
    assert r.status_code == 204, r.content
    assert not Order.objects.filter(code="TEST1").exists()
    r, delta = preload(client, clist, since=full["sync_token"])
    assert {hashed(full, code) for code in doomed_codes} <= set(delta["removed"])
    assert hashed(full, position.secret) not in delta["removed"]
    _, again = preload(client, clist)
    assert again["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("since", ["garbage", "a" * 1001])
def test_bad_sync_token_is_400(client, clist, since):
    r, _ = preload(client, clist, since=since)
    assert r.status_code == 400 and "since" in r.data


@pytest.mark.django_db
def test_sync_token_of_other_list_or_changed_list_is_400(client, clist, event, ticket, tshirt, order):
    other = CheckinList.objects.create(event=event, name="Other", all_products=True)
    _, data = preload(client, clist)
    r, _ = preload(client, other, since=data["sync_token"])
    assert r.status_code == 400
    clist.limit_products.add(tshirt)
    r, _ = preload(client, clist, since=data["sync_token"])
    assert r.status_code == 400 and "since" in r.data


@pytest.mark.django_db
def test_bad_product_is_400(client, clist):
    r, _ = preload(client, clist, product="shirt")
    assert r.status_code == 400 and "product" in r.data


@pytest.mark.django_db
def test_etag_304(client, clist, order, position):
    r, _ = preload(client, clist)
    etag = r["ETag"]
    r2 = client.get(desk_url(clist, "preload"), HTTP_IF_NONE_MATCH=etag)
    assert r2.status_code == 304 and r2["ETag"] == etag
    scan(client, clist, access_code=position.secret)
    r3, data = preload(client, clist)
    assert r3["ETag"] != etag
    assert client.get(desk_url(clist, "preload"), HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.django_db
def test_unchanged_sync_reads_the_event_in_one_statement(client, clist, event, ticket, tshirt, order, position):
    """A desk asks every few seconds whether anything changed: the answer reads one row per
    kind of change (``sync.preload_etag``), never every order of the event."""
    _make_attendees(event, ticket, tshirt, 30, "E")
    r, data = preload(client, clist, since="")
    url = desk_url(clist, "preload") + "?since=" + data["sync_token"]
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url, HTTP_IF_NONE_MATCH=r["ETag"])
    assert r.status_code == 304
    sql = [q["sql"] for q in ctx.captured_queries]
    on_orders = [q for q in sql if '"pretixbase_order"' in q]
    assert len(on_orders) == 1, on_orders
    # read with the list itself, which the view loads anyway
    assert '"pretixbase_checkinlist"."rules"' in on_orders[0], on_orders[0]
    assert "COUNT(" not in on_orders[0].upper()
    assert all(name in on_orders[0] for name in ("pretixbase_revokedticketsecret", "pretix_desk_deletedsecret"))
    assert not [q for q in sql if '"pretixbase_orderposition"' in q]


#: The statements of an unchanged sync (a 304), besides the reads of pretix's settings and
#: known domains that its cache answers in production: organizer and token, event, the list
#: with the ETag's inputs, the list's products and check-in questions, the catalog the
#: fingerprint covers (products, variations, questions), and the list's door capacities;
#: dates add one. docs/benchmarks.rst states it (tests/test_docs_figures.py compares).
UNCHANGED_SYNC_STATEMENTS = 10
CACHED_IN_PRODUCTION = ("_settingsstore", "pretixmultidomain_knowndomain")


@pytest.mark.django_db
@pytest.mark.parametrize("dates", [False, True])
def test_an_unchanged_sync_costs_a_fixed_number_of_statements(client, clist, event, ticket, tshirt, order,
                                                              position, dates):
    if dates:
        event.has_subevents = True
        event.save()
    _make_attendees(event, ticket, tshirt, 30, "U")
    r, data = preload(client, clist)
    url = desk_url(clist, "preload") + "?since=" + data["sync_token"]
    assert client.get(url, HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304  # warm what a server holds
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    sql = [q["sql"] for q in ctx.captured_queries if not any(t in q["sql"] for t in CACHED_IN_PRODUCTION)]
    assert len(sql) == UNCHANGED_SYNC_STATEMENTS + dates, sql


@pytest.mark.django_db
def test_a_sync_sends_again_what_changed_in_the_two_minutes_before_its_token(client, clist, event, ticket,
                                                                             order, position):
    """A transaction still open when a download was made commits rows stamped earlier than
    its token: the next sync overlaps by ``SYNC_OVERLAP`` (docs/desk-api.rst: two minutes),
    and at most ``WINDOW_STEP`` more, where windows start (shared_preload.py)."""
    late = make_order(event, [ticket], code="LATE2")
    _, full = preload(client, clist)
    issued = datetime.datetime.fromisoformat(full["generated_at"])
    Order.objects.filter(pk=late.pk).update(last_modified=issued - datetime.timedelta(seconds=110))
    Order.objects.filter(pk=order.pk).update(last_modified=issued - datetime.timedelta(seconds=151))
    _, delta = preload(client, clist, since=full["sync_token"])
    assert set(by_position(delta)) == {late.positions.get().pk}


def _make_attendees(event, ticket, tshirt, n, prefix):
    for i in range(n):
        make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code=f"{prefix}{i:04d}")


@pytest.mark.django_db
def test_query_count_does_not_grow_with_attendees(client, clist, event, ticket, tshirt):
    counts = {}
    sizes = {}
    for n, prefix in ((10, "A"), (190, "B")):
        _make_attendees(event, ticket, tshirt, n, prefix)
        with CaptureQueriesContext(connection) as ctx:
            r, data = preload(client, clist)
        counts[n] = len(ctx.captured_queries)
        sizes[n] = data["count"]
        assert all(len(rec["line_items"]) == 2 for rec in data["attendees"])
    assert sizes == {10: 10, 190: 200}
    assert counts[10] == counts[190]


@pytest.mark.django_db
@pytest.mark.parametrize("attendees", [0, 1, 7])
def test_each_record_is_a_line_of_its_own_across_chunks(client, clist, event, ticket, tshirt, monkeypatch,
                                                        attendees):
    """The page reads the download line by line as it streams (desk/download.js): the head,
    then one line per record, then the rest, whatever the chunks the records were encoded
    in, and a name with a newline in it stays on its record's line. The whole is still the
    same JSON document for any other client."""
    from pretix_desk.desk import preload as preload_module

    monkeypatch.setattr(preload_module, "RECORDS_PER_CHUNK", 3)
    if attendees:
        _make_attendees(event, ticket, tshirt, attendees, "L")
        OrderPosition.objects.filter(order__event=event, addon_to=None).update(attendee_name_cached="Ada\nLine")
    r = client.get(desk_url(clist, "preload"))
    lines = b"".join(r.streaming_content).decode().split("\n")
    assert lines[0].endswith(',"attendees":[') and lines[-1].startswith('],"removed":')
    records = [json.loads(line.rstrip(",")) for line in lines[1:-1]]
    assert all(line.endswith(",") for line in lines[1:-2])
    assert not attendees or not lines[-2].endswith(",")
    whole = json.loads("\n".join(lines))
    assert records == whole["attendees"] and whole["count"] == attendees == len(records)
    assert json.loads(lines[0][:-len(',"attendees":[')] + "}")["list"] == clist.pk


def model_built_records(clist):
    """The preload's records made the way scan and lookup build theirs: from model
    instances (``positions.with_desk_state``, ``line_items_of``) and ``offline_record`` with
    nothing cached. The preload itself builds them from rows and a per-request cache."""
    p = prepare_preload(checkin_list=clist)
    tz = clist.event.timezone
    qs = population_queryset(p).annotate(last_type=last_checkin_type_subquery(checkin_list=clist))
    records = []
    for op in desk_positions(with_desk_state(qs, checkin_list=clist).order_by("pk")):
        answered = set(op.answers.values_list("question_id", flat=True))
        unanswered = [q for q in p.questions_by_item.get(op.item_id, ()) if q not in answered]
        records.append(offline_record(p, op, line_items_of(position=op), unanswered=unanswered, tz=tz))
    return json.loads(json.dumps(records))


@pytest.fixture
def assorted(client, event, clist, ticket, tshirt, order, position, addon, pending_order):
    """Tickets that exercise every field of a record: variations, dates, check-in texts and
    attention, answers of several types, check-ins, redemptions, refusals."""
    # checked in and redeemed before the check-in questions exist (they would be asked)
    assert scan(client, clist, access_code=position.secret).status_code == 201
    assert redeem(client, clist, access_code=position.secret, line_item_id=addon.pk).status_code == 201
    event.has_subevents = True
    event.save()
    day1 = SubEvent.objects.create(event=event, name={"en": "Day 1", "de": "Tag 1"},
                                   date_from=now() + datetime.timedelta(days=3))
    day2 = SubEvent.objects.create(event=event, name="Day 2", date_from=now() + datetime.timedelta(days=4))
    ticket.checkin_text = "Check the ID"
    ticket.save()
    vip = Item.objects.create(event=event, name={"en": "VIP", "de": "VIP-Karte"}, default_price=Decimal("99"),
                              admission=True, checkin_attention=True, checkin_text="Lounge access")
    gold = vip.variations.create(value={"en": "Gold", "de": "Gold"}, checkin_text="Gold wristband")
    silver = vip.variations.create(value="Silver", checkin_attention=True)
    clist.limit_products.add(vip)
    small = tshirt.variations.get(value="S")

    def question(text, qtype, *, show=True, ask=False, items=(ticket, vip)):
        q = Question.objects.create(event=event, question=text, type=qtype, required=False,
                                    show_during_checkin=show, ask_during_checkin=ask)
        q.items.add(*items)
        return q

    vegan = question({"en": "Vegan?", "de": "Vegan?"}, Question.TYPE_BOOLEAN)
    arrival = question("Arrival", Question.TYPE_DATETIME)
    country = question("Country", Question.TYPE_COUNTRYCODE)
    badge = question("Badge name", Question.TYPE_STRING, ask=True)
    shoe = question("Shoe size", Question.TYPE_NUMBER, show=False, ask=True)
    question("Internal", Question.TYPE_STRING, show=False)

    texts = make_order(event, [
        {"item": vip, "variation": gold, "subevent": day1},
        {"item": tshirt, "variation": small, "addon_to": 0, "subevent": day1},
        {"item": tshirt, "addon_to": 0, "subevent": day1},
    ], code="TEXTS", checkin_text="Pays at the door", checkin_attention=True)
    answered = texts.positions.get(positionid=1)
    answered.company = "ACME"
    answered.attendee_email = "vip@example.org"
    answered.save()
    for q, value in ((vegan, "True"), (arrival, "2026-01-02T10:30:00+00:00"), (country, "DE"),
                     (badge, "Ada"), (shoe, "42")):
        QuestionAnswer.objects.create(orderposition=answered, question=q, answer=value)
    silver_pos = make_order(event, [{"item": vip, "variation": silver, "subevent": day2}],
                            code="SILVR", email="").positions.get()
    QuestionAnswer.objects.create(orderposition=silver_pos, question=vegan, answer="False")
    blocked = make_order(event, [ticket], code="BLOCK").positions.get()
    blocked.blocked = ["admin"]
    blocked.save()
    window = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="WINDO").positions.get(positionid=1)
    window.valid_from = now() - datetime.timedelta(hours=1)
    window.valid_until = now() + datetime.timedelta(hours=5)
    window.save()
    make_order(event, [vip], code="APPRV", status=Order.STATUS_PENDING, require_approval=True)
    make_order(event, [ticket], code="VALID", status=Order.STATUS_PENDING, valid_if_pending=True)

    assert scan(client, clist, access_code=answered.secret).status_code == 201
    assert scan(client, clist, access_code=answered.secret, type="exit").status_code == 201
    shirt = texts.positions.get(positionid=2)
    assert redeem(client, clist, access_code=answered.secret, line_item_id=shirt.pk).status_code == 201
    Order.objects.update(last_modified=now() - datetime.timedelta(days=1))
    return {"day1": day1, "vip": vip}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["main", "all_addon_match", "pending_rules", "day1"])
def test_rows_give_the_records_of_model_instances(client, event, clist, assorted, kind):
    """The preload reads rows, not models, and renders names once per product: the
    records must be exactly those the model-based serializer of scan and lookup makes."""
    lst = {
        "main": clist,
        "all_addon_match": CheckinList(event=event, name="All", all_products=True, addon_match=True),
        "pending_rules": CheckinList(event=event, name="Pending", all_products=True, include_pending=True,
                                     rules={"<": [{"var": "entries_number"}, 3]}),
        "day1": CheckinList(event=event, name="Day 1", all_products=True, subevent=assorted["day1"]),
    }[kind]
    lst.save()
    _, data = preload(client, lst)
    expected = model_built_records(lst)
    assert len(data["attendees"]) == len(expected) == data["count"] > 2
    records = [opened(data, rec) for rec in data["attendees"]]
    secrets = dict(OrderPosition.all.values_list("pk", "secret"))
    for rec, exp in zip(records, expected):
        assert rec.pop("code_hash") == hashed(data, secrets[rec["attendee"]["position_id"]])
        assert rec.pop("index") == {k: exp["attendee"][k] for k in ("name", "email", "order", "company")}
        exp.pop("code_hash")
    assert records == expected


@pytest.mark.django_db
def test_assorted_records_show_what_they_should(client, clist, assorted):
    """A few fields the comparison above cannot vouch for by itself."""
    _, data = preload(client, clist)
    recs = {rec["attendee"]["order"]: rec for rec in by_position(data).values()}
    texts = recs["TEXTS"]["attendee"]
    assert texts["checkin_texts"] == ["Pays at the door", "Gold wristband", "Lounge access"]
    assert texts["require_attention"] is True and texts["subevent"]["name"] == "Day 1"
    assert [a["question"] for a in texts["shown_answers"]] == ["Vegan?", "Arrival", "Country", "Badge name"]
    assert texts["shown_answers"][0]["answer"] == "Yes" and texts["shown_answers"][2]["answer"] == "Germany"
    assert [li["redeemed"] for li in recs["TEXTS"]["line_items"]] == [False, True, False]
    assert recs["TEXTS"]["last"] == "exit"
    assert recs["SILVR"]["attendee"]["email"] is None and recs["SILVR"]["attendee"]["require_attention"] is True
    assert recs["BLOCK"]["redeem"] == "blocked"


@pytest.mark.django_db
def test_query_count_does_not_grow_with_answers(client, clist, event, ticket, tshirt):
    """Answers are rendered without loading their position (pretix reads the event's time
    zone through it for date and time answers)."""
    arrival = Question.objects.create(event=event, question="Arrival", type=Question.TYPE_DATETIME,
                                      show_during_checkin=True)
    counts = {}
    for n, prefix in ((3, "A"), (12, "B")):
        _make_attendees(event, ticket, tshirt, n, prefix)
        for op in OrderPosition.objects.filter(addon_to__isnull=True, answers__isnull=True):
            QuestionAnswer.objects.create(orderposition=op, question=arrival, answer="2026-01-02T10:30:00+00:00")
        with CaptureQueriesContext(connection) as ctx:
            _, data = preload(client, clist)
        counts[n] = len(ctx.captured_queries)
        assert all(rec["attendee"]["shown_answers"] for rec in by_position(data).values())
    assert counts[3] == counts[12]
