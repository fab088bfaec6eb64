"""Who sees whom (issue 17): records sealed per ticket code, the search index only for those
who may list attendees (as pretix draws the line for its own check-in API), masters kept and
derived in the background, and queued scans sealed to the server."""
import json
import os
import uuid

import pytest
from cryptography.exceptions import InvalidTag
from django.test import override_settings
from django.urls import reverse
from pretix.api.models import OAuthAccessToken, OAuthApplication
from pretix.base.models import Checkin, OrderPosition, RevokedTicketSecret
from rest_framework.test import APIClient

from pretix_desk.desk import envelope, sealing
from pretix_desk.models import SealKey
from tests.conftest import make_order, team_client

from .conftest import desk_url, scan
from .test_desk_permissions import device_client
from .test_desk_preload import by_position, hashed, plain_hashed, preload

ATTENDEES = [("Ada Lovelace", "ada@example.org"), ("Grace Hopper", "grace@example.org"),
             ("Alan Turing", "alan@example.org")]


@pytest.fixture
def attendees(event, ticket, clist):
    return [make_order(event, [ticket], code=f"SEAL{i}", name=name, email=email).positions.get()
            for i, (name, email) in enumerate(ATTENDEES)]


def oauth_client(organizer, admin_user, scope):
    app = OAuthApplication.objects.create(name="Desk app", redirect_uris="https://example.org",
                                          client_type="confidential", authorization_grant_type="authorization-code")
    token = OAuthAccessToken.objects.create(token=uuid.uuid4().hex, user=admin_user, application=app, scope=scope,
                                            expires="2099-01-01T00:00:00Z")
    token.organizers.add(organizer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + token.token)
    return client


def session_client(organizer, user_factory, permissions):
    from pretix.base.models import Team

    user = user_factory()
    team = Team.objects.create(organizer=organizer, name="Door", all_events=True,
                               limit_event_permissions={p: True for p in permissions})
    team.members.add(user)
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def callers(organizer, admin_user, token_client, django_user_model):
    counter = iter(range(100))

    def user():
        return django_user_model.objects.create_user(f"door{next(counter)}@example.org", "pw")

    return {
        "token with read": (team_client(organizer, permissions=["event.orders:read", "event.orders:checkin"]), True),
        "token, check-in only": (team_client(organizer, permissions=["event.orders:checkin"]), False),
        "device": (device_client(organizer, "pretix_desk")[0], False),
        "oauth read": (oauth_client(organizer, admin_user, "read write"), True),
        "session with read": (session_client(organizer, user, ["event.orders:read", "event.orders:checkin"]), True),
        "session, check-in only": (session_client(organizer, user, ["event.orders:checkin"]), False),
    }


def pretix_lists_everyone(client, clist):
    r = client.get(reverse("api-v1:checkinlistpos-list", kwargs={
        "organizer": clist.event.organizer.slug, "event": clist.event.slug, "list": clist.pk}))
    assert r.status_code == 200, r.content
    return r.data["count"] > 0


@pytest.mark.django_db
def test_what_each_caller_can_list_is_what_pretix_lets_it_list(clist, attendees, callers):
    """Names, e-mails and order codes of everyone are in the download exactly for those who
    get everyone from pretix's own check-in list positions; devices never (a door device)."""
    for name, (client, lists) in callers.items():
        if name != "device":
            assert pretix_lists_everyone(client, clist) == lists, name
        r, data = preload(client, clist)
        assert r.status_code == 200, name
        text = json.dumps(data)
        assert data["search"] is lists, name
        for person, email in ATTENDEES:
            assert (person in text, email in text) == (lists, lists), name
        assert all(("index" in rec) == lists for rec in data["attendees"]), name
        assert ("SEAL0" in text) == lists, name  # order codes too


@pytest.mark.django_db
def test_search_and_lookup_give_each_caller_what_pretix_gives(clist, attendees, callers):
    """The one person in front of the desk: found by a search of three characters or by the
    code, as pretix's checkinrpc/search and its answers to a scan allow."""
    ada = attendees[0]
    for name, (client, _lists) in callers.items():
        ours = client.get(desk_url(clist, "search") + "?q=Lovel").data["results"]
        assert [r["attendee"]["name"] for r in ours] == ["Ada Lovelace"], name
        if name != "device":  # devices search pretix only with a device profile of pretixSCAN's
            theirs = client.get(reverse("api-v1:checkinrpc.search", kwargs={"organizer": clist.event.organizer.slug}),
                                {"list": clist.pk, "search": "Lovel"})
            assert theirs.status_code == 200 and theirs.data["count"] == len(ours), name
        assert client.get(desk_url(clist, "lookup", code=ada.secret)).data["attendee"]["name"] == "Ada Lovelace"


@pytest.mark.django_db
def test_a_record_opens_with_its_own_code_only(client, clist, attendees):
    _, data = preload(team_client(clist.event.organizer, permissions=["event.orders:checkin"]), clist)
    records = {rec["code_hash"]: rec for rec in data["attendees"]}
    salt = data["seal"]["salt"]
    assert data["seal"] == {"v": 1, "kdf": "PBKDF2-SHA256", "salt": salt, "iterations": sealing.ITERATIONS}
    ada, grace = attendees[:2]
    rec = records[hashed(data, ada.secret)]
    assert sealing.unseal(ada.secret, salt, rec["code_hash"], rec["sealed"])["n"] == "Ada Lovelace"
    assert set(rec["attendee"]) & set(sealing.PERSONAL) == set()
    with pytest.raises(InvalidTag):
        sealing.unseal(grace.secret, salt, rec["code_hash"], rec["sealed"])
    assert plain_hashed(data, ada.secret) not in records  # the plain hash finds no sealed record


@pytest.mark.django_db
def test_a_login_with_the_index_has_sealed_only_what_the_index_does_not_show(client, clist, event, attendees):
    """The index names everyone for a login that may list attendees; sealing the same again
    would only cost bytes. What the index does not show (check-in texts here) stays sealed,
    and the record is found by its lookup id as for everybody."""
    ada, grace = attendees[:2]
    ada.order.checkin_text = "Wristband for Ada"
    ada.order.save(update_fields=["checkin_text"])
    _, data = preload(client, clist)
    assert data["search"] is True
    records = {rec["code_hash"]: rec for rec in data["attendees"]}
    salt = data["seal"]["salt"]
    rec = records[hashed(data, ada.secret)]
    assert rec["index"]["name"] == "Ada Lovelace"
    assert sealing.unseal(ada.secret, salt, rec["code_hash"], rec["sealed"]) == {"t": ["Wristband for Ada"]}
    assert records[hashed(data, grace.secret)]["sealed"] == ""
    assert plain_hashed(data, ada.secret) not in records


@pytest.mark.django_db
def test_masters_are_derived_once_and_again_for_a_new_code(client, clist, attendees, monkeypatch):
    calls = []
    real = sealing.derive_master
    monkeypatch.setattr(sealing, "derive_master", lambda code, salt: calls.append(code) or real(code, salt))
    _, first = preload(client, clist)
    assert sorted(calls) == sorted(op.secret for op in attendees) and SealKey.objects.count() == 3
    calls.clear()
    _, again = preload(client, clist, since=first["sync_token"])
    preload(client, clist)
    assert calls == []
    ada = attendees[0]
    old = ada.secret
    r = client.post(f"/api/v1/organizers/{clist.event.organizer.slug}/events/{clist.event.slug}"
                    f"/orderpositions/{ada.pk}/regenerate_secrets/")
    assert r.status_code == 200
    ada.refresh_from_db()
    _, incremental = preload(client, clist, since=first["sync_token"])
    assert calls == [ada.secret]  # (the desk replaces the record of the same owner)
    assert by_position(incremental)[ada.pk]["code_hash"] == hashed(incremental, ada.secret)
    # a generator that keeps revoked codes: a desk forgets both hashes the old code had
    RevokedTicketSecret.objects.create(event=clist.event, position=ada, secret=old)
    _, incremental = preload(client, clist, since=first["sync_token"])
    assert {hashed(first, old), plain_hashed(first, old)} <= set(incremental["removed"])


@pytest.mark.django_db
@override_settings(HAS_CELERY=True)
def test_what_the_budget_leaves_is_sent_without_personal_data_and_derived_in_the_background(
        client, clist, event, ticket, attendees, monkeypatch):
    """A download finds no master for most of a big event at first: those records carry no
    personal data and are found by the plain hash; the background task derives the rest
    (here eagerly, at the end of the download) and marks their orders changed, so the next
    incremental sync brings them sealed."""
    monkeypatch.setattr(sealing, "DERIVE_BUDGET_SECONDS", 0)
    r, data = preload(client, clist)
    assert all(rec["sealed"] is None for rec in data["attendees"])
    assert {rec["code_hash"] for rec in data["attendees"]} == {plain_hashed(data, op.secret) for op in attendees}
    assert "Ada Lovelace" not in json.dumps([{k: v for k, v in rec.items() if k != "index"}
                                             for rec in data["attendees"]])
    assert SealKey.objects.count() == 3  # the task ran (eagerly, without a worker)
    r, delta = preload(client, clist, since=data["sync_token"])  # no full download again
    assert r.status_code == 200 and len(delta["attendees"]) == 3
    # found by the lookup id now (nothing to seal beyond the index this login gets)
    assert {rec["code_hash"] for rec in delta["attendees"]} == {hashed(delta, op.secret) for op in attendees}
    assert all(rec["sealed"] == "" for rec in delta["attendees"])


@pytest.mark.django_db
def test_a_queued_scan_sealed_to_the_server_is_uploaded_by_any_door_login(clist, organizer, event, attendees):
    ada = attendees[0]
    nonce = uuid.uuid4().hex
    body = {"sealed": envelope.seal_for(event, {"access_code": ada.secret}, nonce=nonce), "nonce": nonce,
            "datetime": "2026-01-01T10:00:00+00:00"}
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    r = scan(checkin_only, clist, **body)
    assert r.status_code == 201 and r.data["attendee"]["name"] == "Ada Lovelace", r.data
    assert Checkin.objects.get(position=ada).nonce == nonce


@pytest.mark.django_db
@pytest.mark.parametrize("what", ["other nonce", "other event", "garbage", "also clear", "other field"])
def test_a_sealed_item_that_cannot_be_opened_is_400_and_writes_nothing(client, clist, event, other_event,
                                                                       attendees, what):
    ada = attendees[0]
    content = {"access_code": ada.secret}
    sealed = {
        "other nonce": lambda: envelope.seal_for(event, content, nonce="another"),
        "other event": lambda: envelope.seal_for(other_event, content, nonce="n1"),
        "garbage": lambda: {"v": 1, "epk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "iv": "x", "ct": "y"},
        "also clear": lambda: envelope.seal_for(event, content, nonce="n1"),
        "other field": lambda: envelope.seal_for(event, {**content, "force": True}, nonce="n1"),
    }[what]()
    body = {"sealed": sealed, "nonce": "n1"}
    if what == "also clear":
        body["access_code"] = ada.secret
    r = scan(client, clist, **body)
    assert r.status_code == 400 and "sealed" in r.data, r.data
    assert not Checkin.all.exists()


@pytest.mark.django_db
def test_one_key_pair_per_event(event, other_event):
    assert envelope.public_jwk(event) == envelope.public_jwk(event)
    assert envelope.public_jwk(event)["kid"] != envelope.public_jwk(other_event)["kid"]
    assert OrderPosition  # (imported for the scoped fixtures)


def test_sealed_json_opens_as_the_fields_given():
    """Names with quotes, slashes and letters beyond ASCII come back as they were sealed."""
    master = sealing.derive_master("CODE", "salt")
    data = {"n": "Zoë \"Zed\" O'Neil / 李", "e": "z@example.org", "t": ["VIP", "a\\b"]}
    lookup = sealing.lookup_id(master, "list")
    assert sealing.unseal("CODE", "salt", lookup, sealing.seal(master, lookup, data)) == data


@pytest.mark.parametrize("length", [16, 32])
def test_key_derivation_is_rfc_5869_hkdf(length):
    """The page derives with WebCrypto's HKDF: the server's two HMACs must give the same
    bytes as a full HKDF implementation, for the lookup id's length and the key's."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    for i in range(50):
        master = os.urandom(32)
        info = ("pretix-desk lookup v1:list-%d" % i).encode()
        expected = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)
        assert sealing._hkdf(master, info, length) == expected


def test_a_record_sealed_in_one_step_opens_as_one_sealed_in_two():
    """The preload derives a record's lookup id and key from one extract step: the same id,
    and a seal that opens with the code, as ``lookup_id`` and ``seal`` give."""
    master = sealing.derive_master("CODE", "salt")
    lookup, sealed = sealing.lookup_and_seal(master, "list", {"n": "Ada"})
    assert lookup == sealing.lookup_id(master, "list")
    assert sealing.unseal("CODE", "salt", lookup, sealed) == {"n": "Ada"}
    assert sealing.lookup_and_seal(master, "list", {}) == (lookup, "")
