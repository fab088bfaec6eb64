"""Helpers of the desk page's browser tests: looking into the browser's storage, and opening
the desk where the page cannot download a list."""
import re
import uuid

PRELOAD = re.compile(r"/desk/preload/")
SCAN = re.compile(r"/desk/scan/$")


def desk_url(data):
    event = data["event"]
    return "/control/event/{}/{}/desk/".format(event.organizer.slug, event.slug)


def open_desk_without_download(page, data):
    """Open the desk and wait until it is ready (not for a download: there may be none)."""
    page.goto(desk_url(data))
    page.wait_for_selector("body[data-desk-ready='1']")


def storage_snapshot(page):
    """What the desk left in this browser profile: IndexedDB "pretix-desk" (record counts per
    store, the queue's items, the owner), localStorage keys, caches and service workers."""
    return page.evaluate("""async () => {
        const out = {};
        const dbs = indexedDB.databases ? await indexedDB.databases() : [];
        if (dbs.some((d) => d.name === "pretix-desk")) {
            const db = await new Promise((ok, ko) => {
                const r = indexedDB.open("pretix-desk");
                r.onsuccess = () => ok(r.result);
                r.onerror = () => ko(r.error);
            });
            const all = (name) => new Promise((ok) => {
                const r = db.transaction(name).objectStore(name).getAll();
                r.onsuccess = () => ok(r.result);
            });
            const meta = await all("meta");
            out.attendees = (await all("records")).reduce((n, bucket) => n + Object.keys(bucket.records).length, 0);
            out.meta = meta.filter((m) => m.list !== "login").length;
            out.login = (meta.find((m) => m.list === "login") || {}).login || null;
            out.queue = await all("queue");
            db.close();
        }
        out.local = Object.keys(localStorage).filter((k) => k.startsWith("pretix_desk"));
        out.caches = (await caches.keys()).filter((k) => k.startsWith("pretix-desk"));
        out.workers = navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0;
        return out;
    }""")


def put_queue_items(page, items):
    """Write items into the desk's queue store directly (as another tab or page would)."""
    page.evaluate("""async (items) => {
        const db = await new Promise((ok, ko) => {
            const r = indexedDB.open("pretix-desk");
            r.onsuccess = () => ok(r.result);
            r.onerror = () => ko(r.error);
        });
        const tx = db.transaction("queue", "readwrite");
        for (const item of items) {
            tx.objectStore("queue").add(item);
        }
        await new Promise((ok) => (tx.oncomplete = ok));
        db.close();
    }""", items)


def queue_item(event_key, list_id, api, code, **extra):
    """A queued scan as the page stores it (for put_queue_items), labelled with its code."""
    body = {"access_code": code, "type": "entry", "nonce": str(uuid.uuid4()), "datetime": "2026-01-01T10:00:00+00:00"}
    item = {"event": event_key, "kind": "scan", "list": list_id, "api": api, "body": body, "owner": None,
            "label": {"name": code, "product": ""}, "nonce": body["nonce"], "created": body["datetime"],
            "state": "pending", "attempts": 0}
    item.update(extra)
    return item


def queue_body(event, item):
    """A queued item's body as the server reads it: what the desk sealed to the server (the
    access code, the answers) opened into it (docs/offline.rst, "Sealed records")."""
    from pretix_desk.desk import envelope

    body = {k: v for k, v in item["body"].items() if k != "sealed"}
    if "sealed" in item["body"]:
        body.update(envelope.open_sealed(event, item["body"]["sealed"], nonce=item["nonce"]))
    return body


def open_setup(page):
    """Open the desk's setup panel (lists to also scan for, gate, badges) if it is closed."""
    if page.get_attribute("#desk-setup", "open") is None:
        page.click("#desk-setup summary")


def cancel_meanwhile(order):
    """The office cancels an order while a desk is offline: as pretix does, with a log entry
    (which tells an offline upload that the desk's copy could not show it)."""
    from django_scopes import scopes_disabled
    from pretix.base.models import Order

    with scopes_disabled():
        order.status = Order.STATUS_CANCELED
        order.save()
        order.log_action("pretix.event.order.canceled")


def idb_contents(page):
    """Every value of every object store of the desk's database, as stored; the buckets read
    out besides: "attendees" the records as the page's store returns them, "people" the
    search index entries."""
    return page.evaluate("""async () => {
        const db = await new Promise((ok, ko) => {
            const r = indexedDB.open("pretix-desk");
            r.onsuccess = () => ok(r.result);
            r.onerror = () => ko(r.error);
        });
        const out = {};
        for (const name of db.objectStoreNames) {
            out[name] = await new Promise((ok, ko) => {
                const r = db.transaction(name).objectStore(name).getAll();
                r.onsuccess = () => ok(r.result);
                r.onerror = () => ko(r.error);
            });
        }
        // (a bucket holds each record as its JSON text: store.js, packed)
        out.attendees = (out.records || []).flatMap((b) => Object.values(b.records).map(
            (r) => ({...(typeof r === "string" ? JSON.parse(r) : r), list: b.list})));
        out.people = (out.positions || []).flatMap((b) => Object.values(b.people).map((p) => ({...p, list: b.list})));
        db.close();
        return out;
    }""")
