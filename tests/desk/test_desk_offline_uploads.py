"""What the door did offline is recorded the way pretix records pretixSCAN's offline uploads
(issue 16): refusals as failed scans, admissions as check-ins at their original time, forced
where the ticket changed after the desk's download, and never a forced check-in that a
check-in-only login could make up."""
import datetime
import json
import uuid

import pytest
from django.utils.timezone import now
from pretix.base.models import Checkin, Gate, LogEntry, Order, RevokedTicketSecret
from pretix.base.services.checkin import perform_checkin

from pretix_desk.desk.sync import fingerprint_of, make_sync_token
from tests.conftest import make_order, team_client

from .conftest import desk_url, scan
from .test_desk_permissions import device_client
from .test_desk_preload import preload

HOUR = datetime.timedelta(hours=1)


def token_at(clist, when):
    """The sync token of a download of ``clist`` made at ``when``."""
    return make_sync_token(checkin_list=clist, product_id=None, fingerprint=fingerprint_of(clist), started_at=when)


def upload(client, clist, code, *, answer="ok", reason=None, downloaded=None, scanned=None, nonce=None, **extra):
    offline = {"answer": answer, "sync_token": token_at(clist, downloaded or now() - HOUR)}
    if reason:
        offline["reason"] = reason
    body = {"access_code": code, "nonce": nonce or uuid.uuid4().hex,
            "datetime": (scanned or now() - datetime.timedelta(minutes=30)).isoformat(), "offline": offline, **extra}
    return scan(client, clist, **body)


def used_at(position, clist, when, gate=None):
    perform_checkin(op=position, clist=clist, given_answers={}, datetime=when, questions_supported=False, gate=gate)


def set_modified(order, when):
    Order.objects.filter(pk=order.pk).update(last_modified=when)


def change(order, status, *, at=None):
    """Change an order's status as pretix's office does it: with a log entry (at ``at``)."""
    order.status = status
    order.save()
    entry = order.log_action("pretix.event.order.canceled" if status == Order.STATUS_CANCELED
                             else "pretix.event.order.unpaid")
    if at is not None:
        LogEntry.objects.filter(pk=entry.pk).update(datetime=at)
        set_modified(order, at)


def used_long_ago(position, clist, when):
    """A check-in made (and created) at ``when``."""
    used_at(position, clist, when)
    Checkin.objects.filter(position=position).update(created=when)
    set_modified(position.order, when)


@pytest.mark.django_db
def test_an_admission_of_an_unchanged_ticket_is_an_ordinary_checkin_made_offline(client, clist, position):
    scanned = now() - datetime.timedelta(minutes=30)
    r = upload(client, clist, position.secret, scanned=scanned)
    assert r.status_code == 201, r.data
    assert r.data["status"] == "ok" and r.data["offline"] == {"recorded": "checkin", "conflict": None}
    ci = Checkin.objects.get(position=position)
    assert ci.datetime == scanned and ci.force_sent is True and ci.forced is False


@pytest.mark.django_db
def test_a_ticket_used_at_another_gate_after_the_download_is_recorded_forced(client, clist, organizer, position):
    gate_b = Gate.objects.create(organizer=organizer, name="Gate B", identifier="B")
    downloaded = now() - HOUR
    used_at(position, clist, now() - datetime.timedelta(minutes=40), gate=gate_b)
    r = upload(client, clist, position.secret, downloaded=downloaded, scanned=now() - datetime.timedelta(minutes=35))
    assert r.status_code == 201, r.data
    assert r.data["offline"]["recorded"] == "forced"
    conflict = r.data["offline"]["conflict"]
    assert conflict["reason"] == "already_redeemed" and conflict["position_id"] == position.pk
    assert conflict["checkin"]["forced"] is True
    assert [(o["gate"], o["forced"]) for o in conflict["others"]] == [("Gate B", False)]
    entries = Checkin.objects.filter(position=position).order_by("datetime")
    assert [(c.forced, c.force_sent) for c in entries] == [(False, False), (True, True)]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Order.STATUS_CANCELED, Order.STATUS_PENDING])
def test_an_order_canceled_or_unpaid_since_the_download_is_recorded_forced(client, clist, organizer, event, order,
                                                                           position, status):
    api = f"/api/v1/organizers/{organizer.slug}/events/{event.slug}/orders/{order.code}/"
    action = "mark_canceled" if status == Order.STATUS_CANCELED else "mark_pending"
    assert client.post(api + action + "/", {}, format="json").status_code == 200
    r = upload(client, clist, position.secret)
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "forced", r.data
    assert r.data["offline"]["conflict"]["reason"] == ("canceled" if status == Order.STATUS_CANCELED else "unpaid")
    assert Checkin.objects.get(position=position).forced is True


@pytest.mark.django_db
def test_what_the_download_already_showed_is_recorded_refused_not_forced(client, clist, order, position):
    """A desk whose copy said "already used" must not have admitted: nobody may turn a live
    refusal into a forced check-in by calling it an offline upload."""
    used_long_ago(position, clist, now() - 3 * HOUR)
    r = upload(client, clist, position.secret, downloaded=now() - HOUR)
    assert r.status_code == 201, r.data
    assert r.data["status"] == "error" and r.data["offline"]["recorded"] == "refused"
    assert r.data["offline"]["conflict"]["reason"] == "already_redeemed"
    assert r.data["offline"]["conflict"]["checkin"] is None
    assert Checkin.objects.filter(position=position).count() == 1
    failed = Checkin.all.get(position=position, successful=False)
    assert (failed.error_reason, failed.forced, failed.force_sent) == ("already_redeemed", True, True)


@pytest.mark.django_db
def test_a_checkin_only_login_and_a_device_upload_what_their_desk_admitted(client, clist, organizer, order, position):
    change(order, Order.STATUS_CANCELED)
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    assert scan(checkin_only, clist, access_code=position.secret, force=True).status_code == 403
    r = upload(checkin_only, clist, position.secret)
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "forced", r.data
    second = make_order(order.event, [position.item], code="SECND").positions.get()
    change(second.order, Order.STATUS_CANCELED)
    device, _ = device_client(organizer, "pretix_desk")
    r = upload(device, clist, second.secret)
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "forced", r.data


@pytest.mark.django_db
def test_a_fresh_token_forces_nothing(client, clist, organizer, order, position):
    """A check-in-only login that downloads now and claims an offline admission of a ticket
    canceled an hour ago gets a refused scan."""
    change(order, Order.STATUS_CANCELED, at=now() - HOUR)
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    _, data = preload(checkin_only, clist)
    r = scan(checkin_only, clist, access_code=position.secret, nonce="fresh", datetime=now().isoformat(),
             offline={"answer": "ok", "sync_token": data["sync_token"]})
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "refused", r.data
    assert not Checkin.objects.filter(position=position).exists()


@pytest.mark.django_db
def test_a_list_changed_since_the_download_excuses_its_refusal(client, clist, order, position, tshirt):
    set_modified(order, now() - 3 * HOUR)
    token = token_at(clist, now() - HOUR)
    clist.limit_products.set([tshirt])  # the desk's copy still admitted tickets
    r = scan(client, clist, access_code=position.secret, nonce="n1", datetime=(now() - HOUR / 2).isoformat(),
             offline={"answer": "ok", "sync_token": token})
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "forced", r.data
    assert r.data["offline"]["conflict"]["reason"] == "product"


@pytest.mark.django_db
def test_an_offline_refusal_is_recorded_as_a_failed_scan_and_admits_nobody(client, clist, order, position):
    """The desk turned someone away: that is recorded, even though the ticket is valid now."""
    r = upload(client, clist, position.secret, answer="error", reason="unpaid", nonce="refused-1")
    assert r.status_code == 201, r.data
    assert r.data["offline"] == {"recorded": "refused", "conflict": None}
    assert not Checkin.objects.filter(position=position).exists()
    failed = Checkin.all.get(position=position)
    assert (failed.successful, failed.error_reason, failed.forced, failed.force_sent) == (False, "unpaid", True, True)
    log = LogEntry.objects.filter(action_type="pretix.event.checkin.denied").get()
    assert log.parsed_data["errorcode"] == "unpaid"
    # the upload retried: the first answer, nothing new
    r = upload(client, clist, position.secret, answer="error", reason="unpaid", nonce="refused-1")
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "refused"
    assert Checkin.all.filter(position=position).count() == 1


@pytest.mark.django_db
def test_a_retried_upload_gets_the_first_answer(client, clist, order, position):
    change(order, Order.STATUS_CANCELED)
    first = upload(client, clist, position.secret, nonce="again")
    second = upload(client, clist, position.secret, nonce="again")
    assert second.status_code == 201
    assert second.data["offline"]["recorded"] == first.data["offline"]["recorded"] == "forced"
    assert second.data["offline"]["conflict"]["checkin"]["id"] == first.data["offline"]["conflict"]["checkin"]["id"]
    assert Checkin.all.filter(position=position).count() == 1


@pytest.mark.django_db
def test_a_code_revoked_since_the_download_checks_in_its_old_ticket(client, clist, event, order, position):
    old = position.secret
    RevokedTicketSecret.objects.create(event=event, position=position, secret=old)
    position.secret = "NEWSECRET0000000000000001"
    position.save()
    set_modified(order, now() - 3 * HOUR)
    r = upload(client, clist, old)
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "forced", r.data
    ci = Checkin.objects.get(position=position)
    assert ci.forced is True and ci.raw_barcode == old


@pytest.mark.django_db
def test_an_unknown_code_is_recorded_as_pretix_records_one(client, clist):
    r = upload(client, clist, "NOSUCHCODE00000000000000")
    assert r.status_code == 201, r.data
    assert r.data["reason"] == "invalid" and r.data["offline"]["recorded"] == "refused"
    assert r.data["offline"]["conflict"]["position_id"] is None
    assert Checkin.all.get().error_reason == "invalid"


@pytest.mark.django_db
@pytest.mark.parametrize("offline, field", [
    ({"answer": "ok", "sync_token": "forged"}, "sync_token"),
    ({"answer": "ok"}, "sync_token"),
    ({"answer": "maybe", "sync_token": None}, "answer"),
    ({"answer": "error", "sync_token": None}, "reason"),
    ({"answer": "ok", "reason": "unpaid", "sync_token": None}, "reason"),
    ({"answer": "error", "reason": "tired", "sync_token": None}, "reason"),
])
def test_a_malformed_upload_is_400_naming_the_field_and_writes_nothing(client, clist, position, offline, field):
    if offline.get("sync_token", "") is None:
        offline["sync_token"] = token_at(clist, now() - HOUR)
    r = scan(client, clist, access_code=position.secret, nonce="n", datetime=now().isoformat(), offline=offline)
    assert r.status_code == 400 and field in str(r.data["offline"]), r.data
    assert not Checkin.all.exists()


@pytest.mark.django_db
def test_an_upload_needs_its_nonce_and_time_and_a_token_of_its_list(client, clist, event, position):
    token = token_at(clist, now() - HOUR)
    r = scan(client, clist, access_code=position.secret, offline={"answer": "ok", "sync_token": token})
    assert r.status_code == 400 and "offline" in r.data
    other = event.checkin_lists.create(name="Other")
    r = scan(client, other, access_code=position.secret, nonce="n", datetime=now().isoformat(),
             offline={"answer": "ok", "sync_token": token})
    assert r.status_code == 400 and "sync_token" in r.data["offline"]
    assert not Checkin.all.exists()


@pytest.mark.django_db
def test_a_ticket_that_needs_a_medium_exchange_is_not_recorded(client, clist, order, position, ticket):
    ticket.media_policy = "new"
    ticket.media_type = "barcode"
    ticket.save()
    set_modified(order, now() - 3 * HOUR)
    token = make_sync_token(checkin_list=clist, product_id=None, fingerprint=fingerprint_of(clist),
                            started_at=now() - HOUR)
    r = scan(client, clist, access_code=position.secret, nonce="n", datetime=now().isoformat(),
             offline={"answer": "ok", "sync_token": token})
    assert r.status_code == 400 and r.data["reason"] == "exchange" and "offline" not in r.data, r.data
    assert not Checkin.all.exists()


@pytest.mark.django_db
def test_the_preload_lists_the_conflicts_of_offline_uploads(client, clist, event, ticket, organizer, position):
    gate_b = Gate.objects.create(organizer=organizer, name="Gate B", identifier="B")
    _, before = preload(client, clist)
    assert before["conflicts"] == []
    used_at(position, clist, now() - datetime.timedelta(minutes=40), gate=gate_b)
    theirs = Checkin.objects.get(position=position)
    theirs.nonce = "desk-b-nonce"
    theirs.save()
    r = upload(client, clist, position.secret, nonce="desk-a-nonce")
    assert r.data["offline"]["recorded"] == "forced"
    clean = make_order(event, [ticket], code="CLEAN").positions.get()
    assert upload(client, clist, clean.secret).data["offline"]["recorded"] == "checkin"

    _, full = preload(client, clist)
    _, incremental = preload(client, clist, since=before["sync_token"])
    for data in (full, incremental):
        (conflict,) = data["conflicts"]
        assert conflict["position_id"] == position.pk and conflict["reason"] is None
        assert conflict["checkin"]["nonce"] == "desk-a-nonce"
        assert [o["nonce"] for o in conflict["others"]] == ["desk-b-nonce"]
    # recorded longer ago than the token's overlap: the next incremental sync leaves it out
    Checkin.objects.filter(nonce="desk-a-nonce").update(created=now() - datetime.timedelta(minutes=10))
    _, full = preload(client, clist)
    assert len(full["conflicts"]) == 1
    _, later = preload(client, clist, since=full["sync_token"])
    assert later["conflicts"] == []


@pytest.mark.django_db
def test_a_refusal_is_recorded_on_the_list_that_answered_it(client, clist, event, order, position):
    """Even where another of the desk's lists would admit the ticket now."""
    other = event.checkin_lists.create(name="Other")
    r = upload(client, clist, position.secret, answer="error", reason="already_redeemed", other_lists=[other.pk])
    assert r.status_code == 201 and r.data["list"]["id"] == clist.pk, r.data
    assert Checkin.all.get(position=position).list == clist


@pytest.mark.django_db
def test_what_changed_in_the_two_minutes_before_the_download_excuses_a_refusal(client, clist, event, ticket, order,
                                                                               position):
    """The download's time less the sync overlap (docs/offline.rst: two minutes) decides what the
    desk could not have known: a transaction still open then may not be in its copy."""
    downloaded = now() - HOUR
    later = make_order(event, [ticket], code="LATER")
    for o, before in ((order, datetime.timedelta(seconds=130)), (later, datetime.timedelta(seconds=110))):
        change(o, Order.STATUS_CANCELED, at=downloaded - before)
    assert upload(client, clist, position.secret, downloaded=downloaded).data["offline"]["recorded"] == "refused"
    r = upload(client, clist, later.positions.get().secret, downloaded=downloaded)
    assert r.data["offline"]["recorded"] == "forced", r.data


def forced_checkins(position, clist, n, *, created):
    Checkin.objects.bulk_create([
        Checkin(position=position, list=clist, datetime=created, forced=True, nonce=f"forced-{i}")
        for i in range(n)
    ])
    Checkin.objects.filter(position=position, forced=True).update(created=created)


@pytest.mark.django_db
def test_the_preload_lists_at_most_100_conflicts_of_a_day_with_10_others_each(client, clist, event, ticket,
                                                                              position):
    """docs/desk-api.rst: ``conflicts`` newest first, at most 100; without ``since``, those
    of the last 24 hours; ``others`` at most 10."""
    Checkin.objects.bulk_create([
        Checkin(position=position, list=clist, datetime=now() - datetime.timedelta(hours=30, minutes=i))
        for i in range(11)
    ])
    forced_checkins(position, clist, 1, created=now() - datetime.timedelta(hours=25))
    crowd = make_order(event, [ticket], code="CROWD").positions.get()
    forced_checkins(crowd, clist, 101, created=now() - datetime.timedelta(hours=23))
    _, data = preload(client, clist)
    assert len(data["conflicts"]) == 100
    assert {c["position_id"] for c in data["conflicts"]} == {crowd.pk}
    assert all(len(c["others"]) == 10 for c in data["conflicts"])

    Checkin.objects.filter(position=crowd).delete()
    _, data = preload(client, clist)
    assert data["conflicts"] == []
    Checkin.objects.filter(position=position, forced=True).update(created=now() - datetime.timedelta(hours=23))
    _, data = preload(client, clist)
    (conflict,) = data["conflicts"]
    assert conflict["position_id"] == position.pk and len(conflict["others"]) == 10


@pytest.mark.django_db
def test_a_checkin_only_login_cannot_force_by_being_refused_first(client, clist, organizer, order, position):
    """A live refusal recorded after the download touches the order, but is no change the
    download could not show."""
    change(order, Order.STATUS_CANCELED, at=now() - HOUR)
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    _, data = preload(checkin_only, clist)
    assert scan(checkin_only, clist, access_code=position.secret).status_code == 400
    r = scan(checkin_only, clist, access_code=position.secret, nonce="after-refusal", datetime=now().isoformat(),
             offline={"answer": "ok", "sync_token": data["sync_token"]})
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "refused", r.data


@pytest.mark.django_db
def test_a_checkin_only_login_cannot_force_by_uploading_in_another_language(clist, organizer, order, position):
    """The language changes what records show, not who is admitted."""
    change(order, Order.STATUS_CANCELED, at=now() - HOUR)
    checkin_only = team_client(organizer, permissions=["event.orders:checkin"])
    r = checkin_only.get(desk_url(clist, "preload"), HTTP_ACCEPT_LANGUAGE="de")
    data = json.loads(b"".join(r.streaming_content))
    r = checkin_only.post(desk_url(clist, "scan"), {
        "access_code": position.secret, "nonce": "other-language", "datetime": now().isoformat(),
        "offline": {"answer": "ok", "sync_token": data["sync_token"]},
    }, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 201 and r.data["offline"]["recorded"] == "refused", r.data
