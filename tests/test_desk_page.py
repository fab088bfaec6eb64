"""The desk page's views without a browser: who may open it, what it hands the scripts, and
the service worker that keeps it usable offline."""
import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django_scopes import scopes_disabled
from pretix.base.models import CheckinList, Team, User

from pretix_desk.views.desk import DESK_ASSETS, desk_strings

PAGE = "/control/event/bigevents/sampleconf/desk/"
SW = PAGE + "sw.js"
STATIC_DIR = Path(__file__).resolve().parents[1] / "pretix_desk" / "static" / "pretix_desk" / "desk"


def user_client(organizer, event, *, permissions=None, email="door@example.org"):
    user = User.objects.create_user(email, "pw")
    team = Team.objects.create(
        organizer=organizer, name="Door",
        limit_event_permissions={p: True for p in (permissions or [])},
    )
    team.limit_events.add(event)
    team.members.add(user)
    client = Client()
    assert client.login(email=email, password="pw")
    return client


def json_block(html, element_id):
    match = re.search(r'<script id="{}" type="application/json">(.*?)</script>'.format(element_id), html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


@pytest.fixture
def checkin_client(organizer, event, clist):
    return user_client(organizer, event, permissions=["event.orders:checkin"])


@pytest.mark.django_db
def test_page_hands_lists_api_urls_and_csrf_to_the_scripts(checkin_client, event, clist):
    with scopes_disabled():
        exits = CheckinList.objects.create(event=event, name="Exit hall", allow_entry_after_exit=False,
                                           allow_multiple_entries=True)
    response = checkin_client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    config = json_block(html, "desk-config")
    assert [(entry["id"], entry["name"]) for entry in config["lists"]] == [(exits.pk, "Exit hall"), (clist.pk, "Main")]
    main = config["lists"][1]
    assert main["api"] == "/api/v1/organizers/bigevents/events/sampleconf/checkinlists/{}/desk/".format(clist.pk)
    assert config["lists"][0]["allow_multiple_entries"] is True
    assert config["csrf_token"]
    assert config["urls"]["service_worker"] == SW
    assert config["urls"]["page"] == PAGE
    assert config["storage_key"] == "pretix_desk:bigevents:sampleconf"
    strings = json_block(html, "desk-strings")
    assert strings == {key: str(value) for key, value in desk_strings().items()}
    assert strings["reason_already_redeemed_at"] == "Already used at {time}"


@pytest.mark.django_db
def test_page_loads_nothing_from_elsewhere(checkin_client):
    html = checkin_client.get(PAGE).content.decode()
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url
    assert "<script>" not in html  # the page's CSP allows no inline script


@pytest.mark.django_db
def test_the_config_block_cannot_be_broken_out_of(checkin_client, event):
    with scopes_disabled():
        CheckinList.objects.create(event=event, name="</script><script>alert(1)</script>")
    html = checkin_client.get(PAGE).content.decode()
    assert "<script>alert(1)" not in html
    names = [entry["name"] for entry in json_block(html, "desk-config")["lists"]]
    assert "</script><script>alert(1)</script>" in names


@pytest.mark.django_db
@pytest.mark.parametrize("permissions,status", [
    (["event.orders:checkin"], 200),
    (["event.orders:write"], 200),
    (["event.orders:read"], 403),
    (["event.settings.general:write"], 403),
])
def test_who_may_open_the_desk(organizer, event, clist, permissions, status):
    client = user_client(organizer, event, permissions=permissions)
    assert client.get(PAGE).status_code == status
    assert client.get(SW).status_code == status


@pytest.mark.django_db
def test_team_of_another_event_may_not_open_it(organizer, event, other_event, clist):
    client = user_client(organizer, other_event, permissions=["event.orders:checkin"])
    assert client.get(PAGE).status_code in (403, 404)


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(event):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "/control/login" in response["Location"]


@pytest.mark.django_db
def test_not_there_when_the_plugin_is_off(checkin_client, event):
    event.plugins = "pretix.plugins.banktransfer"
    event.save()
    assert checkin_client.get(PAGE).status_code == 404
    assert checkin_client.get(SW).status_code == 404


@pytest.mark.django_db
def test_service_worker_precaches_every_asset_of_the_page(checkin_client):
    response = checkin_client.get(SW)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    config = json.loads(re.search(r"const CONFIG = (\{.*?\});", body).group(1))
    assert config["page"] == PAGE
    assert config["cache"].startswith("pretix-desk-")
    assert set(config["assets"]) == {"/static/pretix_desk/desk/" + name for name in DESK_ASSETS}
    # nothing the page imports is missing from the list, and every listed file exists
    on_disk = {str(p.relative_to(STATIC_DIR)) for p in STATIC_DIR.rglob("*") if p.suffix in (".js", ".css")}
    assert on_disk == set(DESK_ASSETS)
    for name in DESK_ASSETS:
        assert finders.find("pretix_desk/desk/" + name), name


@pytest.mark.django_db
def test_modules_import_only_their_siblings():
    imports = [
        (path.name, target)
        for path in STATIC_DIR.glob("*.js")
        for target in re.findall(r'^import .*? from "([^"]+)";', path.read_text(), re.M)
    ]
    assert ("main.js", "./queue.js") in imports
    for name, target in imports:
        assert target.startswith("./") and (STATIC_DIR / target[2:]).exists(), (name, target)


@pytest.mark.django_db
def test_navigation_entry_under_checkin_lists(checkin_client, organizer, event, clist):
    response = checkin_client.get("/control/event/bigevents/sampleconf/")
    assert response.status_code == 200
    assert PAGE in response.content.decode()


@pytest.mark.django_db
def test_no_navigation_entry_without_checkin_permission(organizer, event, clist):
    client = user_client(organizer, event, permissions=["event.orders:read"], email="viewer@example.org")
    response = client.get("/control/event/bigevents/sampleconf/checkinlists/")
    assert response.status_code == 200
    assert PAGE not in response.content.decode()
