"""Check-in questions, check-in texts and answers shown at the door, through the desk API.

Before, the desk called pretix with ``questions_supported=False``: a required "ask during
check-in" question was never asked and the ticket was admitted anyway."""
import uuid

import pytest
from pretix.base.models import Checkin, LogEntry, Order, Question, QuestionAnswer

from tests.conftest import make_order, team_client

from .conftest import desk_url, scan
from .test_desk_permissions import device_client
from .test_desk_preload import by_position, preload


@pytest.fixture
def id_checked(event, ticket):
    q = Question.objects.create(event=event, question="ID checked?", type=Question.TYPE_BOOLEAN,
                                required=True, ask_during_checkin=True)
    q.items.add(ticket)
    return q


@pytest.fixture
def wristband(event, ticket):
    q = Question.objects.create(event=event, question="Wristband number", type=Question.TYPE_NUMBER,
                                required=False, ask_during_checkin=True, position=2)
    q.items.add(ticket)
    return q


@pytest.fixture
def diet(event, ticket):
    q = Question.objects.create(event=event, question="Diet", type=Question.TYPE_CHOICE,
                                required=True, show_during_checkin=True)
    q.items.add(ticket)
    q.options.create(answer="Vegan", identifier="VEGAN")
    q.options.create(answer="Anything", identifier="ANY")
    return q


@pytest.mark.django_db
def test_required_question_blocks_admission_until_answered(client, clist, position, id_checked, wristband):
    nonce = uuid.uuid4().hex
    r = scan(client, clist, access_code=position.secret, nonce=nonce)
    assert r.status_code == 400 and r.data["status"] == "incomplete"
    asked = {q["id"]: q for q in r.data["questions"]}
    assert set(asked) == {id_checked.pk, wristband.pk}
    assert asked[id_checked.pk]["required"] is True and asked[id_checked.pk]["type"] == "B"
    assert asked[wristband.pk]["required"] is False
    assert r.data["attendee"]["position_id"] == position.pk
    assert not Checkin.all.filter(position=position).exists()  # pretix records nothing yet

    # The same nonce with the answers: admitted, and the answers are on the position.
    r = scan(client, clist, access_code=position.secret, nonce=nonce,
             answers={str(id_checked.pk): True, str(wristband.pk): "1042"})
    assert r.status_code == 201 and r.data["status"] == "ok"
    answers = {a.question_id: a.answer for a in QuestionAnswer.objects.filter(orderposition=position)}
    assert answers == {id_checked.pk: "True", wristband.pk: "1042"}
    assert Checkin.objects.filter(position=position).count() == 1


@pytest.mark.django_db
def test_required_answer_cannot_be_empty(client, clist, position, id_checked):
    r = scan(client, clist, access_code=position.secret, answers={str(id_checked.pk): False})
    assert r.status_code == 400 and str(id_checked.pk) in r.data["answers"]
    assert not Checkin.all.filter(position=position).exists()
    assert not QuestionAnswer.objects.filter(orderposition=position).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["abc", ["1"], {"a": 1}, 12, None, "9" * 20000])
def test_invalid_answers_are_400_and_write_nothing(client, clist, position, wristband, answer):
    r = scan(client, clist, access_code=position.secret, answers={str(wristband.pk): answer})
    assert r.status_code == 400 and str(wristband.pk) in r.data["answers"]
    assert not Checkin.all.filter(position=position).exists()
    assert not QuestionAnswer.objects.filter(orderposition=position).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("answers", [{"999999": "x"}, {"abc": "x"}, ["x"], "x", {str(i): "x" for i in range(101)}])
def test_answers_to_other_questions_or_malformed_are_400(client, clist, position, wristband, answers):
    r = scan(client, clist, access_code=position.secret, answers=answers)
    assert r.status_code == 400 and "answers" in r.data
    assert not Checkin.all.filter(position=position).exists()


@pytest.mark.django_db
def test_client_without_question_support_is_admitted(client, clist, position, id_checked):
    """pretix's own rule for apps that cannot ask: they say so, and pretix skips them."""
    r = scan(client, clist, access_code=position.secret, questions_supported=False)
    assert r.status_code == 201


@pytest.mark.django_db
def test_checkin_texts_and_shown_answers(client, clist, order, position, ticket, diet):
    order.checkin_text = "Speaker: give the green lanyard"
    order.save()
    ticket.checkin_text = "Hand out the welcome bag"
    ticket.save()
    answer = QuestionAnswer.objects.create(orderposition=position, question=diet, answer="Vegan")
    answer.options.add(diet.options.get(identifier="VEGAN"))
    r = scan(client, clist, access_code=position.secret)
    assert r.status_code == 201
    attendee = r.data["attendee"]
    assert attendee["checkin_texts"] == ["Speaker: give the green lanyard", "Hand out the welcome bag"]
    assert attendee["shown_answers"] == [{"question": "Diet", "answer": "Vegan"}]
    lookup = client.get(desk_url(clist, "lookup", code=position.secret)).data["attendee"]
    assert lookup["checkin_texts"] == attendee["checkin_texts"]
    assert lookup["shown_answers"] == attendee["shown_answers"]


@pytest.mark.django_db
def test_desk_asks_what_pretix_asks(client, clist, organizer, event, ticket, id_checked):
    ours = make_order(event, [ticket], code="OURS1").positions.get()
    theirs = make_order(event, [ticket], code="THEIR").positions.get()
    r = scan(client, clist, access_code=ours.secret)
    p = client.post(f"/api/v1/organizers/{organizer.slug}/checkinrpc/redeem/",
                    {"secret": theirs.secret, "lists": [clist.pk]}, format="json")
    assert (r.data["status"], [q["id"] for q in r.data["questions"]]) == \
        (p.data["status"], [q["id"] for q in p.data["questions"]])


# Overrides: "check in anyway" where pretix allows it, offered only to those who may.

@pytest.fixture
def unpaid(event, ticket):
    return make_order(event, [ticket], code="UNPD1", status=Order.STATUS_PENDING).positions.get()


@pytest.mark.django_db
def test_unpaid_on_list_with_pending_offers_ignore_unpaid(client, clist, unpaid):
    clist.include_pending = True
    clist.save()
    r = scan(client, clist, access_code=unpaid.secret)
    assert r.status_code == 400 and r.data["reason"] == "unpaid" and r.data["override"] == "ignore_unpaid"
    r = scan(client, clist, access_code=unpaid.secret, ignore_unpaid=True)
    assert r.status_code == 201
    entry = LogEntry.objects.filter(action_type="pretix.event.checkin").last()
    assert entry.parsed_data["forced"] is True  # pretix logs an unpaid check-in as forced


@pytest.mark.django_db
def test_unpaid_on_list_without_pending_offers_only_force(client, clist, unpaid, organizer):
    r = scan(client, clist, access_code=unpaid.secret)
    assert r.data["override"] == "force"  # the admin token may change orders
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    r = scan(checkin_only, clist, access_code=unpaid.secret)
    assert r.status_code == 400 and r.data["override"] is None
    assert scan(checkin_only, clist, access_code=unpaid.secret, ignore_unpaid=True).status_code == 400


@pytest.mark.django_db
def test_force_is_refused_to_those_who_may_not(client, clist, unpaid, organizer):
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    r = scan(checkin_only, clist, access_code=unpaid.secret, force=True)
    assert r.status_code == 403
    assert not Checkin.all.filter(position=unpaid).exists()
    r = scan(client, clist, access_code=unpaid.secret, force=True)
    assert r.status_code == 201
    checkin = Checkin.objects.get(position=unpaid)
    assert checkin.forced is True and checkin.force_sent is True


@pytest.mark.django_db
def test_force_is_refused_to_devices(clist, unpaid, organizer, event):
    api, _ = device_client(organizer, "full")
    r = scan(api, clist, access_code=unpaid.secret)
    assert r.status_code == 400 and r.data["override"] is None
    assert scan(api, clist, access_code=unpaid.secret, force=True).status_code == 403


@pytest.mark.django_db
def test_preload_ships_the_questions_to_ask_offline(client, clist, position, id_checked, wristband, diet):
    answer = QuestionAnswer.objects.create(orderposition=position, question=diet, answer="Vegan")
    answer.options.add(diet.options.get(identifier="VEGAN"))
    _, data = preload(client, clist)
    assert set(data["questions"]) == {str(id_checked.pk), str(wristband.pk)}
    assert data["questions"][str(id_checked.pk)]["required"] is True
    rec = by_position(data)[position.pk]
    assert rec["entry"] == [["ask", [id_checked.pk, wristband.pk]]] and "exit" not in rec
    assert rec["attendee"]["shown_answers"] == [{"question": "Diet", "answer": "Vegan"}]

    scan(client, clist, access_code=position.secret, answers={str(id_checked.pk): True})
    rec = by_position(preload(client, clist)[1])[position.pk]
    assert rec["entry"] == [["ask", [wristband.pk]]]


@pytest.mark.django_db
def test_a_new_checkin_question_makes_desks_download_again(client, clist, position, event, ticket):
    _, data = preload(client, clist)
    q = Question.objects.create(event=event, question="Consent?", type=Question.TYPE_BOOLEAN,
                                required=True, ask_during_checkin=True)
    q.items.add(ticket)
    r, _ = preload(client, clist, since=data["sync_token"])
    assert r.status_code == 400 and "since" in r.data
