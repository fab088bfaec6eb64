/* What the staff do at the desk: scan a code here; hand out an add-on (handout.js), search
 * and check in a search result (search.js). Each asks the server while connectivity says it
 * is reachable; otherwise (or when the request fails) it answers from the downloaded list
 * through offline.js and queues the action for upload. Every action ends with a visible
 * answer. */

import {isAuthProblem, NetworkError} from "./api.js";
import {codeHash} from "./hash.js";
import {handOut} from "./handout.js";
import {answerScanOffline, markCheckin, markRedeemed, ownerOf} from "./offline.js";
import {checkInRecord, search} from "./search.js";
import {Deduper, newNonce} from "./util.js";

const REPEAT_WINDOW_MS = 3000;
/** What staff may choose after a refusal that offers it (the answer's "override"). */
const OVERRIDES = ["ignore_unpaid", "force"];

/** Text typed by a person that is clearly not a ticket code goes to search. */
export function looksLikeSearch(text) {
    return /[\s@]/.test(text) || text.length < 16;
}

export class DeskActions {
    /**
     * @param desk  {T, conn, lists, prefs, ui, cards, store, queue}: read at each action
     * @param feedback  function(kind): sound and vibration
     * @param onLocalChange  function(listId): the downloaded list changed here (counters)
     * @param onQueued  function(): an item was queued (upload soon if online)
     */
    constructor(desk, {feedback, onLocalChange, onQueued}) {
        this.desk = desk;
        this.feedback = feedback;
        this.onLocalChange = onLocalChange;
        this.onQueued = onQueued;
        this.dedupe = new Deduper(REPEAT_WINDOW_MS);
        this.shownCode = null;
    }

    get T() {
        return this.desk.T;
    }

    noteAuth(status) {
        this.desk.ui.note(status === 403 ? this.T.forbidden : this.T.session_expired);
    }

    /** Ask the server, or null when it cannot be reached (connectivity then knows). */
    async ask(request) {
        if (!this.desk.conn.shouldAskServer()) {
            return null;
        }
        try {
            return await request();
        } catch (e) {
            if (e instanceof NetworkError) {
                return null;
            }
            throw e;
        }
    }

    /** The downloaded record of a code on a list, with the list's meta; nulls if none. */
    async findByCode(listId, code) {
        const store = this.desk.store;
        const meta = store ? await store.getMeta(listId) : null;
        if (!meta) {
            return {meta: null, record: null};
        }
        return {meta, record: await store.getAttendee(listId, await codeHash(meta.salt, code))};
    }

    async queued(listId, record) {
        return record && this.desk.queue ? this.desk.queue.pending(listId, ownerOf(record)) : [];
    }

    // ---- scanning ------------------------------------------------------------------------

    onInput(text, {viaScanner, button}) {
        if (!this.desk.lists.current) {
            this.needList();
        } else if (viaScanner) {
            this.scan(text, {source: "scanner"});
        } else if (button !== "check" && looksLikeSearch(text)) {
            this.search(text);
        } else {
            this.scan(text, {source: "manual"});
        }
    }

    /** A scan without a chosen list is answered, not dropped. */
    needList() {
        this.desk.ui.showResult("error", {title: this.T.choose_list_first, reason: this.T.choose_list_hint});
        document.getElementById("desk-list").classList.add("desk-attention");
        this.feedback("error");
    }

    /** flags: an override staff chose after a refusal ({ignore_unpaid: true} or {force: true}) */
    async scan(code, {source, flags = {}}) {
        const list = this.desk.lists.current;
        if (!list) {
            this.needList();
            return;
        }
        if (source !== "manual" && !this.dedupe.accept(code)) {
            this.desk.ui.note(this.T.repeat_ignored);
            return;
        }
        this.dedupe.accept(code);
        const direction = this.desk.prefs.direction;
        // The desk asks no check-in questions: pretix then skips them (also offline, below).
        const body = {access_code: code, type: direction, nonce: newNonce(), questions_supported: false, ...flags};
        const retry = (override) => this.scan(code, {source: "manual", flags: override});
        const startedAt = new Date().toISOString();
        this.desk.cards.hideResults();
        this.desk.ui.showResult("working", {title: this.T.working});
        try {
            const response = await this.ask(() => this.desk.lists.api(list.id).scan(body));
            if (response && isAuthProblem(response.status)) {
                this.desk.ui.showResult("error", {title: this.T.reason_error});
                this.noteAuth(response.status);
                return;
            }
            if (response) {
                const data = response.data || {};
                this.showScan(code, data, {offline: false, direction, retry});
                await this.rememberAnswer(list.id, {code}, data);
                return;
            }
            if (!this.desk.store) {
                this.showScan(code, {status: "no_connection"}, {offline: true, direction});
                return;
            }
            // A scan whose request timed out keeps its nonce: if the server did record it,
            // the upload is recognised and nothing counts twice.
            const {meta, record} = await this.findByCode(list.id, code);
            await this.checkInOffline(list, {meta, record, body: {...body, datetime: startedAt}, code, retry});
        } catch (e) {
            this.failed(e);
        }
    }

    /** An unexpected failure still gets an answer on screen. */
    failed(error) {
        console.error(error);
        this.desk.ui.showResult("error", {title: this.T.reason_error, reason: String(error && error.message || error)});
        this.feedback("error");
    }

    /** Apply the record's offline steps; queue the check-in if they admit.
     * body has access_code (a scan) or position_id (a search result). */
    async checkInOffline(list, {meta, record, body, code = null, retry = null}) {
        const queued = await this.queued(list.id, record);
        const answer = answerScanOffline({
            record, queued, type: body.type, entries: meta ? meta.entries : null, now: new Date(body.datetime),
            overrides: OVERRIDES.filter((o) => body[o]),
        });
        if (answer.status === "ok") {
            await this.desk.queue.add({
                kind: "scan", list: list.id, api: list.api, body, owner: ownerOf(record),
                label: {name: record.attendee.name, product: this.desk.ui.productLabel(record.attendee)},
            });
            await this.desk.store.putAttendee(markCheckin(record, body.type, body.datetime));
            this.onLocalChange(list.id);
            this.onQueued();
            const updated = markCheckin(record, body.type, body.datetime);
            this.showScan(code, {status: "ok", attendee: updated.attendee, line_items: record.line_items},
                {offline: true, direction: body.type});
        } else {
            const attendee = record ? {...record.attendee, checked_in_at: answer.checked_in_at || record.attendee.checked_in_at} : null;
            this.showScan(code, {...answer, attendee, line_items: record && record.line_items},
                {offline: true, direction: body.type, retry});
        }
    }

    /** retry(flags): the same action again with an override, if the refusal offers one. */
    showScan(code, data, {offline, direction, retry = null}) {
        const {ui, cards} = this.desk;
        this.shownCode = code;
        this.feedback(ui.showScanAnswer(data, {offline, direction}));
        if (data.status === "error" && OVERRIDES.includes(data.override) && retry) {
            ui.offerOverride(data.override === "force" ? this.T.force_checkin : this.T.unpaid_checkin,
                () => retry({[data.override]: true}));
        }
        const attendee = data.attendee || null;
        if (!attendee) {
            cards.hideCard();
            return;
        }
        const admittedNow = data.status === "ok" && direction === "entry";
        cards.showCard({
            attendee: admittedNow && !attendee.checked_in
                ? {...attendee, checked_in: true, checked_in_at: (data.checkin && data.checkin.datetime) || new Date().toISOString()}
                : attendee,
            lineItems: data.line_items || [],
            offline,
            onHandOut: code ? (li) => this.handOut(code, attendee, li) : null,
        });
        if (code && !data.line_items && !offline) {
            this.completeCard(code);
        }
    }

    /** A refused scan's answer has no line items: fetch them, so add-ons can still be
     * handed out to someone who is already inside. */
    async completeCard(code) {
        const list = this.desk.lists.current;
        const response = await this.ask(() => this.desk.lists.api(list.id).lookup(code)).catch(() => null);
        const card = document.getElementById("desk-card");
        if (response && response.status === 200 && response.data && this.shownCode === code && !card.hidden) {
            this.desk.cards.showCard({
                attendee: response.data.attendee,
                lineItems: response.data.line_items || [],
                onHandOut: (li) => this.handOut(code, response.data.attendee, li),
            });
        }
    }

    /** Keep the downloaded record in step with what the server just said about it: its
     * entries so far and hand-outs. Its offline steps stay until the next download. */
    async rememberAnswer(listId, {code = null, owner = null}, data) {
        const store = this.desk.store;
        if (!store || !data || !data.attendee) {
            return;
        }
        let record = null;
        if (code) {
            record = (await this.findByCode(listId, code)).record;
        } else if (owner !== null) {
            record = await store.getByOwner(listId, owner);
        }
        if (!record) {
            return; // only the server's download adds records
        }
        let updated = {...record, attendee: {...record.attendee,
            checked_in: data.attendee.checked_in, checked_in_at: data.attendee.checked_in_at}};
        if (data.status === "ok" && data.checkin) {
            updated.last = data.checkin.type;
        }
        if (data.line_item) {
            updated = markRedeemed(updated, data.line_item.line_item_id, data.line_item.redeemed_at);
        }
        await store.putAttendee(updated);
        this.onLocalChange(listId);
    }

    handOut(code, attendee, lineItem) {
        return handOut(this, code, attendee, lineItem);
    }

    search(query) {
        return search(this, query);
    }

    checkInRecord(list, record, options) {
        return checkInRecord(this, list, record, options);
    }
}
