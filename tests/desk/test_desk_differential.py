"""The desk answers what pretix answers: every ticket state of ``tests.matrix`` scanned
through the desk and through pretix's own ``checkinrpc/redeem`` (each on its own copy of the
ticket) gives the same outcome and reason code, and the preload ships each attendee the
steps that give the desk the same answer offline (the browser half of the comparison is
``tests/browser/test_desk_differential.py``)."""
import uuid

import pytest
from pretix.base.models import Checkin

from tests.matrix import build_matrix, desk_extras, outcome, pretix_redeem

from .conftest import desk_url, scan


def desk_scan(client, case, code):
    r = scan(client, case.checkin_list, access_code=code, type=case.type, nonce=uuid.uuid4().hex,
             **desk_extras(case))
    return outcome(r.data)


def recorded(case, code):
    """The gate and time of the check-in a scan of this code recorded (the time only if
    the case sends one), or None."""
    ci = Checkin.all.filter(position__secret=code, list=case.checkin_list, successful=True).order_by("-pk").first()
    return ci and (ci.gate_id, ci.datetime if case.datetime else None)


@pytest.mark.django_db
def test_desk_scan_answers_like_pretix(client, event, ticket, tshirt):
    matrix = build_matrix(event, ticket, tshirt, copies=2)
    answers = {
        case.name: (desk_scan(client, case, case.codes[0]), pretix_redeem(client, case, case.codes[1]), case.online)
        for case in matrix.cases
    }
    differing = {name: a for name, a in answers.items() if len(set(a)) != 1}
    assert not differing, "desk, pretix, expected: %r" % differing
    # Both record a check-in at the same gate and time.
    # What both checked in is recorded at the same gate and time.
    records = {case.name: (recorded(case, case.codes[0]), recorded(case, case.codes[1])) for case in matrix.cases
               if (case.gate or case.datetime) and case.online == "ok"}
    assert {name: r for name, r in records.items() if r[0] != r[1]} == {}
    by_name = {case.name: case for case in matrix.cases}
    assert records["at the list's gate"][0] == (by_name["at the list's gate"].gate.pk, None)


@pytest.mark.django_db
def test_lookup_predicts_the_scan(client, event, ticket, tshirt):
    """``lookup`` simulates pretix's check-in: what it predicts is what a scan then does,
    including the check-in questions a scan asks first ("incomplete"). (A scan that sends
    more than the code is not what it predicts.)"""
    matrix = build_matrix(event, ticket, tshirt, copies=1)
    asked = 0
    for case in matrix.cases:
        if case.type != "entry" or not case.plain:
            continue
        code = case.codes[0]
        r = client.get(desk_url(case.checkin_list, "lookup", code=code))
        if r.status_code == 404:
            predicted = "invalid"
        elif r.data["questions"]:
            assert r.data["can_check_in"], case.name  # once answered
            predicted = "incomplete"
            asked += 1
        else:
            predicted = "ok" if r.data["can_check_in"] else r.data["reason"]
        assert (case.name, predicted) == (case.name, desk_scan(client, case, code))
    assert asked, "the matrix has cases that ask questions"
