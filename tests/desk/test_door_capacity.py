"""Capacities at the door (door/capacity.py): a manager sets "this room holds N" for a list
or a list at a gate; the desk refuses entries beyond it as full (recorded as pretix records
a refusal), exits free places, staff may still check in anyway, pretix's own refusals come
first, and offline uploads are never refused for it."""
import json
import uuid

import pytest
from django.urls import reverse
from django.utils.timezone import now
from pretix.base.models import Checkin, Gate, LogEntry

from pretix_desk.models import DoorCapacity
from tests.conftest import make_order, team_client

from .conftest import desk_url, scan
from .test_desk_door import door_url


def capacity_url(event):
    return reverse("api-v1:desk-door-capacity", kwargs={"organizer": event.organizer.slug, "event": event.slug})


def set_capacity(client, event, **body):
    return client.post(capacity_url(event), body, format="json")


@pytest.fixture
def guests(event, ticket):
    return [make_order(event, [ticket], code=f"CAP{i:02d}").positions.get() for i in range(4)]


def enter(client, clist, position, **extra):
    return scan(client, clist, access_code=position.secret, nonce=uuid.uuid4().hex, **extra)


@pytest.mark.django_db
def test_a_full_list_refuses_entries_and_an_exit_frees_a_place(client, event, clist, guests):
    assert set_capacity(client, event, list=clist.pk, capacity=2).status_code == 200
    assert enter(client, clist, guests[0]).status_code == 201
    assert enter(client, clist, guests[1]).status_code == 201
    full = enter(client, clist, guests[2])
    assert full.status_code == 400
    assert full.data["reason"] == "capacity" and "2 of 2" in full.data["reason_explanation"]
    # recorded as pretix records a refusal by the list's rules
    refused = Checkin.all.get(position=guests[2], successful=False)
    assert (refused.error_reason, refused.error_explanation) == ("rules", full.data["reason_explanation"])
    # who is already inside may come in again where the list allows it: no place taken
    assert scan(client, clist, access_code=guests[0].secret, type="exit", nonce=uuid.uuid4().hex).status_code == 201
    assert enter(client, clist, guests[2]).status_code == 201
    # pretix's own refusal comes first
    again = enter(client, clist, guests[2])
    assert again.data["reason"] == "already_redeemed"
    # staff's "check in anyway"
    assert enter(client, clist, guests[3], force=True).status_code == 201


@pytest.mark.django_db
def test_a_gate_capacity_counts_who_came_in_there(client, event, clist, organizer, guests):
    Gate.objects.create(organizer=organizer, name="North", identifier="north")
    assert set_capacity(client, event, list=clist.pk, gate="north", capacity=1).status_code == 200
    assert enter(client, clist, guests[0], gate="north").status_code == 201
    full = enter(client, clist, guests[1], gate="north")
    assert full.data["reason"] == "capacity" and "North" in full.data["reason_explanation"]
    assert enter(client, clist, guests[1]).status_code == 201  # another door of the list
    data = client.get(door_url(event)).data
    north = Gate.objects.get(identifier="north")
    assert data["capacities"] == [{"list": clist.pk, "gate": north.pk, "capacity": 1}]


@pytest.mark.django_db
def test_raising_and_removing_a_capacity_is_logged(client, event, clist, guests):
    set_capacity(client, event, list=clist.pk, capacity=1)
    enter(client, clist, guests[0])
    assert enter(client, clist, guests[1]).data["reason"] == "capacity"
    r = set_capacity(client, event, list=clist.pk, capacity=5)
    assert r.data == {"capacities": [{"list": clist.pk, "gate": None, "capacity": 5}]}
    assert enter(client, clist, guests[1]).status_code == 201
    assert set_capacity(client, event, list=clist.pk, capacity=None).data == {"capacities": []}
    assert not DoorCapacity.objects.exists()
    entries = LogEntry.objects.filter(action_type="pretix_desk.door.capacity").order_by("pk")
    assert [e.parsed_data["capacity"] for e in entries] == [1, 5, None]
    assert "set to 5" in str(entries[1].display())


@pytest.mark.django_db
def test_an_offline_upload_is_never_refused_for_capacity(client, event, clist, guests):
    set_capacity(client, event, list=clist.pk, capacity=1)
    enter(client, clist, guests[0])
    preload = client.get(desk_url(clist, "preload"))
    data = json.loads(b"".join(preload.streaming_content))
    # the desk learns that a capacity applies: offline, it says it cannot verify it
    assert data["capacities"] == [{"gate": None, "capacity": 1}]
    r = scan(client, clist, access_code=guests[1].secret, nonce=uuid.uuid4().hex,
             datetime=now().isoformat(), offline={"sync_token": data["sync_token"], "answer": "ok"})
    assert r.status_code == 201, r.data  # the door let them in: recorded, not refused


@pytest.mark.django_db
def test_a_new_capacity_changes_the_download(client, event, clist, guests):
    first = client.get(desk_url(clist, "preload"))
    assert client.get(desk_url(clist, "preload"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    set_capacity(client, event, list=clist.pk, capacity=300)
    assert client.get(desk_url(clist, "preload"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"list": 999999, "capacity": 5}, "list"),
    ({"list": "x", "capacity": 5}, "list"),
    ({"capacity": 5}, "list"),
    ({"list": 1, "capacity": 0}, "capacity"),
    ({"list": 1, "capacity": "many"}, "capacity"),
    ({"list": 1, "capacity": 10 ** 8}, "capacity"),
    ({"list": 1, "gate": "nowhere", "capacity": 5}, "gate"),
    ({"list": 1, "gate": 7, "capacity": 5}, "gate"),
    ({"list": 1}, "capacity"),
])
def test_bad_input_is_named_and_nothing_written(client, event, clist, body, field):
    body = {**body, "list": clist.pk} if body.get("list") == 1 else body
    r = set_capacity(client, event, **body)
    assert r.status_code == 400 and field in r.data
    assert not DoorCapacity.objects.exists()


@pytest.mark.django_db
def test_who_may_set_a_capacity(event, clist, organizer):
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    assert set_capacity(checkin_only, event, list=clist.pk, capacity=5).status_code == 403
    assert checkin_only.get(door_url(event)).status_code == 200  # but may read the door
    writer = team_client(organizer, permissions=["event.orders:read", "event.orders:write"])
    assert set_capacity(writer, event, list=clist.pk, capacity=5).status_code == 200
