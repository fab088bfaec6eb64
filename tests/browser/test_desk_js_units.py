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


SEALED_CASES = [
    # code, the event's seal salt, the list's salt
    ("SECRET", "0123456789abcdef0123456789abcdef", "9f2c1b0a8e7d6c5b4a3f2e1d0c9b8a7f"),
    ("ünïcödé-✓ Ticket 🎟", "ß-salt-ü", "liste-ä"),
    ("x" * 255, "s", ""),
]


def test_sealed_records_open_in_the_page_as_the_server_sealed_them(js):
    """seal.js derives with WebCrypto what sealing.py derives (the same lookup id for the
    same code, salts and list), opens what the server sealed, and nothing else."""
    from pretix_desk.desk import sealing

    personal = {"n": "Zoë Ünal", "e": "zoe@example.org", "c": "Ünal & Co", "o": "ÄB12C",
                "t": ["VIP ✓"], "a": [{"question": "Diät?", "answer": "vegan"}]}
    cases = []
    for code, salt, list_salt in SEALED_CASES:
        master = sealing.derive_master(code, salt)
        lookup = sealing.lookup_id(master, list_salt)
        cases.append({"code": code, "list_salt": list_salt, "lookup": lookup,
                      "sealed": sealing.seal(master, lookup, personal),
                      "head": {"v": 1, "kdf": "PBKDF2-SHA256", "salt": salt, "iterations": sealing.ITERATIONS}})
        assert sealing.unseal(code, salt, lookup, cases[-1]["sealed"]) == personal
    result = js("""
        const seal = await load("seal.js");
        const fails = async (promise) => promise.then(() => "opened", () => "refused");
        const out = [];
        for (const c of arg) {
            const other = arg.find((o) => o !== c);
            const raw = seal.fromBase64url(c.sealed);
            raw[20] ^= 1;
            const altered = btoa(String.fromCharCode(...raw)).replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
            out.push({
                lookup: await seal.lookupId(c.code, c.head, c.list_salt),
                opened: await seal.openSealed(c.code, c.head, c.lookup, c.sealed),
                fields: seal.personalFields(await seal.openSealed(c.code, c.head, c.lookup, c.sealed)),
                otherCode: await fails(seal.openSealed(c.code + "x", c.head, c.lookup, c.sealed)),
                otherRecord: await fails(seal.openSealed(c.code, c.head, other.lookup, c.sealed)),
                altered: await fails(seal.openSealed(c.code, c.head, c.lookup, altered)),
            });
        }
        const head = arg[0].head;
        out.push([seal.canDerive(head), seal.canDerive(head, null), seal.canDerive({...head, v: 2}),
                  seal.canDerive({...head, kdf: "scrypt"}), seal.canDerive(null)]);
        return out;
    """, cases)
    assert result.pop() == [True, False, False, False, False]
    fields = {"name": "Zoë Ünal", "email": "zoe@example.org", "company": "Ünal & Co", "order": "ÄB12C",
              "checkin_texts": ["VIP ✓"], "shown_answers": [{"question": "Diät?", "answer": "vegan"}]}
    assert result == [{"lookup": c["lookup"], "opened": personal, "fields": fields, "otherCode": "refused",
                       "otherRecord": "refused", "altered": "refused"} for c in cases]


def test_a_scanned_code_finds_its_record_sealed_or_plain(js):
    """A record without personal data is found by the plain hash (no PBKDF2), a sealed one by
    its lookup id; opening gives the sealed fields, {} where there are none."""
    from pretix_desk.desk import sealing

    salt, list_salt = "event-salt", "list-salt"
    master = sealing.derive_master("SEALED-CODE", salt)
    lookup = sealing.lookup_id(master, list_salt)
    sealed = sealing.seal(master, lookup, {"n": "Ada Lovelace", "o": "PAID1"})
    plain = hashlib.sha256((list_salt + "PLAIN-CODE").encode()).hexdigest()
    meta = {"salt": list_salt, "seal": {"v": 1, "kdf": "PBKDF2-SHA256", "salt": salt, "iterations": sealing.ITERATIONS}}
    records = {lookup: {"code_hash": lookup, "sealed": sealed, "attendee": {"position_id": 1}},
               plain: {"code_hash": plain, "sealed": None, "attendee": {"position_id": 2}}}
    assert js("""
        const seal = await load("seal.js");
        const asked = [];
        const store = {async getAttendee(list, hash) { asked.push(hash); return arg.records[hash] || null; }};
        const out = {};
        for (const code of ["SEALED-CODE", "PLAIN-CODE", "UNKNOWN"]) {
            asked.length = 0;
            const record = await seal.findRecord(store, 1, arg.meta, code);
            out[code] = [record && record.attendee.position_id, asked.length, await seal.openRecord(record, code, arg.meta)];
        }
        // a page without the head's seal (an older download) finds plain records only
        out.unsealed = !!(await seal.findRecord(store, 1, {salt: arg.meta.salt}, "SEALED-CODE"));
        return out;
    """, {"records": records, "meta": meta}) == {
        "SEALED-CODE": [1, 2, {"name": "Ada Lovelace", "order": "PAID1"}],
        "PLAIN-CODE": [2, 1, {}],
        "UNKNOWN": [None, 2, {}],
        "unsealed": False,
    }


def test_a_record_of_a_login_with_the_index_opens_with_its_index_entry(js):
    """Where the download has the search index, the server seals only what the index does
    not show: the page names the attendee from the index entry and adds what the seal holds
    (a record with nothing more has ``sealed: ""``); an index entry never hides a sealed field."""
    from pretix_desk.desk import sealing

    salt, list_salt = "event-salt", "list-salt"
    meta = {"salt": list_salt, "search": True,
            "seal": {"v": 1, "kdf": "PBKDF2-SHA256", "salt": salt, "iterations": sealing.ITERATIONS}}
    master = sealing.derive_master("TEXT-CODE", salt)
    lookup = sealing.lookup_id(master, list_salt)
    with_text = {"code_hash": lookup, "sealed": sealing.seal(master, lookup, {"t": ["Wristband"]}),
                 "attendee": {"position_id": 1}}
    nothing_more = {"code_hash": "h", "sealed": "", "attendee": {"position_id": 2}}
    person = {"position_id": 1, "name": "Ada Lovelace", "email": "ada@example.org", "order": "PAID1", "company": None}
    assert js("""
        const seal = await load("seal.js");
        return [
            await seal.openRecord(arg.with_text, "TEXT-CODE", arg.meta, arg.person),
            await seal.openRecord(arg.nothing_more, "ANY", arg.meta, {...arg.person, position_id: 2}),
            await seal.openRecord(arg.nothing_more, "ANY", arg.meta, null),
            await seal.openRecord(arg.with_text, "OTHER-CODE", arg.meta, arg.person),
        ];
    """, {"with_text": with_text, "nothing_more": nothing_more, "person": person, "meta": meta}) == [
        {"name": "Ada Lovelace", "email": "ada@example.org", "order": "PAID1", "checkin_texts": ["Wristband"]},
        {"name": "Ada Lovelace", "email": "ada@example.org", "order": "PAID1"},
        {},
        {"name": "Ada Lovelace", "email": "ada@example.org", "order": "PAID1"},
    ]


def test_sync_keeps_the_search_index_apart_and_merges_only_alike_downloads(js):
    assert js("""
        const sync = await load("sync.js");
        const raw = {attendee: {position_id: 4, checked_in: false}, line_items: [], code_hash: "h", sealed: "S",
                     index: {name: "Ada", email: "a@x.org", order: "ORD", company: null}};
        const head = {salt: "s", sync_token: "t", entries: {}, questions: {}, search: true,
                      seal: {v: 1, kdf: "PBKDF2-SHA256", salt: "e", iterations: 10000}};
        const meta = sync.metaFrom(head, {headers: null}, "now");
        return {
            record: sync.toRecord(raw),
            person: sync.toPerson(raw),
            none: sync.toPerson({...raw, index: undefined}),
            meta: [meta.search, meta.seal.salt, sync.metaFrom({...head, search: false}, {}, "now").search],
            merge: [sync.canMerge(meta, head), sync.canMerge(meta, {...head, search: false}),
                    sync.canMerge(meta, {...head, seal: {...head.seal, salt: "other"}}),
                    sync.canMerge(meta, {...head, seal: undefined})],
        };
    """) == {
        "record": {"attendee": {"position_id": 4, "checked_in": False}, "line_items": [], "code_hash": "h",
                   "sealed": "S", "owner": 4},
        "person": {"position_id": 4, "name": "Ada", "email": "a@x.org", "order": "ORD", "company": None},
        "none": None,
        "meta": [True, "e", False],
        "merge": [True, False, False, False],
    }


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


PRELOAD_LINES = (
    '{"list":7,"salt":"s","attendees":[\n'
    '{"attendee":{"position_id":1,"name":"Zo\\u00eb \\"Z\\" \\n, ],"},"code_hash":"aa"},\n'
    '{"attendee":{"position_id":2},"line_items":[{"item":"\u00dcml\u00e4ut \u2713 \U0001F39F"}],"code_hash":"bb"}\n'
    '],"removed":["cc"],"conflicts":[],"count":2}'
)


def test_a_download_is_read_line_by_line_as_it_streams_whatever_its_pieces(js):
    """The preload's lines (preload.iter_json) parsed as the bytes arrive give what parsing
    the whole document gives, wherever the network splits it (also inside a character of
    several bytes); a body without those lines is parsed whole; a document cut before its
    last line, or missing records, is a network failure, not an empty list."""
    import json

    result = js("""
        const {LineDocument, readDocument} = await load("download.js");
        const {DeskApi, NetworkError} = await load("api.js");
        const bytes = new TextEncoder().encode(arg.body);
        const streamed = (pieces) => new Response(new ReadableStream({
            start(c) { pieces.forEach((p) => c.enqueue(p)); c.close(); },
        }), {status: 200});
        const split = (data, size) => {
            const out = [];
            for (let i = 0; i < data.length; i += size) out.push(data.slice(i, i + size));
            return out;
        };
        const out = {bySize: {}};
        for (const size of [1, 2, 3, 5, 7, 64, 100000]) {
            out.bySize[size] = await readDocument(streamed(split(bytes, size)));
        }
        const whole = new LineDocument();
        whole.push('{"a": [1,\\n 2], "b": 3}');
        out.fallback = whole.end();
        const failures = [];
        for (const body of [arg.body.slice(0, arg.body.indexOf("\\n],")),
                            arg.body.replace('"count":2', '"count":3'), arg.body + "\\n{}"]) {
            const api = new DeskApi({base: "/x/", isOnline: () => true,
                                     fetchImpl: async () => streamed([new TextEncoder().encode(body)])});
            try { await api.preload({}); failures.push("answered"); }
            catch (e) { failures.push(e instanceof NetworkError ? e.kind : String(e)); }
        }
        out.failures = failures;
        const api = new DeskApi({base: "/x/", isOnline: () => true,
                                 fetchImpl: async () => streamed(split(bytes, 9))});
        out.viaApi = (await api.preload({})).data;
        const error = new DeskApi({base: "/x/", isOnline: () => true,
                                   fetchImpl: async () => new Response('{"detail": "no"}', {status: 400})});
        out.refused = (await error.preload({})).data;
        return out;
    """, {"body": PRELOAD_LINES})
    expected = json.loads(PRELOAD_LINES)
    assert expected["attendees"][0]["attendee"]["name"] == 'Zo\u00eb "Z" \n, ],'
    for size, parsed in result["bySize"].items():
        assert parsed == expected, size
    assert result["viaApi"] == expected
    assert result["fallback"] == {"a": [1, 2], "b": 3}
    assert result["failures"] == ["network", "network", "network"]
    assert result["refused"] == {"detail": "no"}


def test_a_downloads_records_are_packed_as_they_arrive_and_a_bad_one_stays_alone(js):
    """Each record is made ready for its bucket as its line is parsed (stored as its JSON
    text, read back as the record), whole-parsed bodies too; a record the page cannot
    read is left out, and the list is stored with the others, not refused whole."""
    import json

    body = PRELOAD_LINES.replace("[\n", "[\nnull,\n", 1).replace('"count":2', '"count":3')
    result = js("""
        const {DeskStore} = await load("store.js");
        const {keepReceived} = await load("sync.js");
        const {LineDocument, readDocument} = await load("download.js");
        const name = "desk-test-" + Math.random();
        const s = await DeskStore.open({name});
        const calls = [];
        const each = (raw) => { calls.push(raw === null ? null : raw.code_hash); return keepReceived(raw, s); };
        const streamed = new Response(new ReadableStream({
            start(c) { c.enqueue(new TextEncoder().encode(arg.body)); c.close(); },
        }), {status: 200});
        const doc = await readDocument(streamed, {each});
        const kept = doc.attendees.filter(Boolean);
        await s.replaceList(1, kept.map((k) => k.record), {salt: "s", sync_token: "t"},
                            kept.map((k) => k.person).filter(Boolean));
        const whole = new LineDocument({each: (raw) => raw.code_hash});
        whole.push('{"attendees": [{"code_hash": "x"}], "count": 1}');
        const raw = await new Promise((ok) => {
            const r = indexedDB.open(name);
            r.onsuccess = () => r.result.transaction("records").objectStore("records").getAll().onsuccess = (e) => {
                ok(e.target.result); r.result.close(); };
        });
        const out = {calls, left_out: doc.attendees.filter((k) => k === null).length,
                     stored: await s.listAttendees(1), counts: await s.counts(1),
                     texts: raw.flatMap((b) => Object.values(b.records).map((v) => typeof v)),
                     whole: whole.end().attendees};
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """, {"body": body})
    expected = json.loads(PRELOAD_LINES)["attendees"]
    assert result["calls"] == [None] + [r["code_hash"] for r in expected]
    assert result["left_out"] == 1
    assert result["texts"] == ["string"] * len(expected)
    stored = {r["code_hash"]: r for r in result["stored"]}
    assert sorted(stored) == sorted(r["code_hash"] for r in expected)
    for r in expected:
        assert stored[r["code_hash"]]["attendee"]["position_id"] == r["attendee"]["position_id"]
        assert stored[r["code_hash"]]["owner"] == r["attendee"]["position_id"]
        assert "index" not in stored[r["code_hash"]]
    assert result["counts"]["total"] == len(expected)
    assert result["whole"] == ["x"]


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
    const {SyncQueue, classifyUpload, backoffMs} = await load("queue.js");
    const {NetworkError} = await load("api.js");
    const {secretsOf, withoutSecrets} = await load("envelope.js");
    // seals as the page does, but readably (test_desk_envelope_units.py tests the real one):
    // what a stored or sent item holds in clear is the body without code and answers
    const sealer = {available: true, async sealBody(body) {
        const secrets = secretsOf(body);
        return secrets ? {...withoutSecrets(body), sealed: {test: secrets}} : body;
    }};
    const opened = (body) => ({...body, ...((body.sealed && body.sealed.test) || {})});
    const code = (item) => opened(item.body).access_code;
    class MemoryStore {
        constructor() { this.items = new Map(); this.seq = 0; }
        async queueAdd(item) { const seq = ++this.seq; this.items.set(seq, {...item, seq}); return seq; }
        async queuePut(item) { this.items.set(item.seq, JSON.parse(JSON.stringify(item))); }
        async queueDelete(seq) { this.items.delete(seq); }
        async queueAll() { return [...this.items.values()].sort((a, b) => a.seq - b.seq); }
    }
    const sent = [];
    // what the fake server does with each code: "ok", "refuse", "down" (no answer in time),
    // "500", "throw", ...; networkDown: nothing answers, not even the probe
    let behaviour = {};
    let networkDown = false;
    let delay = 0;
    let probes = 0;
    const api = {
        async scan(body) { return answer(body); },
        async redeem(body) { return answer(body); },
        async probe() {
            probes += 1;
            if (networkDown) throw new NetworkError("network");
            return {status: 400, data: {q: ["too short"]}};
        },
    };
    async function answer(sealedBody) {
        if (sealedBody.access_code) throw new Error("sent in clear");
        const body = opened(sealedBody);
        sent.push([body.access_code, body.nonce, body.datetime]);
        if (delay) await new Promise((r) => setTimeout(r, delay));
        if (networkDown) throw new NetworkError("timeout");
        const b = behaviour[body.access_code] || "ok";
        if (b === "down") throw new NetworkError("timeout");
        if (b === "500") throw new NetworkError("server");
        if (b === "offline") throw new NetworkError("offline");
        if (b === "throw") throw new Error("broken item");
        if (b === "refuse") return {status: 400, data: {status: "error", reason: "unpaid"}};
        if (b === "gone") return {status: 404, data: {detail: "Not found."}};
        if (b === "403") return {status: 403, data: {}};
        if (b === "429") return {status: 429, data: {}};
        if (typeof b === "object") return b;  // a whole answer {status, data}
        return {status: 201, data: {status: "ok"}};
    }
    const store = new MemoryStore();
    const accepted = [];
    const conflicts = [];
    let clock = Date.parse("2026-01-01T12:00:00Z");
    const known = (item) => (item.api || item.list === 1 ? api : null);
    const noLock = {locks: null, storage: null};
    const makeQueue = (event = "org:ev", lock = noLock) => new SyncQueue({
        store, event, apiFor: known, lock, sealer, clock: () => clock,
        onAccepted: (item) => accepted.push(item.body.access_code),
        onConflict: (item, data) => conflicts.push([item.body.access_code, data])});
    const queue = makeQueue();
    const add = (code, kind = "scan", extra = {}, body = {}) => queue.add({kind, list: 1, api: "/api/1/", ...extra,
        body: {access_code: code, nonce: "n-" + code, datetime: "2026-01-01T10:00:00Z", type: "entry", ...body}});
    const state = async () => (await store.queueAll()).map((i) => [code(i), i.state, i.attempts]);
    const waits = async () => (await store.queueAll()).map((i) => i.next_try ? (Date.parse(i.next_try) - clock) / 1000 : null);
    const names = () => sent.map((s) => s[0]);
"""

NO_FAULTS = {"accepted": 0, "refused": 0, "parked": 0, "failed": 0, "conflicts": 0, "waiting": 0,
             "gaveUp": False, "authFailed": False}


def test_an_earlier_items_failing_seal_holds_back_no_upload(js):
    """Items an earlier page stored in clear are sealed at the next round; one whose sealing
    fails is uploaded as it is, and the round goes on for every item."""
    result = js(QUEUE_HARNESS + """
        await store.queueAdd({event: "org:ev", kind: "scan", list: 1, api: "/api/1/", state: "pending", attempts: 0,
            nonce: "n-OLD", created: "2026-01-01T10:00:00Z", label: {name: "Ada", product: "Ticket"},
            body: {access_code: "OLD", nonce: "n-OLD", datetime: "2026-01-01T10:00:00Z", type: "entry"}});
        await add("NEW");
        const sealBody = sealer.sealBody;
        sealer.sealBody = async (body) => { if (body.access_code === "OLD") throw new Error("no key"); return sealBody(body); };
        let sentInClear = 0;
        const scan = api.scan;
        api.scan = async (body) => { if (body.access_code) { sentInClear += 1; return {status: 201, data: {status: "ok"}}; }
                                     return scan(body); };
        const round = await queue.flush();
        return {accepted: round.accepted, left: (await store.queueAll()).length, sentInClear, names: names()};
    """)
    assert result == {"accepted": 2, "left": 0, "sentInClear": 1, "names": ["NEW"]}


def test_queue_refused_and_failing_items_do_not_block_the_rest(js):
    result = js(QUEUE_HARNESS + """
        for (const c of ["A", "B", "C", "D", "E"]) await add(c, c === "D" ? "redeem" : "scan");
        behaviour = {B: "refuse", C: "down"};
        const first = await queue.flush();
        const afterFirst = await state();
        behaviour = {};
        const early = await queue.flush();  // C waits for its next try
        clock += 15000;
        const second = await queue.flush();
        return {first, afterFirst, early, second, after: await state(), accepted, sent, probes};
    """)
    assert result["first"] == {**NO_FAULTS, "accepted": 3, "refused": 1, "failed": 1}
    assert result["afterFirst"] == [["B", "parked", 0], ["C", "pending", 1]]
    assert result["early"] == {**NO_FAULTS, "waiting": 1}
    # the retry sends only C, with its original nonce and time; the refused B is not resent
    assert result["second"] == {**NO_FAULTS, "accepted": 1}
    assert result["after"] == [["B", "parked", 0]]
    assert result["accepted"] == ["A", "D", "E", "C"]
    assert result["sent"][-1] == ["C", "n-C", "2026-01-01T10:00:00Z"]
    assert [s[0] for s in result["sent"]] == ["A", "B", "C", "D", "E", "C"]
    assert result["probes"] == 1  # after C failed: the server answered, so C was to blame


def test_queue_three_items_the_server_fails_on_hold_back_nothing(js):
    result = js(QUEUE_HARNESS + """
        for (const c of ["X1", "X2", "X3", "G1", "G2"]) await add(c);
        behaviour = {X1: "500", X2: "500", X3: "down"};
        const r = await queue.flush();
        const failing = (await queue.pending()).map((i) => [code(i), i.attempts, i.last_error,
            (Date.parse(i.next_try) - clock) / 1000]);
        return {r, failing, accepted, sent: names(), probes};
    """)
    assert result["r"] == {**NO_FAULTS, "accepted": 2, "failed": 3}
    assert result["accepted"] == ["G1", "G2"]  # in the same round, behind three failures
    assert result["sent"] == ["X1", "X2", "X3", "G1", "G2"]
    assert result["failing"] == [["X1", 1, "server", 15], ["X2", 1, "server", 15], ["X3", 1, "timeout", 15]]
    assert result["probes"] == 3


def test_queue_backoff_grows_per_item_up_to_a_cap(js):
    result = js(QUEUE_HARNESS + """
        await add("X"); await add("Y");
        behaviour = {X: "500", Y: "500"};
        const seen = [];
        const start = clock;
        for (let round = 0; round < 9; round++) {
            await queue.flush();
            const x = (await store.queueAll()).find((i) => code(i) === "X");
            seen.push([x.attempts, (Date.parse(x.next_try) - clock) / 1000]);
            if (round === 0) behaviour = {X: "500"};  // Y goes through at its next try
            clock = Date.parse(x.next_try);
        }
        return {seen, sent: names(), state: await state(),
                caps: [1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffMs(n) / 1000)};
    """)
    assert result["seen"] == [[1, 15], [2, 30], [3, 60], [4, 120], [5, 240], [6, 300], [7, 300], [8, 300], [9, 300]]
    assert result["caps"] == [15, 30, 60, 120, 240, 300, 300, 300]
    # Y failed once and was tried again when its own wait was over, not X's
    assert result["sent"][:4] == ["X", "Y", "X", "Y"] and result["sent"].count("Y") == 2
    assert result["state"] == [["X", "pending", 9]]


def test_queue_stops_a_round_when_the_network_is_gone_without_counting_attempts(js):
    result = js(QUEUE_HARNESS + """
        for (const c of ["A", "B", "C", "D", "E"]) await add(c);
        networkDown = true;
        const down = await queue.flush();
        const sentWhileDown = names();
        const afterDown = [await state(), await waits()];
        networkDown = false;
        behaviour = {A: "offline"};  // the browser says it has no network: not even a probe
        const probesBefore = probes;
        const offline = await queue.flush();
        const offlineProbes = probes - probesBefore;
        behaviour = {A: "403", B: "429"};
        const limited = await queue.flush();
        behaviour = {A: "403"};
        const forbidden = await queue.flush();
        const kept = [await state(), await waits()];
        behaviour = {};
        const back = await queue.flush();
        return {down, sentWhileDown, afterDown, offline, offlineProbes, limited, forbidden, kept, back,
                left: await state()};
    """)
    assert result["down"] == {**NO_FAULTS, "gaveUp": True}
    assert result["sentWhileDown"] == ["A"]
    assert result["afterDown"] == [[[c, "pending", 0] for c in "ABCDE"], [None] * 5]
    assert result["offline"] == {**NO_FAULTS, "gaveUp": True} and result["offlineProbes"] == 0
    # too many requests: the round stops there, nobody is to blame
    assert result["limited"] == {**NO_FAULTS, "authFailed": 403}
    # a rejected login is not the item's fault: it stays pending, the rest go through; the
    # status says which (an expired login, or one without the permission)
    assert result["forbidden"] == {**NO_FAULTS, "accepted": 4, "authFailed": 403}
    assert result["kept"] == [[["A", "pending", 0]], [None]]
    assert result["back"]["accepted"] == 1 and result["left"] == []


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
        const parked = (await queue.parked()).map((i) => [code(i), i.why, i.reason]);
        return {r, parked, pending: (await queue.pending()).length, mine: (await queue.mine()).length,
                all: (await store.queueAll()).length, sent: sent.map((s) => s[0])};
    """)
    assert result["r"]["accepted"] == 2 and result["r"]["parked"] == 2 and result["r"]["refused"] == 1
    assert result["parked"] == [["U", "unknown_list", "unknown_list"], ["X", "error", "error"], ["G", "refused", "error"]]
    assert result["sent"] == ["A", "X", "G", "B"]
    assert result["pending"] == 0 and result["mine"] == 3
    assert result["all"] == 4  # the other event's item is still there, untouched


def test_queue_offline_uploads_are_kept_for_a_day_and_conflicts_reported(js):
    result = js(QUEUE_HARNESS + """
        const offline = (answer, extra = {}) => ({offline: {answer, sync_token: "tok", ...extra}});
        const recorded = (what, conflict = null) => ({status: 201, data: {status: what === "refused" ? "error" : "ok",
            offline: {recorded: what, conflict}}});
        const conflict = {position_id: 7, reason: "already_redeemed", reason_explanation: null,
            checkin: {id: 12, datetime: "2026-01-01T10:00:00Z", type: "entry", forced: true, gate: null, device: null, nonce: "n-F"},
            others: [{id: 11, datetime: "2026-01-01T09:58:00Z", type: "entry", forced: false, gate: "Gate B", device: null, nonce: "x"}]};
        await add("OK", "scan", {}, offline("ok"));
        await add("NO", "scan", {}, offline("error", {reason: "unpaid"}));
        await add("F", "scan", {}, offline("ok"));
        await add("EX", "scan", {}, offline("ok"));   // a ticket that needs a medium exchange
        await add("OLD");                              // queued by an older page: no "offline"
        await add("R", "redeem");                      // handed out at another desk meanwhile
        behaviour = {OK: recorded("checkin"), NO: recorded("refused"), F: recorded("forced", conflict),
                     EX: {status: 400, data: {status: "error", reason: "exchange"}},
                     R: {status: 409, data: {status: "error", reason: "already_redeemed", redeemed_at: "2026-01-01T09:00:00Z"}}};
        const r = await queue.flush();
        const kept = (await store.queueAll()).map((i) => [code(i), i.state, i.recorded || null]);
        const counts = [(await queue.pending()).length, (await queue.parked()).length, (await queue.uploaded()).length];
        // an upload again (another tab, a reload) sends nothing of what is done
        sent.length = 0;
        await queue.flush();
        const again = names();
        clock += 24 * 3600 * 1000 - 1;
        await queue.flush();
        const beforeDay = (await queue.uploaded()).length;
        clock += 2;
        await queue.flush();
        return {r, kept, counts, again, beforeDay, afterDay: await state(), accepted,
                conflicts: conflicts.map(([code, data]) => [code, data.reason || data.offline.recorded])};
    """)
    assert result["r"] == {**NO_FAULTS, "accepted": 4, "refused": 1, "conflicts": 2}
    assert result["kept"] == [
        ["OK", "uploaded", "checkin"], ["NO", "uploaded", "refused"], ["F", "uploaded", "forced"],
        ["EX", "parked", None],
    ]
    assert result["counts"] == [0, 1, 3]
    assert result["again"] == []
    assert result["accepted"] == ["OK", "NO", "F", "OLD"]
    assert result["conflicts"] == [["F", "forced"], ["R", "already_redeemed"]]
    assert result["beforeDay"] == 3
    assert result["afterDay"] == [["EX", "parked", 0]]


def test_queue_classifies_answers_and_retry_now_ends_the_wait(js):
    result = js(QUEUE_HARNESS + """
        const table = [
            ["scan", 201, {}], ["scan", 200, null], ["scan", 201, {offline: {recorded: "refused", conflict: null}}],
            ["scan", 400, {offline: {recorded: "refused", conflict: null}}], ["scan", 400, {status: "error", reason: "exchange"}],
            ["scan", 400, {offline: null}], ["scan", 400, {offline: {sync_token: ["Not a sync token of this list."]}}],
            ["scan", 404, {}], ["scan", 401, {}], ["scan", 403, {}], ["scan", 429, {}],
            ["redeem", 409, {reason: "already_redeemed"}], ["scan", 409, {reason: "already_redeemed"}], ["redeem", 400, {reason: "unpaid"}],
        ].map(([kind, status, data]) => classifyUpload(kind, status, data));
        await add("X"); await add("Y");
        behaviour = {X: "500"};
        await queue.flush();
        const before = await waits();
        await queue.retryNow();
        const after = await waits();
        behaviour = {};
        const r = await queue.flush();
        return {table, before, after, r};
    """)
    assert result["table"] == ["accepted", "accepted", "accepted", "accepted", "refused", "refused", "refused",
                               "refused", "retry", "retry", "retry", "conflict", "refused", "refused"]
    assert result["before"] == [15] and result["after"] == [None]
    assert result["r"]["accepted"] == 1


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
        const rec = (h, inside, owner) => ({
            code_hash: h, line_items: [], owner, sealed: "x", attendee: {position_id: owner, checked_in: inside},
        });
        const person = (owner, name) => ({position_id: owner, name, email: name.toLowerCase() + "@x.org",
                                          order: "ORD" + owner, company: null});
        await s.replaceList(1, [rec("h1", false, 1), rec("h2", true, 2), rec("h3", false, 3)], {salt: "s", sync_token: "t1"},
                            [person(1, "Ada"), person(2, "Alan"), person(3, "Grace")]);
        await s.replaceList(2, [rec("h1", false, 1)], {salt: "s2", sync_token: "x"}, [person(1, "Other")]);
        await s.mergeList(1, [rec("h3", true, 3), rec("h4", false, 4)], ["h1"], {salt: "s", sync_token: "t2"},
                          [person(3, "Grace"), person(4, "Edsger")]);
        await s.queueAdd({nonce: "n1", state: "pending", body: {}});
        s.close();
        s = await DeskStore.open({name});
        const out = {
            counts: await s.counts(1),
            other: await s.counts(2),
            meta: (await s.getMeta(1)).sync_token,
            gone: await s.getAttendee(1, "h1"),
            // Ada's code was removed: her index entry went with it
            search: (await s.searchPeople(1, "GRACE@")).map((p) => p.name),
            people: (await s.searchPeople(1, "@x.org")).map((p) => p.position_id),
            otherList: (await s.searchPeople(2, "other")).map((p) => [p.list, p.name]),
            queue: (await s.queueAll()).map((i) => i.nonce),
            byOwner: (await s.getByOwner(1, 4)).code_hash,
            person: (await s.getPerson(1, 4)).name,
        };
        await s.replaceList(1, [rec("h9", false, 9)], {salt: "new", sync_token: "t9"});
        out.afterReplace = [(await s.listAttendees(1)).map((r) => r.code_hash), (await s.searchPeople(1, "x.org")).length];
        await s.clearDownloads({login: "me"});
        out.cleared = [(await s.listAttendees(2)).length, (await s.searchPeople(2, "other")).length, await s.getMeta(2),
                       await s.getLogin(), (await s.queueAll()).length];
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
        "people": [2, 3, 4],
        "otherList": [[2, "Other"]],
        "queue": ["n1"],
        "byOwner": "h4",
        "person": "Edsger",
        "afterReplace": [["h9"], 0],
        "cleared": [0, 0, None, "me", 1],
    }


def test_an_offline_answer_and_the_footer_read_no_more_of_the_queue_than_they_show(js):
    """After hours offline the queue holds thousands of items; an answer counts only its
    ticket's (queue.ofOwner) and the footer counts the pending ones and reads only the
    failing and parked (queue.summary), through the store's indexes: the same as reading
    the whole queue and filtering it (what a store without them does), and the whole
    queue is not read. Items stored before the indexes existed (version 6) are in them."""
    result = js("""
        const {DeskStore} = await load("store.js");
        const {SyncQueue} = await load("queue.js");
        const name = "desk-test-" + Math.random();
        const promisify = (r) => new Promise((ok, ko) => { r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
        const req = indexedDB.open(name, 6);
        req.onupgradeneeded = () => {
            const db = req.result;
            db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true}).createIndex("nonce", "nonce", {unique: true});
            for (const [store, keyPath] of [["meta", "list"], ["conflicts", "key"], ["counts", "list"],
                                            ["records", ["list", "prefix"]], ["positions", ["list", "bucket"]]]) {
                db.createObjectStore(store, {keyPath});
            }
        };
        const old = await promisify(req);
        const item = (i, event = "org:ev") => ({
            event, kind: i % 7 ? "scan" : "redeem", list: 1 + (i % 2), api: "/a/", owner: i % 10, nonce: event + i,
            created: "2026-01-01T10:00:00Z", body: {sealed: "x"}, label: null,
            state: ["pending", "pending", "pending", "uploaded", "parked"][i % 5], attempts: i % 3 === 0 ? 2 : 0,
        });
        let tx = old.transaction("queue", "readwrite");
        for (let i = 0; i < 40; i++) tx.objectStore("queue").put(item(i));
        await new Promise((ok) => (tx.oncomplete = ok));
        old.close();
        const store = await DeskStore.open({name});
        for (let i = 40; i < 200; i++) await store.queueAdd(item(i));
        for (let i = 0; i < 20; i++) await store.queueAdd(item(i, "org:other"));
        await store.queueAdd({...item(500), state: "refused-long-ago"});
        let wholeReads = 0;
        const queueAll = store.queueAll.bind(store);
        store.queueAll = async () => { wholeReads += 1; return queueAll(); };
        const indexed = new SyncQueue({store, event: "org:ev", apiFor: () => null});
        const plain = new SyncQueue({store: {queueAll}, event: "org:ev", apiFor: () => null});
        const seqs = (items) => items.map((i) => i.seq);
        const out = {owners: [], plainOwners: []};
        for (const [list, owner] of [[1, 3], [2, 4], [1, 4], [2, 9], [1, 99]]) {
            out.owners.push(seqs(await indexed.ofOwner(list, owner)));
        }
        const summary = await indexed.summary();
        out.summary = {queued: summary.queued, failing: seqs(summary.failing), parked: seqs(summary.parked)};
        out.wholeReads = wholeReads;
        for (const [list, owner] of [[1, 3], [2, 4], [1, 4], [2, 9], [1, 99]]) {
            out.plainOwners.push(seqs(await plain.ofOwner(list, owner)));
        }
        const p = await plain.summary();
        out.plainSummary = {queued: p.queued, failing: seqs(p.failing), parked: seqs(p.parked)};
        store.close();
        indexedDB.deleteDatabase(name);
        return out;
    """)
    assert result["wholeReads"] == 0
    assert result["owners"] == result["plainOwners"]
    assert [len(o) for o in result["owners"]] == [0, 0, 20, 20, 0]
    assert result["summary"] == result["plainSummary"]
    assert result["summary"]["queued"] == 120 and len(result["summary"]["failing"]) == 40
    assert len(result["summary"]["parked"]) == 41  # every fifth, and the one in an older state


def test_a_scan_writes_its_records_bucket_not_its_positions(js):
    """A scan keeps its ticket's code: it writes the record's bucket and the counts, not the
    position's bucket with the search index (about a hundred people each at 100,000); a
    record with a new code for the same position moves the owner lookup."""
    result = js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const s = await DeskStore.open({name});
        const rec = (hash, owner, checked = false) => ({code_hash: hash, attendee: {position_id: owner, checked_in: checked},
                                                        line_items: []});
        await s.replaceList(1, [rec("abc1", 7), rec("def2", 8)], {salt: "s", sync_token: "t"},
                            [{position_id: 7, name: "Ada"}, {position_id: 8, name: "Alan"}]);
        const written = [];
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function (...args) { written.push(this.name); return put.apply(this, args); };
        await s.putAttendee({...rec("abc1", 7, true), list: 1});
        const scan = written.splice(0).sort();
        await s.putAttendee({...rec("fff9", 7), list: 1});
        const regenerated = written.splice(0).sort();
        IDBObjectStore.prototype.put = put;
        const out = {scan, regenerated, owner: (await s.getByOwner(1, 7)).code_hash, counts: await s.counts(1),
                     person: (await s.getPerson(1, 7)).name};
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """)
    assert result == {"scan": ["counts", "records"], "regenerated": ["counts", "positions", "records"],
                      "owner": "fff9", "counts": {"total": 2, "checkedIn": 0}, "person": "Ada"}


def test_store_keeps_no_index_or_opened_field_in_the_records(js):
    """Whatever a caller passes (a record as received, or one shown with its opened fields),
    the records store keeps the sealed record only."""
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const s = await DeskStore.open({name});
        const shown = {position_id: 5, checked_in: false, name: "Ada", email: "ada@x.org", company: "AE",
                       order: "ORD5", checkin_texts: ["VIP"], shown_answers: [{question: "Q", answer: "A"}],
                       product: {id: 1, name: "Ticket"}};
        await s.replaceList(1, [{code_hash: "h5", sealed: "S", line_items: [], attendee: shown,
                                 index: {name: "Ada", email: "ada@x.org", order: "ORD5", company: "AE"}}], {salt: "s"});
        await s.putAttendee({...(await s.getAttendee(1, "h5")), attendee: shown});
        const out = await s.getAttendee(1, "h5");
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {"list": 1, "code_hash": "h5", "sealed": "S", "line_items": [], "owner": 5,
             "attendee": {"position_id": 5, "checked_in": False, "product": {"id": 1, "name": "Ticket"}}}


def test_store_counts_a_list_without_reading_it(js):
    """The footer's counters, recounted at every scan, are kept in the counts store by every
    write: a full download, an incremental one (removed, replaced, a new secret) and a scan."""
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const s = await DeskStore.open({name});
        const rec = (h, checked_in) => ({code_hash: h, line_items: [], attendee: {position_id: h.length, checked_in}});
        await s.replaceList(1, [rec("a", false), rec("bb", true), rec("ccc", false)], {salt: "s"});
        await s.replaceList(2, [rec("a", true)], {salt: "s"});
        const before = await s.counts(1);
        await s.putAttendee({...(await s.getAttendee(1, "a")), attendee: {position_id: 1, checked_in: true}});
        const after = await s.counts(1);
        // "bb" (checked in) removed, "ccc" checked in, "dddd" new, "a" gets a new secret
        await s.mergeList(1, [rec("ccc", true), rec("dddd", false), {...rec("e", false), owner: 1}], ["bb"],
                          {salt: "s", sync_token: "t2"});
        const merged = await s.counts(1);
        const out = {before, after, merged, other: await s.counts(2), none: await s.counts(3),
                     stored: (await s.listAttendees(1)).filter((r) => r.attendee.checked_in).length};
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {"before": {"total": 3, "checkedIn": 1}, "after": {"total": 3, "checkedIn": 2},
             "merged": {"total": 3, "checkedIn": 1},
             "other": {"total": 1, "checkedIn": 1}, "none": {"total": 0, "checkedIn": 0}, "stored": 1}


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
        const newer = await promisify(indexedDB.open(name, 8));
        out.versionchange = [changed, s2.closed];
        newer.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {
        "waited": 1, "attendees": 0, "meta": None, "queue": ["n1"], "version": 7,
        "stores": ["conflicts", "counts", "meta", "positions", "queue", "records"], "versionchange": [8, True],
    }


def test_store_upgrade_from_version_2_adds_the_conflicts_and_drops_the_clear_records(js):
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const promisify = (r) => new Promise((ok, ko) => { r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
        // the schema of version 2
        const req = indexedDB.open(name, 2);
        req.onupgradeneeded = () => {
            const db = req.result;
            db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true}).createIndex("nonce", "nonce", {unique: true});
            db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]}).createIndex("owner", ["list", "owner"]);
            db.createObjectStore("meta", {keyPath: "list"});
        };
        const old = await promisify(req);
        const tx = old.transaction(["attendees", "meta", "queue"], "readwrite");
        tx.objectStore("attendees").put({list: 1, code_hash: "h", owner: 7, attendee: {name: "Ada", position_id: 7}});
        tx.objectStore("meta").put({list: 1, salt: "s", sync_token: "t"});
        tx.objectStore("queue").put({nonce: "n1", list: 1, state: "pending", body: {access_code: "A"}});
        await new Promise((ok) => (tx.oncomplete = ok));
        old.close();
        const s = await DeskStore.open({name});
        const entry = (key, extra = {}) => ({key, event: "e", name: "Ada", ...extra});
        const added = [await s.conflictAdd(entry("checkin:1")), await s.conflictAdd(entry("checkin:1", {name: "Other"})),
                       await s.conflictAdd(entry("checkin:2"))];
        await s.conflictPut({...entry("checkin:2"), dismissed: true});
        await s.conflictDelete("checkin:1");
        const out = {version: s.db.version, attendee: await s.getByOwner(1, 7),
                     meta: await s.getMeta(1), queue: (await s.queueAll()).map((i) => i.nonce),
                     added, conflicts: (await s.conflictAll()).map((c) => [c.key, c.name, !!c.dismissed])};
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {
        "version": 7, "attendee": None, "meta": None, "queue": ["n1"], "added": [True, False, True],
        "conflicts": [["checkin:2", "Ada", True]],
    }


def test_store_upgrade_from_version_3_drops_the_clear_records_and_keeps_queue_and_conflicts(js):
    """Version 3 kept names and e-mails in the records: they go (the next sync downloads
    the list again, sealed); what was scanned and what uploads found stay."""
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const promisify = (r) => new Promise((ok, ko) => { r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
        const req = indexedDB.open(name, 3);
        req.onupgradeneeded = () => {
            const db = req.result;
            db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true}).createIndex("nonce", "nonce", {unique: true});
            db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]}).createIndex("owner", ["list", "owner"]);
            db.createObjectStore("meta", {keyPath: "list"});
            db.createObjectStore("conflicts", {keyPath: "key"});
        };
        const old = await promisify(req);
        const tx = old.transaction(["attendees", "meta", "queue", "conflicts"], "readwrite");
        tx.objectStore("attendees").put({list: 1, code_hash: "h", owner: 7, attendee: {name: "Ada", position_id: 7}});
        tx.objectStore("meta").put({list: 1, salt: "s", sync_token: "t"});
        tx.objectStore("meta").put({list: "owner", owner: "me"});
        tx.objectStore("queue").put({nonce: "n1", list: 1, state: "pending", body: {}});
        tx.objectStore("conflicts").put({key: "checkin:1", event: "e"});
        await new Promise((ok) => (tx.oncomplete = ok));
        old.close();
        const s = await DeskStore.open({name});
        const out = {version: s.db.version, attendees: (await s.listAttendees(1)).length, meta: await s.getMeta(1),
                     login: await s.getLogin(), queue: (await s.queueAll()).map((i) => i.nonce),
                     conflicts: (await s.conflictAll()).map((c) => c.key), stores: [...s.db.objectStoreNames].sort()};
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {
        "version": 7, "attendees": 0, "meta": None, "login": None, "queue": ["n1"], "conflicts": ["checkin:1"],
        "stores": ["conflicts", "counts", "meta", "positions", "queue", "records"],
    }


@pytest.mark.parametrize("version", [4, 5])
def test_store_upgrade_to_buckets_keeps_the_downloads_and_whose_login_they_are(js, version):
    """Versions 4 and 5 kept one value per record; version 6 keeps buckets. A door laptop
    whose page is upgraded while the network is down keeps answering: its downloads move
    into buckets with their sync state, search index and counts. Whose login downloaded
    them stays (version 4 called it "owner", the word that otherwise means the position a
    record's code belongs to), and so do the queue and the conflicts."""
    assert js("""
        const {DeskStore} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const promisify = (r) => new Promise((ok, ko) => { r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
        const req = indexedDB.open(name, arg);
        req.onupgradeneeded = () => {
            const db = req.result;
            db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true}).createIndex("nonce", "nonce", {unique: true});
            const attendees = db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]});
            attendees.createIndex("owner", ["list", "owner"]);
            attendees.createIndex("checked", ["list", "checked"]);
            db.createObjectStore("meta", {keyPath: "list"});
            db.createObjectStore("conflicts", {keyPath: "key"});
            db.createObjectStore("people", {keyPath: ["list", "position_id"]});
        };
        const old = await promisify(req);
        const tx = old.transaction(["attendees", "meta", "people", "queue", "conflicts"], "readwrite");
        const record = (list, hash, owner, inside) => ({list, code_hash: hash, owner, checked: inside ? 1 : 0, sealed: "S",
                                                        line_items: [], attendee: {position_id: owner, checked_in: inside}});
        tx.objectStore("attendees").put(record(1, "abc1", 7, false));
        tx.objectStore("attendees").put(record(1, "def2", 8, true));
        tx.objectStore("attendees").put(record(2, "abc1", 7, true));
        tx.objectStore("people").put({list: 1, position_id: 7, name: "Ada", email: null, order: "ORD7", company: null});
        tx.objectStore("meta").put({list: 1, salt: "s", sync_token: "t"});
        tx.objectStore("meta").put({list: 2, salt: "s2", sync_token: "t2"});
        tx.objectStore("meta").put(arg === 4 ? {list: "owner", owner: "me"} : {list: "login", login: "me"});
        tx.objectStore("queue").put({nonce: "n1", list: 1, state: "pending", body: {}});
        tx.objectStore("conflicts").put({key: "checkin:1", event: "e"});
        await new Promise((ok) => (tx.oncomplete = ok));
        old.close();
        const s = await DeskStore.open({name});
        const out = {version: s.db.version, byOwner: (await s.getByOwner(1, 7)).code_hash,
                     scanned: (await s.getAttendee(1, "def2")).attendee.checked_in, other: (await s.getAttendee(2, "abc1")).list,
                     meta: [(await s.getMeta(1)).sync_token, (await s.getMeta(2)).sync_token],
                     counts: [await s.counts(1), await s.counts(2)], found: (await s.searchPeople(1, "ada")).map((p) => p.order),
                     login: await s.getLogin(), legacy: await s.getMeta("owner"),
                     queue: (await s.queueAll()).map((i) => i.nonce), conflicts: (await s.conflictAll()).map((c) => c.key),
                     stores: [...s.db.objectStoreNames].sort()};
        // the next incremental sync merges into the buckets
        await s.mergeList(1, [{code_hash: "fff9", owner: 7, line_items: [], attendee: {position_id: 7, checked_in: true}}], [],
                          {salt: "s", sync_token: "t3"});
        out.after = [(await s.getByOwner(1, 7)).code_hash, await s.getAttendee(1, "abc1"), await s.counts(1)];
        s.close();
        indexedDB.deleteDatabase(name);
        return out;
    """, version) == {
        "version": 7, "byOwner": "abc1", "scanned": True, "other": 2, "meta": ["t", "t2"],
        "counts": [{"total": 2, "checkedIn": 1}, {"total": 1, "checkedIn": 1}], "found": ["ORD7"],
        "login": "me", "legacy": None, "queue": ["n1"], "conflicts": ["checkin:1"],
        "stores": ["conflicts", "counts", "meta", "positions", "queue", "records"],
        "after": ["fff9", None, {"total": 2, "checkedIn": 2}],
    }


def test_store_buckets_records_by_lookup_id_and_positions_by_id(js):
    """A scan reads one bucket of about 25 records at 100,000 (the lookup id's first three
    hex digits), an owner lookup one bucket of positions and one of records; what is kept in
    a bucket is what the page reads back, and an emptied bucket goes."""
    assert js("""
        const {DeskStore, PREFIX, POSITION_BUCKETS} = await load("store.js");
        const name = "desk-test-" + Math.random();
        const s = await DeskStore.open({name});
        const rec = (h, owner) => ({code_hash: h, owner, line_items: [], attendee: {position_id: owner, checked_in: false}});
        await s.replaceList(1, [rec("abc01", 1), rec("abc02", 2), rec("fff00", 1 + POSITION_BUCKETS)], {salt: "s"},
                            [{position_id: 1, name: "Ada"}, {position_id: 1 + POSITION_BUCKETS, name: "Alan"}]);
        const raw = async (store) => {
            const tx = s.db.transaction(store);
            return new Promise((ok) => { const r = tx.objectStore(store).getAll(); r.onsuccess = () => ok(r.result); });
        };
        const records = (await raw("records")).map((b) => [b.prefix, Object.keys(b.records).sort()]);
        const positions = (await raw("positions")).map((b) => [b.bucket, b.owners, Object.keys(b.people)]);
        const found = [(await s.getByOwner(1, 1 + POSITION_BUCKETS)).code_hash, (await s.getByOwner(1, 2)).code_hash,
                       (await s.getPerson(1, 1 + POSITION_BUCKETS)).name, await s.getPerson(1, 2)];
        await s.mergeList(1, [], ["fff00"], {salt: "s", sync_token: "t2"});
        const emptied = [(await raw("records")).map((b) => b.prefix), (await raw("positions")).map((b) => b.bucket),
                         await s.getPerson(1, 1 + POSITION_BUCKETS), await s.getByOwner(1, 1 + POSITION_BUCKETS)];
        s.close();
        indexedDB.deleteDatabase(name);
        return {PREFIX, records, positions, found, emptied};
    """) == {
        "PREFIX": 3,
        "records": [["abc", ["abc01", "abc02"]], ["fff", ["fff00"]]],
        "positions": [[1, {"1": "abc01", "1025": "fff00"}, ["1", "1025"]], [2, {"2": "abc02"}, []]],
        "found": ["fff00", "abc02", "Alan", None],
        "emptied": [["abc"], [1, 2], None, None],
    }


def test_offline_refusals_queued_for_upload_are_no_entries(js):
    assert js(OFFLINE + """
        const refused = (datetime) => ({kind: "scan", owner: 7, body: {type: "entry", datetime,
            offline: {answer: "error", reason: "unpaid", sync_token: "t"}}});
        const admitted = (type, datetime) => ({kind: "scan", owner: 7, body: {type, datetime,
            offline: {answer: "ok", sync_token: "t"}}});
        const afterExit = {allow_multiple_entries: false, allow_entry_after_exit: true};
        return [
            o.isOfflineRefusal(refused("T1")), o.isOfflineRefusal(admitted("entry", "T1")), o.isOfflineRefusal(q("entry", "T1")),
            // a refused scan queued for pretix's record lets nobody in
            scan({record: rec(), queued: [refused("T1"), refused("T2")]}),
            o.entriesSoFar(rec(), [refused("T1")]),
            // only admissions count, and the latest of them says whether they are inside
            scan({record: rec(), queued: [admitted("entry", "T1"), refused("T2")]}),
            o.entriesSoFar(rec({last: "entry"}, inside), [admitted("exit", "T1"), refused("T2")]),
            scan({record: rec({last: "entry"}, inside), queued: [admitted("exit", "T1"), refused("T2")], entries: afterExit}),
        ];
    """) == [
        True, False, False,
        {"status": "ok"},
        {"entered": False, "lastEntryAt": None, "last": None},
        {"status": "error", "reason": "already_redeemed", "checked_in_at": "T1"},
        {"entered": True, "lastEntryAt": "2026-06-01T10:42:00Z", "last": "exit"},
        {"status": "ok"},
    ]


CONFLICTS = """
    const c = await load("conflicts.js");
    const {describeConflict} = await load("uploadview.js");
    const now = Date.parse("2026-06-01T19:10:00Z");
    const checkin = (id, datetime, extra = {}) => ({id, datetime, type: "entry", forced: false, gate: null, device: null,
        nonce: "other-" + id, ...extra});
    const item = (code, extra = {}) => ({event: "org:ev", kind: "scan", list: 1, owner: 7, nonce: "n-" + code,
        label: {name: "Ada Lovelace", product: "Ticket"}, body: {access_code: code, nonce: "n-" + code,
        datetime: "2026-06-01T19:02:00Z", type: "entry", offline: {answer: "ok", sync_token: "t"}}, ...extra});
    // the page's strings as the server renders them (desk_strings.py), enough of them here
    const T = {
        reason_canceled: "Order canceled", reason_other: "Refused", addons: "Add-ons",
        conflict_admitted_offline: "admitted offline at {time}", conflict_admitted_here: "admitted here at {time}",
        conflict_used_at: "already used at {time}", conflict_used_at_place: "already used at {place} at {time}",
        conflict_also_admitted: "also admitted at {time} (offline)",
        conflict_also_admitted_place: "also admitted at {place} at {time} (offline)",
        conflict_changed_since: "since the download: {reason}",
        conflict_recorded_forced: "pretix recorded it as a forced check-in.",
        conflict_recorded_refused: "pretix did not record it as a check-in.",
        conflict_handed_out_offline: "{product} handed out offline at {time}",
        conflict_handed_out_before: "already handed out at {time}",
    };
    const ui = {T, time: (iso) => iso.slice(11, 16), reasonText: (r) => T["reason_" + r] || T.reason_other};
    const say = (entry) => describeConflict(entry, ui);
"""


def test_conflicts_from_upload_answers_and_how_the_page_says_them(js):
    assert js(CONFLICTS + """
        const forced = {status: "ok", list: {id: 1, name: "Main"}, offline: {recorded: "forced", conflict: {
            position_id: 7, reason: "already_redeemed", reason_explanation: null,
            checkin: checkin(31, "2026-06-01T19:02:00Z", {forced: true, nonce: "n-A"}),
            others: [checkin(30, "2026-06-01T18:58:00Z", {gate: "Gate B"}), checkin(29, "2026-06-01T18:00:00Z")]}}};
        const canceled = {status: "ok", offline: {recorded: "forced", conflict: {
            position_id: 7, reason: "canceled", reason_explanation: null,
            checkin: checkin(32, "2026-06-01T19:02:00Z", {forced: true, nonce: "n-B"}), others: []}}};
        const refused = {status: "error", offline: {recorded: "refused", conflict: {
            position_id: 7, reason: "already_redeemed", reason_explanation: null, checkin: null,
            others: [checkin(30, "2026-06-01T18:58:00Z", {device: "Entrance phone"})]}}};
        const plain = {status: "ok", offline: {recorded: "checkin", conflict: null}};
        const redeem = {status: "error", reason: "already_redeemed", redeemed_at: "2026-06-01T18:58:00Z"};
        const handOut = item("C", {kind: "redeem", label: {name: "Ada Lovelace", product: "T-shirt"},
            body: {access_code: "C", line_item_id: 5, nonce: "n-C", datetime: "2026-06-01T19:02:00Z"}});
        const entries = [
            c.conflictFromUpload(item("A"), forced, now), c.conflictFromUpload(item("B"), canceled, now),
            c.conflictFromUpload(item("R"), refused, now), c.conflictFromUpload(handOut, redeem, now),
        ];
        return {
            none: c.conflictFromUpload(item("P"), plain, now),
            keys: entries.map((e) => [e.key, e.role, e.list, e.position_id, e.name, e.nonce, e.product]),
            texts: entries.map(say),
            // a page that does not know the name (after a reload) says product and list
            nameless: [describeConflict({...entries[0], name: null}, ui, "Main"), say({...entries[3], name: null}),
                       say({...entries[0], name: null, product: null})],
        };
    """) == {
        "none": None,
        # the name is the page's (from the item as it saw it); Conflicts stores none
        "keys": [["checkin:31", "forced", 1, 7, "Ada Lovelace", "n-A", "Ticket"],
                 ["checkin:32", "forced", 1, 7, "Ada Lovelace", "n-B", "Ticket"],
                 ["nonce:n-R", "refused", 1, 7, "Ada Lovelace", "n-R", "Ticket"],
                 ["redeem:n-C", "redeem", 1, 7, "Ada Lovelace", "n-C", "T-shirt"]],
        "texts": [
            "Ada Lovelace — admitted offline at 19:02; already used at Gate B at 18:58. "
            "pretix recorded it as a forced check-in.",
            "Ada Lovelace — admitted offline at 19:02; since the download: Order canceled. "
            "pretix recorded it as a forced check-in.",
            "Ada Lovelace — admitted offline at 19:02; already used at Entrance phone at 18:58. "
            "pretix did not record it as a check-in.",
            "Ada Lovelace — T-shirt handed out offline at 19:02; already handed out at 18:58.",
        ],
        "nameless": [
            "Ticket · Main — admitted offline at 19:02; already used at Gate B at 18:58. "
            "pretix recorded it as a forced check-in.",
            "— — T-shirt handed out offline at 19:02; already handed out at 18:58.",
            "— — admitted offline at 19:02; already used at Gate B at 18:58. pretix recorded it as a forced check-in.",
        ],
    }


def test_conflicts_from_the_preload_concern_this_desks_own_uploads_only(js):
    assert js(CONFLICTS + """
        const uploaded = new Map([["n-A", item("A")], ["n-F", item("F", {label: {product: "Day pass"}})]]);
        const raw = [
            // this desk admitted first (n-A); another desk's offline admission was forced later
            {position_id: 7, reason: null, checkin: checkin(41, "2026-06-01T19:02:00Z", {forced: true, gate: "Gate A"}),
             others: [checkin(40, "2026-06-01T18:58:00Z", {nonce: "n-A"})]},
            // this desk's own upload was the forced one (its answer told it already)
            {position_id: 9, reason: null, checkin: checkin(43, "2026-06-01T19:05:00Z", {forced: true, nonce: "n-F"}),
             others: [checkin(42, "2026-06-01T18:50:00Z")]},
            // two other desks: none of this desk's business
            {position_id: 8, reason: null, checkin: checkin(45, "2026-06-01T19:06:00Z", {forced: true}),
             others: [checkin(44, "2026-06-01T18:40:00Z")]},
            {position_id: 8, reason: null, checkin: null, others: []},
        ];
        const entries = c.conflictsFromPreload({event: "org:ev", list: 1, raw, uploaded, now});
        // stored items hold no names: the page says them from its memory (the Conflicts' shown())
        return {keys: entries.map((e) => [e.key, e.role, e.position_id, e.nonce, e.product, "name" in e]),
                texts: entries.map(say)};
    """) == {
        "keys": [["checkin:41", "also", 7, "n-A", "Ticket", False], ["checkin:43", "forced", 9, "n-F", "Day pass", False]],
        "texts": [
            "Ticket — admitted here at 18:58; also admitted at Gate A at 19:02 (offline).",
            "Day pass — admitted offline at 19:05; already used at 18:50. pretix recorded it as a forced check-in.",
        ],
    }


def test_conflicts_are_kept_once_listed_newest_first_and_dismissed_for_good(js):
    assert js(CONFLICTS + """
        const {DeskStore} = await load("store.js");
        const {SessionNames} = await load("names.js");
        const name = "desk-test-" + Math.random();
        const store = await DeskStore.open({name});
        let clock = now;
        let changes = 0;
        const uploaded = [item("A"), item("B")];
        const names = new SessionNames();
        const keeper = new c.Conflicts({store, event: "org:ev", uploaded: async () => uploaded, clock: () => clock,
                                        names, onChange: () => changes++});
        const forced = (id, nonce, datetime) => ({status: "ok", offline: {recorded: "forced", conflict: {
            position_id: 7, reason: "already_redeemed", reason_explanation: null,
            checkin: checkin(id, datetime, {forced: true, nonce}), others: [checkin(id - 1, "2026-06-01T18:00:00Z")]}}});
        await keeper.fromUpload(item("A"), forced(51, "n-A", "2026-06-01T19:02:00Z"));
        // the same conflict again from the preload: shown once
        const preload = [{position_id: 7, reason: null, checkin: checkin(51, "2026-06-01T19:02:00Z", {forced: true, nonce: "n-A"}),
                          others: [checkin(50, "2026-06-01T18:00:00Z")]},
                         // this page never saw who position 9 is
                         {position_id: 9, reason: null, checkin: checkin(61, "2026-06-01T19:30:00Z", {forced: true}),
                          others: [checkin(60, "2026-06-01T19:01:00Z", {nonce: "n-B"})]}];
        uploaded[1] = {...item("B"), label: null};
        const added = await keeper.fromPreload(1, preload);
        // another event's conflict on this browser is not shown here
        await new c.Conflicts({store, event: "org:other"}).fromUpload({...item("Z"), event: "org:other"},
            forced(71, "n-Z", "2026-06-01T19:40:00Z"));
        const shown = (await keeper.shown()).map((e) => [e.key, e.name]);
        const storedNames = (await store.conflictAll()).filter((e) => "name" in e).length;
        // a reload: the same conflicts, no names; a scan of this session tells one again
        const reloaded = new c.Conflicts({store, event: "org:ev", clock: () => clock});
        const afterReload = (await reloaded.shown()).map((e) => [e.key, e.name]);
        reloaded.names.learnAttendee({position_id: 9, name: "Alan Turing"});
        const toldAgain = (await reloaded.shown()).map((e) => [e.key, e.name]);
        await keeper.dismiss("checkin:51");
        const afterDismiss = (await keeper.shown()).map((e) => e.key);
        // a full download names it again: it stays dismissed
        const again = await keeper.fromPreload(1, preload);
        clock += 47 * 3600 * 1000;
        await keeper.purge();
        const tombstones = (await store.conflictAll()).filter((e) => e.dismissed).length;
        clock += 2 * 3600 * 1000;
        await keeper.purge();
        // an entry an earlier page stored with its name: shown from memory, stored without it
        await store.conflictPut({...(await store.conflictAll()).find((e) => e.key === "checkin:61"), name: "Old Name"});
        const oldShown = (await keeper.shown()).map((e) => e.name);
        await keeper.purge();
        const oldStored = (await store.conflictAll()).filter((e) => "name" in e).length;
        const out = {added, shown, storedNames, afterReload, toldAgain, afterDismiss, again, tombstones, changes,
                     oldShown, oldStored, left: (await store.conflictAll()).map((e) => e.key).sort()};
        store.close();
        indexedDB.deleteDatabase(name);
        return out;
    """) == {
        "added": 1,
        # newest first: 61 arose at 19:30 (the other desk's admission), 51 at 19:02; the name
        # of 51 is the one this page saw when it queued the scan
        "shown": [["checkin:61", None], ["checkin:51", "Ada Lovelace"]],
        "storedNames": 0,
        "afterReload": [["checkin:61", None], ["checkin:51", None]],
        "toldAgain": [["checkin:61", "Alan Turing"], ["checkin:51", None]],
        "afterDismiss": ["checkin:61"],
        "again": 0,
        "tombstones": 1,
        "changes": 3,
        "oldShown": ["Old Name"],
        "oldStored": 0,
        "left": ["checkin:61", "checkin:71"],
    }


QUESTIONS = """
    const qs = await load("questions.js");
    const T = {answer_min: "min {min}", answer_max: "max {max}", answer_min_length: "at least {n}",
               answer_max_length: "at most {n}", answer_year: "years {min}-{max}"};
    const problem = (question, value, timeZone = "America/New_York") => qs.limitProblem(question, value, {T, timeZone});
"""


def test_question_limits_datetimes_in_the_events_time_zone_and_sane_years(js):
    assert js(QUESTIONS + """
        const w = {id: 1, type: "W", limits: {min: "2026-01-01T10:00:00+01:00", max: "2026-01-02T18:00:30+00:00"}};
        const bare = {id: 2, type: "W"};
        return {
            wall: [qs.wallTime("2026-01-01T10:00:00+01:00", "America/New_York"), qs.wallTime("2026-07-01T10:00:00Z", "Europe/Berlin"),
                   qs.wallTime("2026-01-01T00:00:00Z", "UTC"), qs.wallTime("nonsense", "UTC")],
            limits: [qs.answerLimits(w, "America/New_York"), qs.answerLimits(bare, "Europe/Berlin"),
                     // the server sends its own bounds: 1900 in UTC is later than 1900 in Berlin
                     qs.answerLimits({type: "W", limits: {min: "1900-01-01T00:00:00+00:00"}}, "Europe/Berlin").min],
            // New York is five hours behind UTC in January: 10:00 in Berlin is 04:00 there
            w: ["2026-01-01T03:59", "2026-01-01T04:00", "2026-01-02T13:00", "2026-01-02T13:00:30", "2026-01-02T13:00:31",
                "2026-01-02T13:01"].map((v) => problem(w, v)),
            years: ["9999-12-31T23:59", "275760-09-13T00:00", "1899-12-31T23:59", "0001-01-01T00:00", "2999-12-31T10:00",
                    "1900-01-01T00:00", ""].map((v) => problem(bare, v, "UTC")),
        };
    """) == {
        "wall": ["2026-01-01T04:00:00", "2026-07-01T12:00:00", "2026-01-01T00:00:00", None],
        "limits": [
            {"min": "2026-01-01T04:00:00", "max": "2026-01-02T13:00:30", "maxLength": 10000},
            {"min": "1900-01-01T00:00:00", "max": "2999-12-31T23:59:59", "maxLength": 10000},
            "1900-01-01T01:00:00",
        ],
        "w": ["min 2026-01-01 04:00", None, None, None, "max 2026-01-02 13:00", "max 2026-01-02 13:00"],
        "years": ["years 1900-2999", "years 1900-2999", "years 1900-2999", "years 1900-2999", None, None, None],
    }


def test_question_limits_numbers_dates_and_lengths(js):
    assert js(QUESTIONS + """
        const n = {id: 1, type: "N", limits: {min: "0.5", max: "10"}};
        const d = {id: 2, type: "D", limits: {min: "2026-01-01"}};
        const s = {id: 3, type: "S", limits: {min_length: "2", max_length: "5"}};
        const t = {id: 4, type: "T"};
        return {
            n: ["0.4999", "0.5", "10", "10.0000000000000001", "-3", "1e1", "1e2"].map((v) => problem(n, v)),
            cmp: [qs.compareNumbers("10.0000000000000001", "10"), qs.compareNumbers("-0.5", ".5"), qs.compareNumbers("2", "2.000")],
            d: ["2025-12-31", "2026-01-01", "2999-12-31", "3000-01-01", "20260-01-01"].map((v) => problem(d, v)),
            s: ["a", "ab", "abcde", "abcdef", "🙂🙂", "🙂🙂🙂🙂🙂"].map((v) => problem(s, v)),
            t: [problem(t, "x".repeat(10000)), problem(t, "x".repeat(10001))],
            others: [problem(n, true), problem(n, [1]), problem({id: 5, type: "H"}, "25:00")],
        };
    """) == {
        "n": ["min 0.5", None, None, "max 10", "min 0.5", None, "max 10"],
        "cmp": [1, -1, 0],
        "d": ["min 2026-01-01", None, None, "years 1900-2999", "years 1900-2999"],
        "s": ["at least 2", None, None, "at most 5", None, None],
        "t": [None, "at most 10000"],
        "others": [None, None, None],
    }


def test_question_form_fields_hold_the_limits_and_refuse_what_the_server_would(js):
    result = js(QUESTIONS + """
        const box = document.createElement("div");
        document.body.append(box);
        const T2 = {...T, questions_hint: "", questions_title: "Q", questions_submit: "OK", cancel: "Cancel",
                    required: "required", answer_required: "required!", answer_invalid: "invalid"};
        const form = new qs.QuestionForm({box, T: T2, timeZone: "America/New_York"});
        const questions = [
            {id: 1, question: "Arrived", type: "W", required: true,
             limits: {min: "2026-01-01T10:00:30+01:00", max: "2026-01-02T18:00:00+00:00"}},
            {id: 2, question: "Born", type: "D", required: false},
            {id: 3, question: "Guests", type: "N", required: false, limits: {max: "10"}},
        ];
        const answered = form.ask({questions});
        const field = (id) => box.querySelector(`[name="q${id}"]`);
        const attrs = [1, 2, 3].map((id) => [field(id).type, field(id).min || null, field(id).max || null]);
        const submit = () => box.querySelector("form").requestSubmit();
        const errors = () => [...box.querySelectorAll(".desk-q-error")].map((e) => e.textContent);
        const out = {attrs, tries: []};
        // a value the browser's field takes but the server refuses: year 9999 is refused here
        for (const [arrived, born] of [["9999-12-31T23:59", ""], ["2026-01-01T04:00", "9999-01-01"],
                                       ["2026-01-01T04:01", "1984-03-02"]]) {
            field(1).value = arrived;
            field(2).value = born;
            submit();
            out.tries.push([errors().map((e) => !!e), !box.hidden]);
        }
        out.answers = await answered;
        box.remove();
        return out;
    """)
    assert result["attrs"] == [
        # 10:00:30 in Berlin is 04:00:30 in New York: the field's first whole minute is 04:01
        ["datetime-local", "2026-01-01T04:01", "2026-01-02T13:00"],
        ["date", "1900-01-01", "2999-12-31"],
        ["number", None, "10"],
    ]
    assert result["tries"] == [
        [[True, False, False], True],
        [[True, True, False], True],
        [[], False],  # answered: the form is gone
    ]
    assert result["answers"] == {"1": "2026-01-01T04:01", "2": "1984-03-02", "3": ""}
