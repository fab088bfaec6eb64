"""How the desk's IndexedDB layout bounds the time to offline-ready (issue 19, browser at
100,000 attendees): the same records written one value per record (the page's layout up
to store version 5), as buckets of records, and through the page's own store, in Debian's
Chromium.

    python -m tests.stack.store_layout_benchmark --records 100000

needs no pretix: a blank page on a local port (IndexedDB needs an origin, the page's
modules are served beside it) generates records of a check-in-only download's shape (a
16-byte lookup id, the attendee and one line item, a sealed part of 124 characters) and
prints, in seconds, writing them

* one value per record with the ``owner`` and ``checked`` indexes, in transactions of
  5,000 (``store.replaceList`` up to version 5);
* the same in one transaction with relaxed durability;
* the same without indexes;
* as 4,096 values, buckets by the lookup id's first three hex digits;

and the time to read one record from its bucket (p50, p99); then through the page's
``store.js`` (buckets of records and of positions, the counts in a store of their own), without and
with a search index entry per record: the download stored, a scan's read, and a scan's
write with the footer's recount. It fails when the store's counts are wrong.
``docs/benchmarks.rst`` ("The desk page") shows a run and what it means for the store's
layout.
"""
import argparse
import functools
import http.server
import json
import tempfile
import threading
from pathlib import Path

from tests.stack.browser_benchmark import CHROMIUM

STATIC = Path(__file__).resolve().parents[2] / "pretix_desk" / "static" / "pretix_desk"

MEASURE = """async (n) => {
    const hex = (i, salt) => ((i + salt) * 2654435761 % 4294967296).toString(16).padStart(8, "0");
    const record = (i) => ({
        list: 1, code_hash: hex(i, 0) + hex(i, 7) + hex(i, 13) + hex(i, 29), owner: i, checked: i % 3 ? 0 : 1,
        attendee: {product: {id: 1, name: "Ticket"}, variation: null, subevent: null, require_attention: false,
                   checked_in: false, checked_in_at: null, order_status: "p", position_id: i},
        line_items: [{product: {id: 1, name: "Ticket"}, variation: null, redeemable: false, redeemed: false,
                      redeemed_at: null, line_item_id: i}],
        sealed: "x".repeat(124),
    });
    const open = (name, setup) => new Promise((resolve, reject) => {
        const request = indexedDB.open(name, 1);
        request.onupgradeneeded = () => setup(request.result);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    const done = (tx) => new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
    });
    const indexed = (db) => {
        const store = db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]});
        store.createIndex("owner", ["list", "owner"]);
        store.createIndex("checked", ["list", "checked"]);
    };
    const records = Array.from({length: n}, (_, i) => record(i));
    const timed = async (name, setup, write) => {
        const db = await open(name, setup);
        const started = performance.now();
        await write(db);
        const seconds = (performance.now() - started) / 1000;
        return [db, seconds];
    };
    const perRecord = (durability, size) => async (db) => {
        for (let i = 0; i < n; i += size) {
            const tx = db.transaction("attendees", "readwrite", {durability});
            const store = tx.objectStore("attendees");
            records.slice(i, i + size).forEach((r) => store.put(r));
            await done(tx);
        }
    };
    const out = {};
    out.per_record = (await timed("per-record", indexed, perRecord("default", 5000)))[1];
    out.one_relaxed_transaction = (await timed("relaxed", indexed, perRecord("relaxed", n)))[1];
    out.without_indexes = (await timed("plain", (db) => db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]}),
                                       perRecord("default", 5000)))[1];
    const [db, seconds] = await timed("buckets", (d) => d.createObjectStore("buckets", {keyPath: ["list", "prefix"]}),
        async (d) => {
            const buckets = new Map();
            for (const r of records) {
                const prefix = r.code_hash.slice(0, 3);
                if (!buckets.has(prefix)) {
                    buckets.set(prefix, {list: 1, prefix, records: {}});
                }
                buckets.get(prefix).records[r.code_hash] = r;
            }
            const tx = d.transaction("buckets", "readwrite");
            buckets.forEach((b) => tx.objectStore("buckets").put(b));
            await done(tx);
        });
    out.buckets = seconds;
    const reads = [];
    for (let k = 0; k < 200; k++) {
        const wanted = records[(k * 7919) % n].code_hash;
        const started = performance.now();
        const bucket = await new Promise((resolve) => {
            const request = db.transaction("buckets").objectStore("buckets").get([1, wanted.slice(0, 3)]);
            request.onsuccess = () => resolve(request.result);
        });
        if (!bucket.records[wanted]) {
            throw new Error("a record was not found in its bucket");
        }
        reads.push(performance.now() - started);
    }
    reads.sort((a, b) => a - b);
    out.bucket_read_ms = [reads[99], reads[197]];
    // the page's own store (store.js), the same records, then with a search index entry each
    const {DeskStore} = await import("/desk/store.js");
    const percentiles = (times) => {
        times.sort((a, b) => a - b);
        return [times[Math.floor(times.length / 2)], times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]];
    };
    const page = async (people) => {
        const store = await DeskStore.open({name: "page-store-" + people.length});
        const started = performance.now();
        await store.replaceList(1, records, {salt: "s", sync_token: "t"}, people);
        const seconds = (performance.now() - started) / 1000;
        const lookups = [];
        const scans = [];
        for (let k = 0; k < 200; k++) {
            const wanted = records[(k * 7919) % n].code_hash;
            let at = performance.now();
            const record = await store.getAttendee(1, wanted);
            lookups.push(performance.now() - at);
            if (!record) {
                throw new Error("the page's store did not find a record");
            }
            at = performance.now();
            await store.putAttendee({...record, attendee: {...record.attendee, checked_in: true}});
            await store.counts(1);
            scans.push(performance.now() - at);
        }
        const counts = await store.counts(1);
        store.close();
        return {seconds, lookup_ms: percentiles(lookups), scan_write_ms: percentiles(scans), counts};
    };
    out.page_store = await page([]);
    out.page_store_with_index = await page(records.map((r) => ({
        position_id: r.owner, name: "Person " + r.owner, email: "p" + r.owner + "@example.org",
        order: "ORD" + r.owner, company: null})));
    return out;
}"""


def measure(records):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as root:
        Path(root, "index.html").write_text("<!doctype html><title>store layout</title>")
        # the page's modules beside it, as the page imports them
        Path(root, "desk").symlink_to(STATIC / "desk")
        handler = functools.partial(_Quiet, directory=root)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
                page = browser.new_page()
                page.goto("http://127.0.0.1:{}/index.html".format(server.server_port))
                result = page.evaluate(MEASURE, records)
                browser.close()
        finally:
            server.shutdown()
    return result


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/benchmark store-layout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100000, help="records to write (default 100000)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    result = measure(args.records)
    records = args.records
    print("the desk's store in Chromium, {} records of a check-in-only download's shape".format(args.records))
    print("  one value per record, two indexes   {:6.1f} s".format(result["per_record"]))
    print("  the same, one relaxed transaction   {:6.1f} s".format(result["one_relaxed_transaction"]))
    print("  the same, without indexes          {:6.1f} s".format(result["without_indexes"]))
    print("  4096 buckets by the hash's prefix   {:6.1f} s".format(result["buckets"]))
    print("  a record read from its bucket       p50 {:.1f} ms, p99 {:.1f} ms".format(*result["bucket_read_ms"]))
    for key, label in (("page_store", "the page's store (store.js)       "),
                       ("page_store_with_index", "the same with the search index     ")):
        figures = result[key]
        print("  {} {:6.1f} s; a scan's read p50 {:.1f} ms, p99 {:.1f} ms; its write and recount p50 {:.1f} ms, "
              "p99 {:.1f} ms".format(label, figures["seconds"], *figures["lookup_ms"], *figures["scan_write_ms"]))
        if figures["counts"]["total"] != records or figures["counts"]["checkedIn"] < 1:
            raise SystemExit("the page's store counted {} for {} records".format(figures["counts"], records))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
