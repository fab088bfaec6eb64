"""Unit tests of the desk page's own logic (hashing, nonces, repeat suppression, scanner
detection, offline answers, the sync queue and the IndexedDB store), run inside Chromium by
importing the ES modules, so that CI needs no Node."""
import hashlib

import pytest

pytestmark = pytest.mark.browser

BASE = "/static/pretix_desk/desk/"


@pytest.fixture
def js(context, live_server):
    page = context.new_page()
    page.on("pageerror", lambda err: print("pageerror:", err))
    # any same-origin document will do: modules are imported from the static files
    page.goto(BASE + "desk.css")

    def run(body, arg=None):
        return page.evaluate(
            "async (arg) => { const base = %r; const load = (m) => import(base + m); %s }" % (BASE, body),
            arg,
        )
    return run


def test_code_hash_matches_python_with_and_without_subtlecrypto(js):
    samples = ["", "a", "x" * 55, "y" * 56, "z" * 64, "ünïcödé-✓", "salt123" + "abcdefghijklmnop" * 4]
    result = js("""
        const h = await load("hash.js");
        const out = [];
        for (const s of arg) {
            out.push([await h.sha256Hex(s), await h.sha256Hex(s, null)]);
        }
        out.push([await h.codeHash("pepper", "SECRET"), await h.codeHash("pepper", "SECRET", null)]);
        return out;
    """, samples)
    expected = [hashlib.sha256(s.encode()).hexdigest() for s in samples]
    expected.append(hashlib.sha256(b"pepperSECRET").hexdigest())
    assert [subtle for subtle, _ in result] == expected
    assert [fallback for _, fallback in result] == expected


def test_nonce_fallback_without_random_uuid(js):
    nonces = js("""
        const u = await load("util.js");
        const noUuid = {getRandomValues: (a) => crypto.getRandomValues(a)};
        return Array.from({length: 50}, () => u.newNonce(noUuid)).concat([u.newNonce()]);
    """)
    assert len(set(nonces)) == 51
    for n in nonces:
        parts = n.split("-")
        assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
        assert parts[2][0] == "4" and parts[3][0] in "89ab"


def test_deduper_suppresses_repeats_within_window_only(js):
    assert js("""
        const u = await load("util.js");
        const d = new u.Deduper(3000);
        return [d.accept("A", 0), d.accept("A", 1000), d.accept("B", 1500), d.accept("A", 2999),
                d.accept("A", 3000), d.accept("B", 4500), d.accept("B", 4600)];
    """) == [True, False, True, False, True, True, False]


def test_burst_detector_tells_scanner_from_person(js):
    assert js("""
        const s = await load("scanner.js");
        const feed = (gaps) => {
            const d = new s.BurstDetector();
            let t = 1000;
            d.key(t);
            for (const g of gaps) { t += g; d.key(t); }
            return d.isScannerBurst(gaps.length + 1);
        };
        return [
            feed(Array(31).fill(5)),           // 32 chars from a scanner
            feed(Array(31).fill(110)),         // a person typing
            feed([5, 5, 5, 5, 5, 5]),          // too short to be a code
            feed([...Array(20).fill(8), 90, 8, 8, 70]),  // hiccups in a long burst are fine
            feed([40, 45, 120, 38, 41, 150, 44, 39, 200]),  // a fast typist is still a person
        ];
    """) == [True, False, False, True, False]


def test_offline_answers(js):
    assert js("""
        const o = await load("offline.js");
        const rec = (checkedIn) => ({attendee: {name: "A", checked_in: checkedIn, checked_in_at: checkedIn ? "2026-01-01T10:42:00Z" : null},
                                     line_items: [{line_item_id: 5, redeemable: true, redeemed: false},
                                                  {line_item_id: 6, redeemable: true, redeemed: true, redeemed_at: "x"}]});
        const q = (type, datetime) => ({kind: "scan", body: {type, datetime}});
        return [
            o.answerScanOffline({record: null}).reason,
            o.answerScanOffline({record: rec(false)}).status,
            o.answerScanOffline({record: rec(true)}),
            o.answerScanOffline({record: rec(false), queued: [q("entry", "T1")]}),
            o.answerScanOffline({record: rec(true), type: "exit"}).status,
            o.answerScanOffline({record: rec(true), list: {allow_multiple_entries: true}}).status,
            o.answerScanOffline({record: rec(true), queued: [q("exit", "T2")], list: {allow_entry_after_exit: true}}).status,
            o.answerRedeemOffline({record: rec(true), lineItemId: 5}).status,
            o.answerRedeemOffline({record: rec(true), lineItemId: 6}).reason,
            o.answerRedeemOffline({record: rec(true), lineItemId: 7}).reason,
            o.answerRedeemOffline({record: rec(true), lineItemId: 5, queued: [{kind: "redeem", body: {line_item_id: 5, datetime: "T3"}}]}),
        ];
    """) == [
        "invalid",
        "ok",
        {"status": "error", "reason": "already_redeemed", "checked_in_at": "2026-01-01T10:42:00Z"},
        {"status": "error", "reason": "already_redeemed", "checked_in_at": "T1"},
        "ok",
        "ok",
        "ok",
        "redeemed",
        "already_redeemed",
        "line_item",
        {"status": "error", "reason": "already_redeemed", "redeemed_at": "T3"},
    ]


QUEUE_HARNESS = """
    const {SyncQueue} = await load("queue.js");
    const {NetworkError} = await load("api.js");
    class MemoryStore {
        constructor() { this.items = new Map(); this.seq = 0; }
        async queueAdd(item) { const seq = ++this.seq; this.items.set(seq, {...item, seq}); return seq; }
        async queuePut(item) { this.items.set(item.seq, JSON.parse(JSON.stringify(item))); }
        async queueDelete(seq) { this.items.delete(seq); }
        async queueAll() { return [...this.items.values()].sort((a, b) => a.seq - b.seq); }
    }
    const sent = [];
    // what the fake server does with each code: "ok", "refuse", "down" (unreachable), "500"
    let behaviour = {};
    const api = {
        async scan(body) { return answer(body); },
        async redeem(body) { return answer(body); },
    };
    async function answer(body) {
        sent.push([body.access_code, body.nonce, body.datetime]);
        const b = behaviour[body.access_code] || "ok";
        if (b === "down") throw new NetworkError("timeout");
        if (b === "offline") throw new NetworkError("offline");
        if (b === "refuse") return {status: 400, data: {status: "error", reason: "unpaid"}};
        if (b === "403") return {status: 403, data: {}};
        return {status: 201, data: {status: "ok"}};
    }
    const store = new MemoryStore();
    const accepted = [];
    const queue = new SyncQueue({store, apiFor: () => api, onAccepted: (item) => accepted.push(item.body.access_code)});
    const add = (code, kind = "scan") => queue.add({kind, list: 1,
        body: {access_code: code, nonce: "n-" + code, datetime: "2026-01-01T10:00:00Z", type: "entry"}});
    const state = async () => (await store.queueAll()).map((i) => [i.body.access_code, i.state, i.attempts]);
"""


def test_queue_refused_and_failing_items_do_not_block_the_rest(js):
    result = js(QUEUE_HARNESS + """
        for (const c of ["A", "B", "C", "D", "E"]) await add(c, c === "D" ? "redeem" : "scan");
        behaviour = {B: "refuse", C: "down"};
        const first = await queue.flush();
        const afterFirst = await state();
        behaviour = {};
        const second = await queue.flush();
        return {first, afterFirst, second, after: await state(), accepted, sent};
    """)
    assert result["first"] == {"accepted": 3, "refused": 1, "failed": 1, "gaveUp": False, "authFailed": False}
    assert result["afterFirst"] == [["B", "refused", 0], ["C", "pending", 1]]
    # the retry sends only C, with its original nonce and time; the refused B is not resent
    assert result["second"] == {"accepted": 1, "refused": 0, "failed": 0, "gaveUp": False, "authFailed": False}
    assert result["after"] == [["B", "refused", 0]]
    assert result["accepted"] == ["A", "D", "E", "C"]
    assert result["sent"][-1] == ["C", "n-C", "2026-01-01T10:00:00Z"]
    assert [s[0] for s in result["sent"]] == ["A", "B", "C", "D", "E", "C"]


def test_queue_stops_a_round_when_the_network_is_gone_and_keeps_everything(js):
    result = js(QUEUE_HARNESS + """
        for (const c of ["A", "B", "C", "D", "E"]) await add(c);
        behaviour = {A: "down", B: "down", C: "down", D: "down", E: "down"};
        const down = await queue.flush();
        const sentWhileDown = sent.length;
        behaviour = {A: "offline"};
        const offline = await queue.flush();
        behaviour = {A: "403"};
        const forbidden = await queue.flush();
        const kept = await state();
        behaviour = {};
        const back = await queue.flush();
        return {down, sentWhileDown, offline, forbidden, kept, back, left: await state()};
    """)
    assert result["down"]["gaveUp"] is True and result["sentWhileDown"] == 3
    assert result["offline"] == {"accepted": 0, "refused": 0, "failed": 1, "gaveUp": True, "authFailed": False}
    # a rejected login is not the item's fault: it stays pending, the rest go through
    assert result["forbidden"]["accepted"] == 4 and result["forbidden"]["authFailed"] is True
    assert result["kept"] == [["A", "pending", 3]]
    assert result["back"]["accepted"] == 1 and result["left"] == []


def test_queue_concurrent_flushes_share_one_round(js):
    result = js(QUEUE_HARNESS + """
        await add("A"); await add("B");
        const [r1, r2] = await Promise.all([queue.flush(), queue.flush()]);
        return {same: r1 === r2, sent: sent.length};
    """)
    assert result == {"same": True, "sent": 2}


def test_queue_refuses_items_without_nonce(js):
    assert js(QUEUE_HARNESS + """
        try { await queue.add({kind: "scan", list: 1, body: {access_code: "A"}}); return "added"; }
        catch (e) { return "refused"; }
    """) == "refused"


def test_store_replace_merge_and_queue_survive_reopen(js):
    result = js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        let s = await DeskStore.open(name);
        const rec = (h, name, inside) => ({
            code_hash: h, line_items: [],
            attendee: {name, email: name.toLowerCase() + "@x.org", order: "ORD" + h, checked_in: inside},
        });
        await s.replaceList(1, [rec("h1", "Ada", false), rec("h2", "Alan", true), rec("h3", "Grace", false)], {salt: "s", sync_token: "t1"});
        await s.replaceList(2, [rec("h1", "Other", false)], {salt: "s2", sync_token: "x"});
        await s.mergeList(1, [rec("h3", "Grace", true), rec("h4", "Edsger", false)], ["h1"], {salt: "s", sync_token: "t2"});
        await s.queueAdd({nonce: "n1", state: "pending", body: {}});
        s.close();
        s = await DeskStore.open(name);
        const out = {
            counts: await s.counts(1),
            other: await s.counts(2),
            meta: (await s.getMeta(1)).sync_token,
            gone: await s.getAttendee(1, "h1"),
            search: (await s.search(1, "GRACE@")).map((r) => r.attendee.name),
            queue: (await s.queueAll()).map((i) => i.nonce),
        };
        await s.replaceList(1, [rec("h9", "Fresh", false)], {salt: "new", sync_token: "t9"});
        out.afterReplace = (await s.listAttendees(1)).map((r) => r.code_hash);
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """)
    assert result == {
        "counts": {"total": 3, "checkedIn": 2},
        "other": {"total": 1, "checkedIn": 0},
        "meta": "t2",
        "gone": None,
        "search": ["Grace"],
        "queue": ["n1"],
        "afterReplace": ["h9"],
    }
