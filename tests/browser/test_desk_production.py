"""The desk with production static files: ``collectstatic`` into a STATIC_ROOT with pretix's
``ManifestStaticFilesStorage`` (hashed names), DEBUG off, and a server that serves STATIC_ROOT
as pretix's nginx does (files as collected, cached by browsers for a year).

Proves that every module loads by its hashed name (import map), that a reload without network
opens the desk and answers a scan, that an upgrade replaces every module and the old cache
without mixing versions, and that an ended session deletes the cached page and the downloaded
lists but keeps the queue of unsent scans."""
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from tests.browser.conftest import (
    login, new_context, open_desk, wait_until_reloadable_offline,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESK_STATIC = "/static/pretix_desk/desk/"
SOURCE_DIR = Path(__file__).resolve().parents[2] / "pretix_desk" / "static" / "pretix_desk" / "desk"
HASHED = re.compile(r"\.[0-9a-f]{12}\.(?:js|css)$")
MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}


@contextmanager
def production_static(root, **extra):
    """pretix's production static files setup, with STATIC_ROOT at ``root``. Entering it
    again (even with the same values) acts as a restart: storages and their manifest are
    loaded anew."""
    with override_settings(DEBUG=False, STATIC_ROOT=str(root), STORAGES=MANIFEST_STORAGES, **extra):
        yield


def collectstatic(root, **extra):
    with production_static(root, **extra):
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """Once per session: what ``python -m pretix rebuild`` leaves in STATIC_ROOT."""
    root = tmp_path_factory.mktemp("static_root")
    collectstatic(root)
    return root


class NginxLikeStaticHandler(_StaticFilesHandler):
    """STATIC_ROOT served like pretix's nginx configuration does: ``expires 365d``. A plain
    (unhashed) URL fetched once would therefore stay in the browser's cache across an
    upgrade."""

    def serve(self, request):
        response = super().serve(request)
        if response.status_code == 200:
            response["Cache-Control"] = "public, max-age=31536000"
        return response


class ProductionServer:
    def __init__(self):
        self.thread = LiveServerThread("localhost", NginxLikeStaticHandler)
        self.thread.daemon = True
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            raise self.thread.error

    @property
    def url(self):
        return "http://{}:{}".format(self.thread.host, self.thread.port)

    def stop(self):
        self.thread.terminate()


@pytest.fixture(scope="session")
def production_server():
    """A live server whose static files come from STATIC_ROOT, not from the finders (which
    know no hashed names). It reads the settings per request, so each test chooses its
    STATIC_ROOT."""
    server = ProductionServer()
    yield server
    server.stop()


@pytest.fixture
def production(collected_static):
    with production_static(collected_static):
        yield collected_static


@pytest.fixture
def prod_context(browser, production_server):
    ctx = new_context(browser, production_server)
    yield ctx
    ctx.close()


class Recorder:
    """The desk's static files the page requested, and the console's complaints."""

    def __init__(self, page):
        self.assets = []
        self.errors = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(str(err)))

    def _request(self, request):
        path = request.url.split("://", 1)[1].split("/", 1)[1]
        if ("/" + path).startswith(DESK_STATIC):
            self.assets.append("/" + path.split("?")[0])

    def _console(self, msg):
        print("console:", msg.type, msg.text)
        if msg.type == "error":
            self.errors.append(msg.text)

    def clear(self):
        self.assets.clear()
        self.errors.clear()


def recorded_page(context):
    page = context.new_page()
    return page, Recorder(page)


def wedge(page, code):
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def result_state(page, state):
    page.wait_for_selector("#desk-result[data-state='{}']".format(state))
    return page.inner_text("#desk-result")


def module_urls(names):
    return {DESK_STATIC + name for name in names}


def cache_contents(page):
    """{cache name: [paths]} of the desk's caches."""
    return page.evaluate("""async () => {
        const out = {};
        for (const name of await caches.keys()) {
            if (name.startsWith("pretix-desk-")) {
                const cache = await caches.open(name);
                out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
            }
        }
        return out;
    }""")


def source_modules():
    return sorted(p.relative_to(SOURCE_DIR).as_posix() for p in SOURCE_DIR.rglob("*.js"))


def test_every_module_loads_by_its_hashed_name_and_the_worker_caches_exactly_those(
        prod_context, production, desk_data):
    page, rec = recorded_page(prod_context)
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    wait_until_reloadable_offline(page)
    loaded = set(rec.assets)
    assert loaded, "the page loaded no desk assets"
    for url in loaded:
        assert HASHED.search(url), "not a hashed URL: " + url
    # each module under one name only (an unhashed twin would be a second module instance)
    plain = {HASHED.sub(lambda m: m.group(0)[13:], url) for url in loaded}
    assert len(plain) == len(loaded)
    main = [url for url in loaded if url.startswith(DESK_STATIC + "main.")]
    assert len(main) == 1
    # the modules main.js imports, directly or not, came through the import map
    assert len([u for u in loaded if u.endswith(".js")]) > 3
    # nothing was refused by the page's Content-Security-Policy
    assert not [e for e in rec.errors if "Content Security Policy" in e or "importmap" in e.lower()], rec.errors
    # the service worker precached exactly the URLs the page asks for (hashed), and the page
    caches = cache_contents(page)
    assert len(caches) == 1
    (cached,) = caches.values()
    cached_assets = {p for p in cached if p.startswith(DESK_STATIC)}
    assert loaded <= cached_assets
    assert all(HASHED.search(p) for p in cached_assets)
    assert {HASHED.sub(lambda m: m.group(0)[13:], p) for p in cached_assets} == {
        DESK_STATIC + name for name in source_modules()} | {DESK_STATIC + "desk.css"}
    assert page.evaluate("location.pathname") in cached


def test_offline_reload_opens_the_desk_and_answers_a_scan(prod_context, production, desk_data):
    page, rec = recorded_page(prod_context)
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    wait_until_reloadable_offline(page)
    prod_context.set_offline(True)
    rec.clear()
    responses = []
    page.on("response", lambda r: responses.append(r) if DESK_STATIC in r.url else None)
    page.reload()
    page.wait_for_selector("body[data-desk-ready='1']")
    page.wait_for_selector("#desk-net.desk-net--offline")
    assert rec.assets and all(HASHED.search(url) for url in rec.assets), rec.assets
    assert all(r.from_service_worker and r.ok for r in responses)
    wedge(page, desk_data["grace"].secret)
    text = result_state(page, "ok")
    assert "Grace Hopper" in text and "offline" in text.lower()
    # a plain asset URL, as camera.js loads vendor/jsQR.js (a classic script, outside the
    # import map), is answered from the hashed copy
    assert page.evaluate("""async () => {
        const r = await fetch("/static/pretix_desk/desk/vendor/jsQR.js");
        return r.ok && (await r.text()).includes("jsQR");
    }""")


def test_cached_page_expires_with_the_absolute_session_timeout(prod_context, production, desk_data):
    timeout = 5  # seconds; long enough to log in and open the desk before the session ends
    with override_settings(PRETIX_SESSION_TIMEOUT_ABSOLUTE=timeout):
        page, rec = recorded_page(prod_context)
        login(page, desk_data["user"])
        open_desk(page, desk_data)
        wait_until_reloadable_offline(page)  # cached before this returns
        time.sleep(timeout + 0.3)
        prod_context.set_offline(True)
        with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED|ERR_FAILED"):
            page.reload()
        # the stale copy is gone, the assets stay
        prod_context.set_offline(False)
        page.goto("/control/login")
        (cached,) = cache_contents(page).values()
        assert not [p for p in cached if not p.startswith(DESK_STATIC)]
        assert [p for p in cached if p.startswith(DESK_STATIC)]


def test_upgrade_replaces_every_module_and_the_old_cache(prod_context, collected_static, desk_data, tmp_path):
    root = tmp_path / "static_root"
    shutil.copytree(collected_static, root)
    # a module that main.js imports, changed so that running it leaves a mark
    imported = re.findall(r'from "\./([^"]+)"', (SOURCE_DIR / "main.js").read_text())
    module = next(name for name in imported if name != "main.js")
    with production_static(root):
        page, rec = recorded_page(prod_context)
        login(page, desk_data["user"])
        open_desk(page, desk_data)
        wait_until_reloadable_offline(page)
        (old_cache,) = cache_contents(page)
        old_urls = set(rec.assets)
        (old_module,) = [u for u in old_urls if u.startswith(DESK_STATIC + module[:-3] + ".")]
        assert page.evaluate("globalThis.deskUpgradeMark || null") is None

    # the upgrade: a new release of the module, collectstatic into the same STATIC_ROOT
    # (the old hashed files stay, the plain name is overwritten), then a restart
    release = tmp_path / "release"
    (release / "pretix_desk" / "desk").mkdir(parents=True)
    (release / "pretix_desk" / "desk" / module).write_text(
        (SOURCE_DIR / module).read_text() + '\nglobalThis.deskUpgradeMark = "v2";\n')
    collectstatic(root, STATICFILES_DIRS=[str(release)] + list(settings.STATICFILES_DIRS))
    assert (root / "pretix_desk" / "desk" / module).read_text().endswith('"v2";\n')

    with production_static(root):
        rec.clear()
        page.reload()
        page.wait_for_selector("body[data-desk-ready='1']")
        assert page.evaluate("globalThis.deskUpgradeMark || null") == "v2"
        new_urls = set(rec.assets)
        (new_module,) = [u for u in new_urls if u.startswith(DESK_STATIC + module[:-3] + ".")]
        assert new_module != old_module and HASHED.search(new_module)
        assert old_module not in new_urls
        assert all(HASHED.search(u) for u in new_urls), new_urls
        # the new worker takes over: one cache, the new one, with the new module only
        for _ in range(100):
            caches = cache_contents(page)
            if old_cache not in caches and len(caches) == 1:
                break
            time.sleep(0.1)
        assert list(caches) != [old_cache] and len(caches) == 1, caches
        (cached,) = caches.values()
        assert new_module in cached and old_module not in cached
        wait_until_reloadable_offline(page)

        # offline, the page is the new release too
        prod_context.set_offline(True)
        rec.clear()
        page.reload()
        page.wait_for_selector("body[data-desk-ready='1']")
        assert page.evaluate("globalThis.deskUpgradeMark || null") == "v2"
        assert new_module in rec.assets and old_module not in rec.assets


def idb_counts(page):
    """Number of values per object store of the desk's database (opened without creating it)."""
    return page.evaluate("""async () => {
        const db = await new Promise((resolve, reject) => {
            const r = indexedDB.open("pretix-desk");
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
        });
        const out = {};
        for (const name of db.objectStoreNames) {
            out[name] = await new Promise((resolve, reject) => {
                const r = db.transaction(name).objectStore(name).count();
                r.onsuccess = () => resolve(r.result);
                r.onerror = () => reject(r.error);
            });
        }
        db.close();
        return out;
    }""")


def test_ended_session_deletes_cached_page_and_downloads_but_keeps_the_queue(prod_context, production, desk_data):
    page, rec = recorded_page(prod_context)
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    wait_until_reloadable_offline(page)
    desk_path = page.evaluate("location.pathname")
    before = idb_counts(page)
    # buckets of records and of positions (with the search index)
    assert before["records"] >= 1 and before["meta"] >= 1 and before["positions"] >= 3
    stores = set(before)
    # the queue, and what the page learnt (conflicts); every store but the queue is emptied
    queue_stores = stores - {"records", "positions", "counts", "meta"}
    assert "queue" in queue_stores, stores

    page.goto("/control/logout")
    page.wait_for_url(re.compile(r"/control/login"))
    # a scan waiting for upload (written while no desk page runs, so none uploads it), one
    # kept after its upload, and a record in each other store
    page.evaluate("""async (names) => {
        const db = await new Promise((resolve, reject) => {
            const r = indexedDB.open("pretix-desk");
            r.onsuccess = () => resolve(r.result);
            r.onerror = () => reject(r.error);
        });
        for (const name of names) {
            const store = db.transaction(name, "readwrite").objectStore(name);
            const item = {nonce: "kept-" + name, type: "scan", state: "pending", list: 1,
                          datetime: new Date().toISOString()};
            if (typeof store.keyPath === "string" && !store.autoIncrement && !(store.keyPath in item)) {
                item[store.keyPath] = "kept-" + name;
            }
            const items = name === "queue" ? [item, {...item, nonce: "uploaded", state: "uploaded"}] : [item];
            for (const one of items) {
                await new Promise((resolve, reject) => {
                    const r = store.keyPath === null && !store.autoIncrement ? store.put(one, "kept") : store.put(one);
                    r.onsuccess = () => resolve();
                    r.onerror = () => reject(r.error);
                });
            }
        }
        db.close();
    }""", sorted(queue_stores))
    queued = {name: idb_counts(page)[name] for name in queue_stores}
    assert all(queued.values())

    page.goto(desk_path)
    page.wait_for_url(re.compile(r"/control/login"))
    assert page.locator("input[name=password]").count() == 1
    after = {}
    for _ in range(50):
        after = idb_counts(page)
        if after["queue"] == 1:
            break
        time.sleep(0.1)
    assert {name: count for name, count in after.items() if count} == {"queue": 1}  # the unsent scan
    assert set(after) == stores  # no store deleted or created
    assert page.evaluate("async (p) => !!(await caches.match(p))", desk_path) is False

    # where the database does not exist, the worker does not create it (an empty database
    # of the current version would keep the page from creating its stores)
    page.evaluate("""() => new Promise((resolve, reject) => {
        const r = indexedDB.deleteDatabase("pretix-desk");
        r.onsuccess = () => resolve();
        r.onerror = () => reject(r.error);
    })""")
    page.goto(desk_path)
    page.wait_for_url(re.compile(r"/control/login"))
    assert "pretix-desk" not in page.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")

    # offline, the desk no longer opens
    prod_context.set_offline(True)
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED|ERR_FAILED"):
        page.goto(desk_path)
