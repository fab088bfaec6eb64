"""Unit tests of the desk page's own logic (hashing, nonces, repeat suppression, scanner
detection, offline answers, connectivity, the sync queue and the IndexedDB store), run inside
Chromium by importing the ES modules, so that CI needs no Node."""
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


OFFLINE = """
    const o = await load("offline.js");
    const now = new Date("2026-06-01T12:00:00Z");
    const rec = (extra = {}, attendee = {}) => ({
        code_hash: "h", owner: 7,
        attendee: {position_id: 7, name: "A", checked_in: false, checked_in_at: null, ...attendee},
        line_items: [{line_item_id: 5, redeemable: true, redeemed: false},
                     {line_item_id: 6, redeemable: true, redeemed: true, redeemed_at: "x"},
                     {line_item_id: 7, redeemable: false}],
        ...extra,
    });
    const inside = {checked_in: true, checked_in_at: "2026-06-01T10:42:00Z"};
    const q = (type, datetime, kind = "scan") => ({kind, owner: 7, body: {type, datetime}});
    const scan = (args) => o.answerScanOffline({now, entries: {allow_multiple_entries: false, allow_entry_after_exit: false}, ...args});
"""


def test_offline_answers_apply_the_servers_steps_only(js):
    assert js(OFFLINE + """
        return [
            scan({record: null}),
            scan({record: rec()}),
            scan({record: rec({entry: [["refuse", "unpaid"]]})}),
            scan({record: rec({entry: [["refuse", "unapproved"], ["window", null, "2026-01-01T00:00:00Z"]]})}),
            scan({record: rec({entry: [["window", "2026-06-01T13:00:00Z", null]]})}),
            scan({record: rec({entry: [["window", null, "2026-06-01T11:00:00Z"]]})}),
            scan({record: rec({entry: [["window", "2026-06-01T11:00:00Z", "2026-06-01T13:00:00+00:00"]]})}),
            scan({record: rec({entry: [["window", "2026-06-01T11:00:00Z", null], ["server", "rules"]]})}),
            scan({record: rec({entry: [["server", "ambiguous"]]})}),
            scan({record: rec({entry: [["teleport", 1]]})}),
            // steps are per direction
            scan({record: rec({entry: [["refuse", "blocked"]]}), type: "exit"}),
            scan({record: rec({exit: [["refuse", "product"]]}), type: "exit"}),
            scan({record: rec({}, inside), type: "exit"}),
        ];
    """) == [
        {"status": "unverified", "reason": "not_downloaded"},
        {"status": "ok"},
        {"status": "error", "reason": "unpaid"},
        {"status": "error", "reason": "unapproved"},
        {"status": "error", "reason": "invalid_time"},
        {"status": "error", "reason": "invalid_time"},
        {"status": "ok"},
        {"status": "unverified", "reason": "rules"},
        {"status": "unverified", "reason": "ambiguous"},
        {"status": "unverified", "reason": "server"},
        {"status": "ok"},
        {"status": "error", "reason": "product"},
        {"status": "ok"},
    ]


def test_offline_overrides_and_questions(js):
    assert js(OFFLINE + """
        const unpaid = rec({entry: [["refuse", "unpaid", "ignore_unpaid"], ["window", null, "2026-01-01T00:00:00Z"]]});
        const asks = rec({entry: [["ask", [3, 4]], ["refuse", "blocked"]]});
        return [
            scan({record: unpaid}),
            // "check in anyway": that refusal is passed, the steps after it still apply
            scan({record: unpaid, overrides: ["ignore_unpaid"]}),
            scan({record: rec({entry: [["refuse", "unpaid", "ignore_unpaid"]]}), overrides: ["ignore_unpaid"]}),
            // an override only passes the refusal that offers it
            scan({record: rec({entry: [["refuse", "blocked"]]}), overrides: ["ignore_unpaid", "force"]}),
            // check-in questions come first: the unanswered ones are asked...
            scan({record: asks}),
            scan({record: asks, answers: {"3": true}}),
            // ...and with all answered (an empty answer counts, as for pretix) the steps go on
            scan({record: asks, answers: {"3": true, "4": ""}}),
            scan({record: rec({entry: [["ask", [3]]]}), answers: {"3": "x"}}),
            // before earlier entries, as pretix asks them before it looks at those
            scan({record: rec({entry: [["ask", [3]]]}, inside)}),
            // when the server picks one of several lists, questions do not count (null)
            scan({record: asks, answers: null}),
            scan({record: rec({entry: [["ask", [3]]]}), answers: null}),
            // exits ask nothing
            scan({record: asks, type: "exit"}),
        ];
    """) == [
        {"status": "error", "reason": "unpaid", "override": "ignore_unpaid"},
        {"status": "error", "reason": "invalid_time"},
        {"status": "ok"},
        {"status": "error", "reason": "blocked"},
        {"status": "incomplete", "questions": [3, 4]},
        {"status": "incomplete", "questions": [4]},
        {"status": "error", "reason": "blocked"},
        {"status": "ok"},
        {"status": "incomplete", "questions": [3]},
        {"status": "error", "reason": "blocked"},
        {"status": "ok"},
        {"status": "ok"},
    ]


def test_offline_several_lists_and_answered_questions(js):
    assert js(OFFLINE + """
        const ok = {status: "ok"};
        const refused = {status: "error", reason: "product"};
        const asked = rec({entry: [["window", null, null], ["ask", [3, 4]], ["ask", [5]]]});
        return [
            // the first list that admits answers, else the first list
            o.pickList([refused, ok, ok]),
            o.pickList([ok, refused]),
            o.pickList([refused, {status: "unverified", reason: "not_downloaded"}]),
            o.pickList([{status: "incomplete", questions: [1]}, refused]),
            // what pretix keeps as an answer
            [true, "x", 0, [1]].map(o.isAnswered),
            [false, "", null, undefined, []].map(o.isAnswered),
            // answered questions leave the record's "ask" steps; empty answers do not
            o.markAnswered(asked, {"3": true, "4": "", "5": [7]}).entry,
            o.markAnswered(asked, null).entry,
            o.markAnswered(rec(), {"3": true}).entry === undefined,
        ];
    """) == [
        1,
        0,
        0,
        0,
        [True, True, True, True],
        [False, False, False, False, False],
        [["window", None, None], ["ask", [4]]],
        [["window", None, None], ["ask", [3, 4]], ["ask", [5]]],
        True,
    ]


def test_offline_entries_so_far_use_the_heads_settings(js):
    assert js(OFFLINE + """
        const multi = {allow_multiple_entries: true, allow_entry_after_exit: false};
        const afterExit = {allow_multiple_entries: false, allow_entry_after_exit: true};
        return [
            scan({record: rec({}, inside)}),
            scan({record: rec(), queued: [q("entry", "T1")]}),
            scan({record: rec({}, inside), entries: multi}).status,
            scan({record: rec({last: "exit"}, inside), entries: afterExit}).status,
            scan({record: rec({last: "exit"}, inside)}).reason,
            scan({record: rec({last: "entry"}, inside), entries: afterExit}).reason,
            // this desk's own queued scans are newer than the download
            scan({record: rec({last: "entry"}, inside), queued: [q("exit", "T2")], entries: afterExit}).status,
            scan({record: rec({last: "exit"}, inside), queued: [q("exit", "T2"), q("entry", "T3")], entries: afterExit}),
            // without the head's settings, only a first entry is certain
            o.answerScanOffline({now, record: rec(), entries: null}).status,
            o.answerScanOffline({now, record: rec({}, inside), entries: null}),
            // a refusal step wins over everything
            scan({record: rec({entry: [["refuse", "canceled"]]}), entries: multi}).reason,
        ];
    """) == [
        {"status": "error", "reason": "already_redeemed", "checked_in_at": "2026-06-01T10:42:00Z"},
        {"status": "error", "reason": "already_redeemed", "checked_in_at": "T1"},
        "ok",
        "ok",
        "already_redeemed",
        "already_redeemed",
        "ok",
        {"status": "error", "reason": "already_redeemed", "checked_in_at": "T3"},
        "ok",
        {"status": "unverified", "reason": "entries"},
        "canceled",
    ]


def test_offline_hand_out_and_local_marks(js):
    assert js(OFFLINE + """
        const marked = o.markCheckin(rec(), "entry", "T9");
        const out = o.markCheckin(marked, "exit", "T10");
        return [
            o.answerRedeemOffline({record: null, lineItemId: 5}),
            o.answerRedeemOffline({record: rec({redeem: "unpaid"}), lineItemId: 5}),
            o.answerRedeemOffline({record: rec(), lineItemId: 5}).status,
            o.answerRedeemOffline({record: rec(), lineItemId: 6}).reason,
            o.answerRedeemOffline({record: rec(), lineItemId: 7}).reason,
            o.answerRedeemOffline({record: rec(), lineItemId: 8}).reason,
            o.answerRedeemOffline({record: rec(), lineItemId: 5, queued: [{kind: "redeem", body: {line_item_id: 5, datetime: "T3"}}]}),
            o.markRedeemed(rec(), 5, "T4").line_items[0],
            [marked.attendee.checked_in, marked.attendee.checked_in_at, marked.last],
            [out.attendee.checked_in, out.attendee.checked_in_at, out.last],
            [o.ownerOf({attendee: {position_id: 3}}), o.ownerOf({owner: 9, attendee: {position_id: 3}})],
        ];
    """) == [
        {"status": "unverified", "reason": "not_downloaded"},
        {"status": "error", "reason": "unpaid"},
        "redeemed",
        "already_redeemed",
        "line_item",
        "line_item",
        {"status": "error", "reason": "already_redeemed", "redeemed_at": "T3"},
        {"line_item_id": 5, "redeemable": True, "redeemed": True, "redeemed_at": "T4"},
        [True, "T9", "entry"],
        [True, "T9", "exit"],
        [3, 9],
    ]


def test_connectivity_is_one_state(js):
    assert js("""
        const {Connectivity} = await load("connectivity.js");
        const c = new Connectivity({reachable: true, capable: true});
        const seen = [];
        c.subscribe((s) => seen.push(s));
        c.syncStarted(); c.failed(); c.syncEnded(); c.syncStarted(); c.answered(); c.syncEnded();
        const noStore = new Connectivity({reachable: true, capable: false});
        const ns = [noStore.state, noStore.shouldAskServer()];
        noStore.failed();
        ns.push(noStore.state, noStore.shouldAskServer());
        return {seen, ask: [c.shouldAskServer()], ns};
    """) == {
        "seen": ["syncing", "offline", "syncing", "online"],
        "ask": [True],
        "ns": ["unavailable", True, "offline", True],
    }


def test_api_reports_every_outcome_and_a_cut_off_body_is_a_network_failure(js):
    assert js("""
        const {DeskApi, NetworkError} = await load("api.js");
        const log = [];
        const reporter = {answered: () => log.push("answered"), failed: (e) => log.push("failed:" + e.kind)};
        const reply = (status, body) => async () => new Response(body, {status});
        const cut = async () => new Response(new ReadableStream({
            start(c) { c.enqueue(new TextEncoder().encode('{"attendees": [')); c.error(new TypeError("reset")); },
        }), {status: 200});
        const out = [];
        for (const f of [reply(200, '{"a": 1}'), reply(404, "<html>"), reply(502, "bad"), reply(200, '{"att'), cut,
                         async () => { throw new TypeError("Failed to fetch"); }]) {
            const api = new DeskApi({base: "/x/", fetchImpl: f, reporter, isOnline: () => true});
            try { const r = await api.scan({}); out.push([r.status, r.data]); }
            catch (e) { out.push([e instanceof NetworkError, e.kind]); }
        }
        return {out, log};
    """) == {
        "out": [[200, {"a": 1}], [404, None], [True, "server"], [True, "network"], [True, "network"], [True, "network"]],
        "log": ["answered", "answered", "failed:server", "failed:network", "failed:network", "failed:network"],
    }


def test_prefs_several_lists_gate_and_badges(js):
    assert js("""
        const {Prefs} = await load("prefs.js");
        const {scanTarget} = await load("checkin.js");
        const memory = new Map();
        const storage = {getItem: (k) => (memory.has(k) ? memory.get(k) : null),
                         setItem: (k, v) => memory.set(k, v), removeItem: (k) => memory.delete(k)};
        const p = new Prefs("pretix_desk:o:e", storage);
        const fresh = [p.alsoLists, p.gate, p.badges];
        p.alsoLists = [7, 3]; p.gate = "hall"; p.badges = "auto";
        const again = new Prefs("pretix_desk:o:e", storage);
        const kept = [again.alsoLists, again.gate, again.badges];
        again.badges = "sometimes"; again.alsoLists = []; again.gate = "";
        return {fresh, kept, reset: [again.badges, again.alsoLists, again.gate, [...memory.keys()]],
                target: [scanTarget([{id: 1}], ""), scanTarget([{id: 1}, {id: 7}, {id: 3}], "hall")]};
    """) == {
        "fresh": [[], "", "button"],
        "kept": [[7, 3], "hall", "auto"],
        "reset": ["button", [], "", []],
        "target": [{}, {"other_lists": [7, 3], "gate": "hall"}],
    }


def test_sync_asked_while_it_runs_runs_once_more(js):
    assert js("""
        const {Sync} = await load("sync.js");
        const desk = {conn: {state: "online"}};
        const sync = new Sync(desk);
        let rounds = 0;
        sync.round = () => new Promise((resolve) => setTimeout(() => { rounds += 1; resolve(); }, 30));
        const calls = [sync.now(), sync.now(), sync.now()];
        await Promise.all(calls);
        const after = rounds;
        await sync.now();
        sync.stop();
        return [after, rounds];
    """) == [2, 3]


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
    // what the fake server does with each code: "ok", "refuse", "down" (unreachable), "throw", ...
    let behaviour = {};
    let delay = 0;
    const api = {
        async scan(body) { return answer(body); },
        async redeem(body) { return answer(body); },
    };
    async function answer(body) {
        sent.push([body.access_code, body.nonce, body.datetime]);
        if (delay) await new Promise((r) => setTimeout(r, delay));
        const b = behaviour[body.access_code] || "ok";
        if (b === "down") throw new NetworkError("timeout");
        if (b === "offline") throw new NetworkError("offline");
        if (b === "throw") throw new Error("broken item");
        if (b === "refuse") return {status: 400, data: {status: "error", reason: "unpaid"}};
        if (b === "gone") return {status: 404, data: {detail: "Not found."}};
        if (b === "403") return {status: 403, data: {}};
        return {status: 201, data: {status: "ok"}};
    }
    const store = new MemoryStore();
    const accepted = [];
    const known = (item) => (item.api || item.list === 1 ? api : null);
    const noLock = {locks: null, storage: null};
    const makeQueue = (event = "org:ev", lock = noLock) => new SyncQueue({
        store, event, apiFor: known, lock, onAccepted: (item) => accepted.push(item.body.access_code)});
    const queue = makeQueue();
    const add = (code, kind = "scan", extra = {}) => queue.add({kind, list: 1, api: "/api/1/", ...extra,
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
    assert result["first"] == {"accepted": 3, "refused": 1, "parked": 0, "failed": 1, "gaveUp": False,
                               "authFailed": False}
    assert result["afterFirst"] == [["B", "parked", 0], ["C", "pending", 1]]
    # the retry sends only C, with its original nonce and time; the refused B is not resent
    assert result["second"]["accepted"] == 1 and result["second"]["refused"] == 0
    assert result["after"] == [["B", "parked", 0]]
    assert result["accepted"] == ["A", "D", "E", "C"]
    assert result["sent"][-1] == ["C", "n-C", "2026-01-01T10:00:00Z"]
    assert [s[0] for s in result["sent"]] == ["A", "B", "C", "D", "E", "C"]


def test_queue_poisoned_items_are_parked_and_other_events_left_alone(js):
    result = js(QUEUE_HARNESS + """
        await add("A");
        // another event's desk queued this one: not ours to upload, count or show
        await makeQueue("org:other").add({kind: "scan", list: 99, api: "/api/99/",
            body: {access_code: "F", nonce: "n-F", datetime: "2026-01-01T10:00:00Z"}});
        await add("U", "scan", {list: 42, api: undefined});  // a list nobody knows where to send
        await add("X");   // throws while uploading
        await add("G");   // the list was deleted meanwhile
        await add("B");
        behaviour = {X: "throw", G: "gone"};
        const r = await queue.flush();
        const parked = (await queue.parked()).map((i) => [i.body.access_code, i.why, i.reason]);
        return {r, parked, pending: (await queue.pending()).length, mine: (await queue.mine()).length,
                all: (await store.queueAll()).length, sent: sent.map((s) => s[0])};
    """)
    assert result["r"]["accepted"] == 2 and result["r"]["parked"] == 2 and result["r"]["refused"] == 1
    assert result["parked"] == [["U", "unknown_list", "unknown_list"], ["X", "error", "error"], ["G", "refused", "error"]]
    assert result["sent"] == ["A", "X", "G", "B"]
    assert result["pending"] == 0 and result["mine"] == 3
    assert result["all"] == 4  # the other event's item is still there, untouched


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
    assert result["offline"]["gaveUp"] is True and result["offline"]["failed"] == 1
    # a rejected login is not the item's fault: it stays pending, the rest go through
    assert result["forbidden"]["accepted"] == 4 and result["forbidden"]["authFailed"] is True
    assert result["kept"] == [["A", "pending", 3]]
    assert result["back"]["accepted"] == 1 and result["left"] == []


def test_queue_one_upload_at_a_time_across_tabs(js):
    result = js(QUEUE_HARNESS + """
        await add("A"); await add("B");
        delay = 50;
        // the same tab: concurrent flushes share one round
        const [r1, r2] = await Promise.all([queue.flush(), queue.flush()]);
        const sameTab = {same: r1 === r2, sent: sent.length};
        // two tabs (two queues on one store): with Web Locks and with the localStorage lease
        const out = {sameTab};
        for (const [name, lock] of [["locks", {}], ["lease", {locks: null, storage: localStorage}]]) {
            sent.length = 0;
            await add("C" + name); await add("D" + name);
            const tab1 = makeQueue("org:ev", lock), tab2 = makeQueue("org:ev", lock);
            const [a, b] = await Promise.all([tab1.flush(), tab2.flush()]);
            out[name] = {busy: [!!a.busy, !!b.busy], sent: sent.length, left: (await tab1.pending()).length};
        }
        return out;
    """)
    assert result == {
        "sameTab": {"same": True, "sent": 2},
        "locks": {"busy": [False, True], "sent": 2, "left": 0},
        "lease": {"busy": [False, True], "sent": 2, "left": 0},
    }


def test_queue_refuses_items_without_nonce(js):
    assert js(QUEUE_HARNESS + """
        try { await queue.add({kind: "scan", list: 1, body: {access_code: "A"}}); return "added"; }
        catch (e) { return "refused"; }
    """) == "refused"


def test_store_replace_merge_and_queue_survive_reopen(js):
    result = js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        let s = await DeskStore.open({name});
        const rec = (h, name, inside, owner) => ({
            code_hash: h, line_items: [], owner,
            attendee: {name, email: name.toLowerCase() + "@x.org", order: "ORD" + h, checked_in: inside},
        });
        await s.replaceList(1, [rec("h1", "Ada", false, 1), rec("h2", "Alan", true, 2), rec("h3", "Grace", false, 3)], {salt: "s", sync_token: "t1"});
        await s.replaceList(2, [rec("h1", "Other", false, 1)], {salt: "s2", sync_token: "x"});
        await s.mergeList(1, [rec("h3", "Grace", true, 3), rec("h4", "Edsger", false, 4)], ["h1"], {salt: "s", sync_token: "t2"});
        await s.queueAdd({nonce: "n1", state: "pending", body: {}});
        s.close();
        s = await DeskStore.open({name});
        const out = {
            counts: await s.counts(1),
            other: await s.counts(2),
            meta: (await s.getMeta(1)).sync_token,
            gone: await s.getAttendee(1, "h1"),
            search: (await s.search(1, "GRACE@")).map((r) => r.attendee.name),
            queue: (await s.queueAll()).map((i) => i.nonce),
            byOwner: (await s.getByOwner(1, 4)).code_hash,
        };
        await s.replaceList(1, [rec("h9", "Fresh", false, 9)], {salt: "new", sync_token: "t9"});
        out.afterReplace = (await s.listAttendees(1)).map((r) => r.code_hash);
        await s.clearDownloads({owner: "me"});
        out.cleared = [(await s.listAttendees(2)).length, await s.getMeta(2), await s.getOwner(), (await s.queueAll()).length];
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
        "byOwner": "h4",
        "afterReplace": ["h9"],
        "cleared": [0, None, "me", 1],
    }


def test_store_keeps_one_record_per_owner_a_regenerated_secret_replaces_the_old(js):
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const s = await DeskStore.open({name});
        const rec = (h, owner) => ({code_hash: h, owner, line_items: [], attendee: {position_id: owner, name: h}});
        await s.replaceList(1, [rec("old", 7), rec("other", 8)], {salt: "s", sync_token: "t1"});
        await s.replaceList(2, [rec("old", 7)], {salt: "s", sync_token: "t1"});
        // the incremental sync sends the position with its new secret, and no "removed"
        await s.mergeList(1, [rec("new", 7)], [], {salt: "s", sync_token: "t2"});
        const afterMerge = (await s.listAttendees(1)).map((r) => r.code_hash).sort();
        // a full download with two records for one owner keeps the last
        await s.replaceList(3, [rec("a", 5), rec("b", 5)], {salt: "s", sync_token: "t3"});
        const out = {afterMerge, oldGone: await s.getAttendee(1, "old"), otherList: !!(await s.getAttendee(2, "old")),
                     three: (await s.listAttendees(3)).map((r) => r.code_hash)};
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {"afterMerge": ["new", "other"], "oldGone": None, "otherList": True, "three": ["b"]}


def test_store_upgrade_from_version_1_keeps_the_queue_and_drops_old_records(js):
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const promisify = (r) => new Promise((ok, ko) => { r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
        // the schema of version 1, as the first release of the page created it
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => {
            const db = req.result;
            db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]});
            db.createObjectStore("meta", {keyPath: "list"});
            db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true}).createIndex("nonce", "nonce", {unique: true});
        };
        const old = await promisify(req);
        const tx = old.transaction(["attendees", "meta", "queue"], "readwrite");
        tx.objectStore("attendees").put({list: 1, code_hash: "h", attendee: {name: "Ada"}});
        tx.objectStore("meta").put({list: 1, salt: "s"});
        tx.objectStore("queue").put({nonce: "n1", list: 1, state: "pending", body: {access_code: "A"}});
        await new Promise((ok) => (tx.oncomplete = ok));
        // the old page is still open in another tab and does not let go: the upgrade waits
        let blocked = 0;
        const opening = DeskStore.open({name, onBlocked: () => blocked++});
        await new Promise((r) => setTimeout(r, 200));
        const waited = blocked;
        old.close();
        const s = await opening;
        const out = {waited, attendees: (await s.listAttendees(1)).length, meta: await s.getMeta(1),
                     queue: (await s.queueAll()).map((i) => i.nonce), version: s.db.version,
                     stores: [...s.db.objectStoreNames].sort()};
        // a newer page in another tab upgrades: this connection closes itself and says so
        let changed = null;
        s.db.onversionchange = null;
        s.close();
        const s2 = await DeskStore.open({name, onVersionChange: (e) => (changed = e.newVersion)});
        const newer = await promisify(indexedDB.open(name, 3));
        out.versionchange = [changed, s2.closed];
        newer.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {
        "waited": 1, "attendees": 0, "meta": None, "queue": ["n1"], "version": 2,
        "stores": ["attendees", "meta", "queue"], "versionchange": [3, True],
    }
