"""The desk page's views without a browser: who may open it, what it hands the scripts, and
the service worker that keeps it usable offline."""
import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django_scopes import scopes_disabled
from pretix.base.models import CheckinList, Gate, Team, User

from pretix_desk.views.desk import desk_asset_names, desk_strings

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
def test_the_session_url_says_who_is_logged_in_or_sends_to_the_login(organizer, event, clist):
    """What a desk page asks after its API answered 401 or 403 (session.js)."""
    session = PAGE + "session/"
    door = user_client(organizer, event, permissions=["event.orders:checkin"])
    config = json_block(door.get(PAGE).content.decode(), "desk-config")
    assert config["urls"]["session"] == session
    response = door.get(session)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json() == {"login": config["login"]}
    other = user_client(organizer, event, permissions=["event.orders:checkin"], email="door2@example.org")
    assert other.get(session).json()["login"] != config["login"]
    # a login that may not use the desk: its session holds, the page is told so
    reader = user_client(organizer, event, permissions=["event.orders:read"], email="reader@example.org")
    assert reader.get(session).status_code == 403
    door.logout()
    response = door.get(session)
    assert response.status_code == 302 and "/control/login" in response["Location"]


@pytest.mark.django_db
def test_not_there_when_the_plugin_is_off(checkin_client, event):
    event.plugins = "pretix.plugins.banktransfer"
    event.save()
    assert checkin_client.get(PAGE).status_code == 404
    assert checkin_client.get(SW).status_code == 404


def sw_config(body):
    return json.loads(re.search(r"const CONFIG = (\{.*?\});", body).group(1))


def files_on_disk(*suffixes):
    return {p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*") if p.suffix in suffixes}


@pytest.mark.django_db
def test_service_worker_precaches_every_asset_of_the_page(checkin_client):
    response = checkin_client.get(SW)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "no-cache"
    config = sw_config(response.content.decode())
    assert config["page"] == PAGE
    # one cache per desk page and release; "pretix-desk-" is what the page's logout deletes
    assert re.fullmatch(r"pretix-desk-[0-9a-f]{12}-", config["cache_prefix"])
    assert re.fullmatch(re.escape(config["cache_prefix"]) + r"[0-9a-f]{16}", config["cache"])
    assert config["session_timeout"] == 12 * 3600  # pretix's PRETIX_SESSION_TIMEOUT_ABSOLUTE
    # an ended session empties every store but the queue of unsent scans (sealed)
    assert config["db"] == {"name": "pretix-desk", "keep": ["queue"]}
    # what the page itself deletes as its downloads (store.js) is never kept
    downloads = re.search(r"export const DOWNLOADS = (\[.*?\]);", (STATIC_DIR / "store.js").read_text()).group(1)
    assert not set(json.loads(downloads)) & set(config["db"]["keep"])
    # the list follows the files: every .js and .css file of the directory, vendor/ too
    on_disk = files_on_disk(".js", ".css")
    assert "vendor/jsQR.js" in on_disk and "main.js" in on_disk
    assert set(desk_asset_names()) == on_disk
    assert set(config["assets"]) == {"/static/pretix_desk/desk/" + name for name in on_disk}
    assert config["aliases"] == {}  # no hashed names in development
    for name in on_disk:
        assert finders.find("pretix_desk/desk/" + name), name


@pytest.mark.django_db
def test_a_new_module_is_picked_up_and_changes_the_cache_name(checkin_client, monkeypatch, tmp_path):
    """Another module (main.js being split) needs no list to be edited."""
    import pretix_desk.views.desk as desk_view

    before = sw_config(checkin_client.get(SW).content.decode())
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(STATIC_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (tmp_path / "added_by_test.js").write_text("export const state = 1;\n")
    (tmp_path / ".#main.js").write_text("editor lock file\n")
    monkeypatch.setattr(desk_view, "DESK_STATIC_DIR", tmp_path)
    monkeypatch.setattr(desk_view, "_desk_assets", None)  # as after a restart
    after = sw_config(checkin_client.get(SW).content.decode())
    assert set(after["assets"]) - set(before["assets"]) == {"/static/pretix_desk/desk/added_by_test.js"}
    assert after["cache"] != before["cache"]
    html = checkin_client.get(PAGE).content.decode()
    assert "/static/pretix_desk/desk/added_by_test.js" in import_map(html)["imports"]


def import_map(html):
    match = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def csp_hash(text):
    return "'sha256-{}'".format(base64.b64encode(hashlib.sha256(text.encode()).digest()).decode())


def script_src(response):
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return policy["script-src"].split(" ")


@pytest.mark.django_db
@pytest.mark.parametrize("production", [False, True], ids=["plain", "manifest"])
def test_import_map_covers_every_module_and_the_csp_allows_it(checkin_client, production, tmp_path):
    """Every module's plain URL (where "./x.js" resolves) maps to its static() URL, hashed in
    production; the map comes before the first module script, and the page's
    Content-Security-Policy allows exactly this inline script by its hash (and no other)."""
    modules = files_on_disk(".js")
    if production:
        manifest = {"version": "1.1", "hash": "x", "paths": {
            "pretix_desk/desk/" + name: "pretix_desk/desk/{}.{}.{}".format(
                name.rsplit(".", 1)[0], "abcdef123456", name.rsplit(".", 1)[1]
            ) for name in modules | {"desk.css"}}}
        manifest["paths"]["pretixbase/img/favicon.ico"] = "pretixbase/img/favicon.0123456789ab.ico"
        (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
        settings_override = override_settings(
            STATIC_ROOT=str(tmp_path),
            STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                      "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}},
        )
    else:
        settings_override = override_settings()
    with settings_override:
        response = checkin_client.get(PAGE)
        sw = sw_config(checkin_client.get(SW).content.decode())
    assert response.status_code == 200
    html = response.content.decode()
    imports = import_map(html)["imports"]
    assert set(imports) == {"/static/pretix_desk/desk/" + name for name in modules}
    for name in modules:
        served = imports["/static/pretix_desk/desk/" + name]
        if production:
            assert served == "/static/pretix_desk/desk/{}.abcdef123456.js".format(name[:-3])
        else:
            assert served == "/static/pretix_desk/desk/" + name
    # the module script loads main.js by the same URL the map gives it
    assert '<script type="module" src="{}">'.format(imports["/static/pretix_desk/desk/main.js"]) in html
    assert html.index('<script type="importmap">') < html.index('<script type="module"')
    assert html.index('<script type="importmap">') < html.index("</head>")
    # CSP: the hash of the exact text between the tags, and no 'unsafe-inline'
    text = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    sources = script_src(response)
    assert csp_hash(text) in sources
    assert "'unsafe-inline'" not in sources
    assert [s for s in sources if s.startswith("'sha256-")] == [csp_hash(text)]
    # the service worker precaches exactly what the page requests, and knows the plain names
    assert set(sw["assets"]) == set(imports.values()) | {re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)}
    if production:
        assert sw["aliases"] == {plain: served for plain, served in imports.items()} | {
            "/static/pretix_desk/desk/desk.css": "/static/pretix_desk/desk/desk.abcdef123456.css"}


def csp_directive(response, name):
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return policy.get(name, "").split(" ")


@pytest.mark.django_db
def test_page_hands_gates_and_badges_to_the_scripts(checkin_client, organizer, event):
    """Gates to choose from, and whether badges print; a badge is printed from a frame
    holding a blob: copy of the PDF, which the page's CSP allows only with badges."""
    with scopes_disabled():
        Gate.objects.create(organizer=organizer, name="Side door", identifier="side")
        Gate.objects.create(organizer=organizer, name="Hall", identifier="hall")
    response = checkin_client.get(PAGE)
    config = json_block(response.content.decode(), "desk-config")
    assert config["gates"] == [{"identifier": "hall", "name": "Hall"}, {"identifier": "side", "name": "Side door"}]
    assert config["badges"] is False
    assert "blob:" not in csp_directive(response, "frame-src")

    with scopes_disabled():
        event.enable_plugin("pretix.plugins.badges")
        event.save()
    response = checkin_client.get(PAGE)
    assert json_block(response.content.decode(), "desk-config")["badges"] is True
    assert "blob:" in csp_directive(response, "frame-src")
    assert csp_directive(response, "object-src") == ["'none'"]


@pytest.mark.django_db
def test_modules_import_only_their_siblings():
    imports = [
        (path.name, target)
        for path in STATIC_DIR.glob("*.js")
        for target in re.findall(r'^import .*? from "([^"]+)";', path.read_text(), re.M)
    ]
    assert ("storage.js", "./queue.js") in imports
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
    assert 'href="{}"'.format(PAGE) not in response.content.decode()
