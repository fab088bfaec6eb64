"""The desk answers what pretix answers: every ticket state of ``tests.matrix`` scanned
through the desk and through pretix's own ``checkinrpc/redeem`` (each on its own copy of the
ticket) gives the same outcome and reason code, and the preload ships each attendee the
steps that give the desk the same answer offline (the browser half of the comparison is
``tests/browser/test_desk_differential.py``)."""
import uuid

import pytest
from django.urls import reverse

from tests.matrix import build_matrix

from .conftest import desk_url, scan


def pretix_redeem(client, case, code):
    r = client.post(
        reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": case.checkin_list.event.organizer.slug}),
        {"secret": code, "lists": [case.checkin_list.pk], "type": case.type, "nonce": uuid.uuid4().hex,
         "questions_supported": False, "canceled_supported": True},
        format="json",
    )
    return r.data["status"] if r.data["status"] == "ok" else r.data["reason"]


def desk_scan(client, case, code):
    r = scan(client, case.checkin_list, access_code=code, type=case.type, nonce=uuid.uuid4().hex)
    return r.data["status"] if r.data["status"] == "ok" else r.data["reason"]


@pytest.mark.django_db
def test_desk_scan_answers_like_pretix(client, event, ticket, tshirt):
    matrix = build_matrix(event, ticket, tshirt, copies=2)
    answers = {
        case.name: (desk_scan(client, case, case.codes[0]), pretix_redeem(client, case, case.codes[1]), case.online)
        for case in matrix.cases
    }
    differing = {name: a for name, a in answers.items() if len(set(a)) != 1}
    assert not differing, "desk, pretix, expected: %r" % differing


@pytest.mark.django_db
def test_lookup_predicts_the_scan(client, event, ticket, tshirt):
    """``lookup`` simulates pretix's check-in: what it predicts is what a scan then does."""
    matrix = build_matrix(event, ticket, tshirt, copies=1)
    for case in matrix.cases:
        if case.type != "entry":
            continue
        code = case.codes[0]
        r = client.get(desk_url(case.checkin_list, "lookup", code=code))
        predicted = "invalid" if r.status_code == 404 else ("ok" if r.data["can_check_in"] else r.data["reason"])
        assert (case.name, predicted) == (case.name, desk_scan(client, case, code))
