"""The desks' reports about themselves (door/reports.py): a desk's sync carries X-Desk-Status,
the door endpoint shows every desk from it (those gone quiet as such), times are moved to
the server's clock, and a malformed report is ignored without failing the sync."""
import datetime
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.utils.timezone import now
from hypothesis import given, settings, strategies as st
from pretix.base.models import Gate

from pretix_desk.door.reports import QUIET_AFTER, parse_report
from pretix_desk.models import DeskReport

from .conftest import desk_url, scan
from .test_desk_door import door_url
from .test_desk_permissions import device_client

AT = datetime.datetime(2026, 12, 7, 18, 0, tzinfo=datetime.timezone.utc)


def ms(dt):
    return int(dt.timestamp() * 1000)


def header(at=None, **fields):
    at = at or now()
    values = {"id": "d3sk0000aaaa", "v": "1.0.0+abc", "st": "online", "now": ms(at), "since": ms(at),
              "q": 0, "p": 0, "f": 0, "s5": 0, **fields}
    return urlencode({k: v for k, v in values.items() if v is not None})


def sync(client, clist, value, path="preload"):
    url = desk_url(clist, path) + ("?q=" if path == "search" else "")
    return client.get(url, HTTP_X_DESK_STATUS=value)


def door_desks(client, event):
    r = client.get(door_url(event))
    assert r.status_code == 200, r.content
    return r.data["desks"]


def test_a_report_is_read_and_its_times_moved_to_the_servers_clock():
    desk_clock = AT - datetime.timedelta(minutes=7)  # the desk's clock is 7 minutes behind
    value = header(at=desk_clock, st="syncing", q=80, p=2, f=1, s5=41, g="north",
                   since=ms(desk_clock - datetime.timedelta(seconds=30)),
                   off=ms(desk_clock - datetime.timedelta(minutes=10)),
                   on=ms(desk_clock - datetime.timedelta(seconds=30)))
    report = parse_report(value, at=AT)
    assert (report.desk, report.state, report.gate) == ("d3sk0000aaaa", "syncing", "north")
    assert report.counts == {"queued": 80, "parked": 2, "failing": 1, "scans_5min": 41}
    assert report.times["offline_from"] == AT - datetime.timedelta(minutes=10)
    assert report.times["offline_until"] == AT - datetime.timedelta(seconds=30)
    assert report.times["last_sync"] is None


@pytest.mark.parametrize("value", [
    "", "garbage", header(at=AT, id="short"), header(at=AT, id="x" * 41), header(at=AT, st="asleep"), header(at=AT, v=""),
    header(at=AT, now=None), header(at=AT, now="-5"), header(at=AT, q="²"), header(at=AT, q="1e3"), header(at=AT, q=10 ** 7),
    header(at=AT, since="12.5"), header(at=AT) + "&q=3", header(at=AT, v="1.0 beta"), header(at=AT, g="x" * 191),
    header(at=AT, v="é"), "id=" + "a" * 700,
])
def test_what_is_not_a_report_is_none(value):
    assert parse_report(value, at=AT) is None


def test_a_time_in_the_future_or_before_2000_is_dropped_not_the_report():
    value = header(at=AT, sync=ms(AT + datetime.timedelta(hours=1)), off=1000)
    report = parse_report(value, at=AT)
    assert report is not None
    assert report.times["last_sync"] is None and report.times["offline_from"] is None


@pytest.mark.django_db
def test_the_door_shows_each_desk_as_its_syncs_report_it(client, event, clist, organizer, admin_user):
    north = Gate.objects.create(organizer=organizer, name="North", identifier="north")
    assert sync(client, clist, header(q=3, s5=20, g="north")).status_code == 200
    assert sync(client, clist, header(id="d3sk0000bbbb", st="unavailable")).status_code == 200
    desks = {d["desk"]: d for d in door_desks(client, event)}
    assert set(desks) == {"d3sk0000aaaa", "d3sk0000bbbb"}
    first = desks["d3sk0000aaaa"]
    assert (first["state"], first["queued"], first["scans_5min"], first["scans_per_minute"]) == ("online", 3, 20, 4.0)
    assert (first["gate"], first["list"], first["version"]) == (north.name, clist.pk, "1.0.0+abc")
    assert desks["d3sk0000bbbb"]["state"] == "unavailable"
    # The next report of the same desk replaces the first: one row per desk.
    assert sync(client, clist, header(q=0, s5=25)).status_code == 200
    assert DeskReport.objects.filter(event=event).count() == 2
    again = {d["desk"]: d for d in door_desks(client, event)}["d3sk0000aaaa"]
    assert (again["queued"], again["gate"]) == (0, None)


@pytest.mark.django_db
def test_a_desk_that_downloads_nothing_reports_with_its_probe(client, event, clist):
    r = sync(client, clist, header(), path="search")
    assert r.status_code == 400  # the empty search is refused, as before: the report is kept
    assert [d["desk"] for d in door_desks(client, event)] == ["d3sk0000aaaa"]


@pytest.mark.django_db
def test_a_desk_not_heard_from_shows_as_quiet(client, event, clist):
    assert sync(client, clist, header(q=12, s5=30)).status_code == 200
    DeskReport.objects.update(last_seen=now() - QUIET_AFTER - datetime.timedelta(seconds=1))
    (desk,) = door_desks(client, event)
    assert (desk["state"], desk["queued"], desk["scans_per_minute"]) == ("quiet", 12, 0.0)
    DeskReport.objects.update(last_seen=now() - datetime.timedelta(hours=13))
    assert door_desks(client, event) == []


@pytest.mark.django_db
def test_a_malformed_report_is_ignored_and_the_sync_answered(client, event, clist):
    r = sync(client, clist, "id=x;DROP TABLE&st=online")
    assert r.status_code == 200 and r["ETag"]
    assert scan(client, clist, access_code="nope").status_code == 404
    assert not DeskReport.objects.exists()


@pytest.mark.django_db
def test_only_the_syncs_carry_reports_and_devices_send_none(client, event, clist, organizer):
    assert client.post(desk_url(clist, "scan"), {"access_code": "nope"}, format="json",
                       HTTP_X_DESK_STATUS=header()).status_code == 404
    assert not DeskReport.objects.exists()
    device_api, _device = device_client(organizer, "pretix_desk")
    assert sync(device_api, clist, header()).status_code == 200
    assert not DeskReport.objects.exists()


@pytest.mark.django_db
def test_the_staff_member_is_shown_only_to_those_who_may_view_orders(event, clist, organizer):
    from django.test import Client
    from pretix.base.models import Team
    user = get_user_model().objects.create_user("door@example.org", "door")
    team = Team.objects.create(organizer=organizer, name="Door", all_events=True,
                               limit_event_permissions={"event.orders:checkin": True})
    team.members.add(user)
    browser = Client()
    browser.force_login(user)
    assert sync(browser, clist, header()).status_code == 200
    report = DeskReport.objects.get()
    assert report.user == user
    (desk,) = door_desks(browser, event)
    assert desk["user"] is None  # check-in only: the door page names no one
    admin = get_user_model().objects.create_user("boss@example.org", "boss")
    boss_team = Team.objects.create(organizer=organizer, name="Boss", all_events=True,
                                    limit_event_permissions={"event.orders:read": True})
    boss_team.members.add(admin)
    boss = Client()
    boss.force_login(admin)
    (desk,) = door_desks(boss, event)
    assert desk["user"] == "door@example.org"


@given(st.one_of(
    st.text(max_size=700),
    st.dictionaries(st.sampled_from(["id", "v", "st", "now", "since", "sync", "off", "on", "q", "p", "f", "s5", "g"]),
                    st.one_of(st.text(max_size=30), st.integers(-10 ** 20, 10 ** 20).map(str))).map(urlencode),
))
@settings(max_examples=400, deadline=None)
def test_no_header_value_makes_the_parser_throw(value):
    report = parse_report(value, at=AT)
    assert report is None or all(0 <= n <= 10 ** 6 for n in report.counts.values())
