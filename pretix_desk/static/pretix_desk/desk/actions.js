/* What the staff do at the desk: scan a code (checkin.js: the server, its check-in
 * questions, or the downloads), hand out an add-on (handout.js), search and check in a
 * search result (search.js), print a badge (badges.js). Each asks the server while
 * connectivity says it is reachable; otherwise (or when the request fails) it answers from
 * the downloaded list through offline.js and queues the action for upload. Every action ends
 * with a visible answer, shown here. */

import {NetworkError} from "./api.js";
import {checkInCode, OVERRIDES, scanTarget} from "./checkin.js";
import {handOut} from "./handout.js";
import {markAnswered, markRedeemed, ownerOf} from "./offline.js";
import {isPending, isUploaded} from "./queue.js";
import {findRecord} from "./seal.js";
import {checkInRecord, printFromHit, search} from "./search.js";
import {Deduper, newNonce} from "./util.js";

const REPEAT_WINDOW_MS = 3000;

/** Text typed by a person that is clearly not a ticket code goes to search. */
export function looksLikeSearch(text) {
    return /[\s@]/.test(text) || text.length < 16;
}

export class DeskActions {
    /**
     * @param desk  {T, conn, lists, prefs, ui, cards, questions, badges, store, queue}: read
     *              at each action
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

    /** The downloaded record of a code on a list (as stored: sealed), with the list's meta;
     * nulls if none. */
    async findByCode(listId, code) {
        const store = this.desk.store;
        const meta = store ? await store.getMeta(listId) : null;
        if (!meta) {
            return {meta: null, record: null};
        }
        return {meta, record: await findRecord(store, listId, meta, code)};
    }

    /** This desk's scans of a record's owner that its offline answer counts, oldest first:
     * those waiting for upload. A signed ticket the download misses has no stored record to
     * carry what was uploaded, so its uploaded scans (kept a day) count too, until a sync
     * brings its record: a sync whose download fails after the upload must not let the
     * ticket in a second time. */
    async queued(listId, record) {
        const queue = this.desk.queue;
        if (!record || !queue) {
            return [];
        }
        const items = await queue.ofOwner(listId, ownerOf(record));
        return items.filter((i) => isPending(i) || (record.signed && isUploaded(i)));
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

    /** flags: an override staff chose after a refusal ({ignore_unpaid: true} or {force: true}).
     * When the page is done with the scan (answered, queued, or ignored), body[data-scans]
     * counts it: what the browser tests wait for instead of a pause. */
    async scan(code, {source, flags = {}}) {
        try {
            await this.scanOnce(code, {source, flags});
        } finally {
            this.scansDone = (this.scansDone || 0) + 1;
            document.body.dataset.scans = String(this.scansDone);
        }
    }

    async scanOnce(code, {source, flags}) {
        const list = this.desk.lists.current;
        if (!list) {
            this.needList();
            return;
        }
        if (this.desk.questions.isOpen) {
            // The form has the keyboard; a camera or a click must not start another scan.
            this.desk.ui.note(this.T.questions_open);
            return;
        }
        if (source !== "manual" && !this.dedupe.accept(code)) {
            this.desk.ui.note(this.T.repeat_ignored);
            return;
        }
        this.dedupe.accept(code);
        this.desk.report.noteScan();
        const body = {
            access_code: code, type: this.desk.prefs.direction, nonce: newNonce(),
            ...scanTarget(this.desk.lists.chosen, this.desk.prefs.gate), ...flags,
        };
        const retry = (override) => this.scan(code, {source: "manual", flags: override});
        this.desk.cards.hideResults();
        this.desk.ui.showResult("working", {title: this.T.working});
        try {
            await checkInCode(this, {code, body, retry});
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

    /** retry(flags): the same action again with an override, if the refusal offers one. */
    showScan(code, data, {offline, direction, retry = null}) {
        const {ui, cards, badges} = this.desk;
        this.shownCode = code;
        this.feedback(ui.showScanAnswer(data, {offline, direction, list: this.listShown(data)}));
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
        const listId = (data.list && data.list.id) || this.desk.lists.currentId;
        cards.showCard({
            attendee: admittedNow && !attendee.checked_in
                ? {...attendee, checked_in: true, checked_in_at: (data.checkin && data.checkin.datetime) || new Date().toISOString()}
                : attendee,
            lineItems: data.line_items || [],
            offline,
            onHandOut: code ? (li) => this.handOut(code, attendee, li, listId) : null,
            onPrintBadge: offline ? null : badges.buttonFor(data.badge),
        });
        badges.afterScan(data, {offline, direction});
        if (code && !data.line_items && !offline) {
            this.completeCard(code, listId);
        }
    }

    /** The list that answered, when the desk scans against several (else null). */
    listShown(data) {
        if (this.desk.lists.chosen.length < 2 || !data.list) {
            return null;
        }
        return data.list.name || null;
    }

    /** A refused scan's answer has no line items: fetch them, so add-ons can still be
     * handed out (and a badge reprinted) for someone who is already inside. */
    async completeCard(code, listId = this.desk.lists.currentId) {
        const api = this.desk.lists.api(listId);
        const response = api ? await this.ask(() => api.lookup(code)).catch(() => null) : null;
        const card = document.getElementById("desk-card");
        if (response && response.status === 200 && response.data && this.shownCode === code && !card.hidden) {
            this.showLookup(code, response.data, listId);
        }
    }

    /** The card for a lookup's answer on a list (after a refusal, or a search result's
     * "Print badge"). */
    showLookup(code, data, listId) {
        this.shownCode = code;
        this.desk.cards.showCard({
            attendee: data.attendee,
            lineItems: data.line_items || [],
            onHandOut: (li) => this.handOut(code, data.attendee, li, listId),
            onPrintBadge: this.desk.badges.buttonFor(data.badge),
        });
    }

    /** Keep the downloaded record in step with what the server just said about it: its
     * entries so far, hand-outs and the check-in questions answered (answers: those sent).
     * Its other offline steps stay until the next download. */
    async rememberAnswer(listId, {code = null, owner = null}, data, {answers = null} = {}) {
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
            updated = markAnswered(updated, answers);
        }
        if (data.line_item) {
            updated = markRedeemed(updated, data.line_item.line_item_id, data.line_item.redeemed_at);
        }
        await store.putAttendee(updated);
        this.onLocalChange(listId);
    }

    handOut(code, attendee, lineItem, listId = null) {
        return handOut(this, code, attendee, lineItem, listId);
    }

    search(query) {
        return search(this, query);
    }

    /** options: {person} the search result's index entry (its name is shown), {flags} */
    checkInRecord(record, options) {
        return checkInRecord(this, record, options);
    }

    printFromHit(hit) {
        return printFromHit(this, hit);
    }
}
