"""The queue sealed to the server, unit by unit inside Chromium: what envelope.js seals,
pretix_desk.desk.envelope opens (and nothing else does); what the queue keeps at rest and
sends; the names the page shows only from its memory (docs/offline.rst, "Sealed records")."""
import json

import pytest

from pretix_desk.desk import envelope

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/static/pretix_desk/desk/"
CODE = "kq3n8vz2m4hx7w9rtp5bc6df1gjsl0ay"
ANSWER = "Zebra wristband 4711 ✓"
NAME = "Ada Lovelace"


@pytest.fixture
def units(context, live_server):
    page = context.new_page()
    page.on("pageerror", lambda err: print("pageerror:", err))
    page.goto(BASE + "desk.css")  # any same-origin document: the modules come from the static files

    def run(body, arg=None):
        return page.evaluate(
            "async (arg) => { const base = %r; const load = (m) => import(base + m); %s }" % (BASE, body), arg)
    return run


def opened(event, body):
    """A body as the server reads it: its sealed fields opened into it."""
    out = {k: v for k, v in body.items() if k != "sealed"}
    if "sealed" in body:
        out.update(envelope.open_sealed(event, body["sealed"], nonce=body.get("nonce")))
    return out


def test_what_the_page_seals_only_the_events_key_opens(units, event, other_event):
    jwk = envelope.public_jwk(event)
    result = units("""
        const e = await load("envelope.js");
        const sealer = new e.Sealer(arg.jwk);
        const bodies = [
            {access_code: arg.code, type: "entry", nonce: "n-1", datetime: "2026-01-01T10:00:00Z"},
            {access_code: arg.code, answers: {"12": arg.answer, "13": true, "14": 3}, nonce: "n-2", type: "exit"},
            {answers: {"12": arg.answer}, position_id: 7, nonce: "n-3"},
            {position_id: 7, nonce: "n-4", type: "entry"},  // nothing to seal
            {access_code: arg.code, line_item_id: 5, nonce: "n-5", datetime: "2026-01-01T10:00:00Z"},
        ];
        const sealed = [];
        for (const body of bodies) sealed.push(await sealer.sealBody(body));
        // the same fields twice: a fresh key pair and IV each time
        const twice = [await sealer.seal({access_code: arg.code}, "n-6"), await sealer.seal({access_code: arg.code}, "n-6")];
        const refused = [];
        const noCrypto = new e.Sealer(arg.jwk, {unavailable: "needs https"});
        Object.defineProperty(noCrypto, "available", {value: false});  // as on plain http
        for (const s of [new e.Sealer(null), noCrypto]) {
            try {
                await s.sealBody({access_code: "A", nonce: "n"});
                refused.push("sealed");
            } catch (err) {
                refused.push(err.message);
            }
        }
        return {sealed, twice, refused, canSeal: [e.canSeal(), e.canSeal(null), e.canSeal({})],
                plain: await new e.Sealer(null).sealBody({position_id: 7, nonce: "n"})};
    """, {"jwk": jwk, "code": CODE, "answer": ANSWER})
    sealed = result["sealed"]
    for body in sealed:
        assert "access_code" not in body and "answers" not in body
        assert CODE not in json.dumps(body) and "Zebra" not in json.dumps(body, ensure_ascii=False)
    assert sealed[3] == {"position_id": 7, "nonce": "n-4", "type": "entry"}
    envelopes = [b["sealed"] for b in sealed if "sealed" in b] + result["twice"]
    for env in envelopes:
        assert set(env) == {"v", "epk", "iv", "ct"} and env["v"] == 1
        assert set(env["epk"]) == {"kty", "crv", "x", "y"} and env["epk"]["crv"] == "P-256"
        assert len(envelope._unb64(env["iv"])) == 12
    assert len({env["epk"]["x"] for env in envelopes}) == len(envelopes)  # one key pair per item
    assert result["twice"][0]["ct"] != result["twice"][1]["ct"]

    # the server opens each into what the page queued
    assert opened(event, sealed[0]) == {"access_code": CODE, "type": "entry", "nonce": "n-1",
                                        "datetime": "2026-01-01T10:00:00Z"}
    assert opened(event, sealed[1]) == {"access_code": CODE, "answers": {"12": ANSWER, "13": True, "14": 3},
                                        "nonce": "n-2", "type": "exit"}
    assert opened(event, sealed[2]) == {"answers": {"12": ANSWER}, "position_id": 7, "nonce": "n-3"}
    assert opened(event, sealed[4])["access_code"] == CODE and opened(event, sealed[4])["line_item_id"] == 5
    # bound to the item's nonce and to the event's key
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_sealed(event, sealed[0]["sealed"], nonce="n-2")
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_sealed(other_event, sealed[0]["sealed"], nonce="n-1")
    tampered = dict(sealed[0]["sealed"], ct=sealed[1]["sealed"]["ct"])
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_sealed(event, tampered, nonce="n-1")
    # without a key or WebCrypto nothing is sealed, and nothing is stored in clear instead
    assert result["refused"][1] == "needs https" and result["refused"][0] != "sealed"
    assert result["canSeal"] == [True, False, False]
    assert result["plain"] == {"position_id": 7, "nonce": "n"}


QUEUE = """
    const {SyncQueue} = await load("queue.js");
    const {Sealer} = await load("envelope.js");
    const {SessionNames} = await load("names.js");
    const {UploadView} = await load("uploadview.js");
    class MemoryStore {
        constructor() { this.items = new Map(); this.seq = 0; }
        async queueAdd(item) { const seq = ++this.seq; this.items.set(seq, JSON.parse(JSON.stringify({...item, seq}))); return seq; }
        async queuePut(item) { this.items.set(item.seq, JSON.parse(JSON.stringify(item))); }
        async queueDelete(seq) { this.items.delete(seq); }
        async queueAll() { return [...this.items.values()].sort((a, b) => a.seq - b.seq); }
    }
    const sent = [];
    const answers = {};  // nonce -> the server's answer
    const api = {
        async scan(body) { sent.push(body); return answers[body.nonce] || {status: 201, data: {status: "ok"}}; },
        async redeem(body) { sent.push(body); return answers[body.nonce] || {status: 201, data: {status: "ok"}}; },
        async probe() { return {status: 400, data: {}}; },
    };
    const store = new MemoryStore();
    const accepted = [];
    const makeQueue = (names, sealer = new Sealer(arg.jwk)) => new SyncQueue({
        store, event: "org:ev", apiFor: () => api, lock: {locks: null, storage: null}, sealer, names,
        onAccepted: (item) => accepted.push([item.body.access_code || null, item.body.answers || null, item.label.name])});
    const raw = async () => JSON.stringify(await store.queueAll());
"""


def test_the_queue_keeps_no_code_answer_or_name_at_rest_and_uploads_sealed(units, event):
    result = units(QUEUE + """
        const names = new SessionNames();
        const queue = makeQueue(names);
        const offline = {answer: "ok", sync_token: "t"};
        await queue.add({kind: "scan", list: 1, api: "/a/", owner: 7, label: {name: arg.name, product: "Day pass"},
            body: {access_code: arg.code, answers: {"12": arg.answer}, type: "entry", nonce: "n-1",
                   datetime: "2026-01-01T10:00:00Z", offline, other_lists: [2], gate: "hall"}});
        await queue.add({kind: "redeem", list: 1, api: "/a/", owner: 7, label: {name: arg.name, product: "T-shirt"},
            body: {access_code: arg.code, line_item_id: 5, nonce: "n-2", datetime: "2026-01-01T10:01:00Z"}});
        // a search result checked in offline names the position, not a code
        await queue.add({kind: "scan", list: 1, api: "/a/", owner: 9, label: {name: "Grace Hopper", product: "Day pass"},
            body: {position_id: 9, type: "entry", nonce: "n-3", datetime: "2026-01-01T10:02:00Z", offline}});
        const atRest = await store.queueAll();
        const rest = await raw();
        // the page shows the names it saw; a reloaded page (new memory) shows product, time and list
        const ui = {T: {}, time: (iso) => iso.slice(11, 16)};
        const view = (n) => new UploadView(ui, {names: n, listName: (id) => (id === 1 ? "Main" : null)});
        const lines = atRest.map((i) => view(names).itemText(i, "failing"));
        const reloaded = atRest.map((i) => view(new SessionNames()).itemText(i, "failing"));
        answers["n-1"] = {status: 201, data: {status: "ok", attendee: {position_id: 7, name: arg.name},
            offline: {recorded: "checkin", conflict: null}}};
        const round = await queue.flush();
        return {atRest, rest, lines, reloaded, round, sent, accepted, after: await raw()};
    """, {"jwk": envelope.public_jwk(event), "code": CODE, "answer": ANSWER, "name": NAME})
    rest = result["rest"]
    for secret in (CODE, "Zebra", NAME, "Lovelace", "Grace Hopper"):
        assert secret not in rest and secret not in result["after"], secret
    scan, redeem, by_position = result["atRest"]
    # in clear: what the page needs without the code
    assert {k: scan[k] for k in ("event", "kind", "list", "api", "owner", "nonce", "created", "state", "attempts", "label")} == {
        "event": "org:ev", "kind": "scan", "list": 1, "api": "/a/", "owner": 7, "nonce": "n-1",
        "created": "2026-01-01T10:00:00Z", "state": "pending", "attempts": 0, "label": {"product": "Day pass"}}
    assert set(scan["body"]) == {"type", "nonce", "datetime", "offline", "other_lists", "gate", "sealed"}
    assert set(redeem["body"]) == {"line_item_id", "nonce", "datetime", "sealed"}
    assert set(by_position["body"]) == {"position_id", "type", "nonce", "datetime", "offline"}
    assert result["lines"] == ["10:00 · Ada Lovelace · Day pass · Main · failing",
                               "10:01 · Ada Lovelace · T-shirt · Main · failing",
                               "10:02 · Grace Hopper · Day pass · Main · failing"]
    assert result["reloaded"] == ["10:00 · Day pass · Main · failing", "10:01 · T-shirt · Main · failing",
                                  "10:02 · Day pass · Main · failing"]

    # uploaded sealed; the server opens what the page queued
    assert result["round"]["accepted"] == 3
    assert [opened(event, body) for body in result["sent"]] == [
        {"access_code": CODE, "answers": {"12": ANSWER}, "type": "entry", "nonce": "n-1",
         "datetime": "2026-01-01T10:00:00Z", "offline": {"answer": "ok", "sync_token": "t"}, "other_lists": [2],
         "gate": "hall"},
        {"access_code": CODE, "line_item_id": 5, "nonce": "n-2", "datetime": "2026-01-01T10:01:00Z"},
        {"position_id": 9, "type": "entry", "nonce": "n-3", "datetime": "2026-01-01T10:02:00Z",
         "offline": {"answer": "ok", "sync_token": "t"}},
    ]
    # the page keeps its local copy in step with what it saw (in memory only)
    assert result["accepted"] == [[CODE, {"12": ANSWER}, NAME], [CODE, None, NAME], [None, None, "Grace Hopper"]]
    # kept a day as uploaded, sealed as before
    assert json.loads(result["after"])[0]["state"] == "uploaded"


def test_items_an_earlier_page_stored_in_clear_are_sealed_by_the_next_round(units, event):
    result = units(QUEUE + """
        const clear = (nonce, code, extra = {}) => ({event: "org:ev", kind: "scan", list: 1, api: "/a/", owner: 7,
            code_hash: "abc", label: {name: arg.name, product: "Day pass"}, nonce, created: "2026-01-01T10:00:00Z",
            state: "pending", attempts: 0, body: {access_code: code, answers: {"12": arg.answer}, type: "entry", nonce,
            datetime: "2026-01-01T10:00:00Z"}, ...extra});
        await store.queueAdd(clear("n-1", arg.code));
        await store.queueAdd(clear("n-2", "OTHERCODE", {state: "parked", why: "refused", reason: "unpaid",
            response: {status: "error", reason: "unpaid", attendee: {name: arg.name}}}));
        await store.queueAdd(clear("n-3", "THIRD", {state: "uploaded", uploaded_at: new Date().toISOString()}));
        await store.queueAdd(clear("n-4", "FOREIGN", {event: "org:other"}));  // another event's: left alone
        const names = new SessionNames();
        const queue = makeQueue(names);
        const shownBefore = (await queue.mine()).map((i) => names.of({nonce: i.nonce}));
        answers["n-1"] = {status: 400, data: {status: "error", reason: "exchange", attendee: {name: arg.name}}};
        await queue.flush();
        const after = await store.queueAll();
        // without WebCrypto an earlier page's item is uploaded as it is
        store.items.clear();
        sent.length = 0;
        await store.queueAdd(clear("n-5", "PLAIN"));
        await makeQueue(new SessionNames(), new Sealer(null)).flush();
        return {shownBefore, after, sent, shownAfter: after.map((i) => names.of({nonce: i.nonce}))};
    """, {"jwk": envelope.public_jwk(event), "code": CODE, "answer": ANSWER, "name": NAME})
    mine = [i for i in result["after"] if i["event"] == "org:ev"]
    assert [(i["nonce"], i["state"]) for i in mine] == [("n-1", "parked"), ("n-2", "parked"), ("n-3", "uploaded")]
    for item in mine:
        text = json.dumps(item, ensure_ascii=False)
        assert CODE not in text and "OTHERCODE" not in text and "THIRD" not in text
        assert NAME not in text and "Zebra" not in text and "code_hash" not in item
        assert item["label"] == {"product": "Day pass"}
    assert mine[0]["response"] is None and mine[1]["response"] is None
    assert [opened(event, i["body"])["access_code"] for i in mine] == [CODE, "OTHERCODE", "THIRD"]
    (foreign,) = [i for i in result["after"] if i["event"] == "org:other"]
    assert foreign["body"]["access_code"] == "FOREIGN"
    assert result["shownBefore"][:3] == result["shownAfter"][:3] == [NAME] * 3
    (plain,) = result["sent"]
    assert plain["access_code"] == "PLAIN" and "sealed" not in plain
