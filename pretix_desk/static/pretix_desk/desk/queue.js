/* Upload of what was scanned or handed out while offline.
 *
 * Every item carries the nonce and time of the original action, so replaying it is harmless:
 * the server answers an already-seen nonce with its first answer and records nothing new.
 * Items belong to one event (the page's storage key) and list, and carry the list's API
 * address, so they can be uploaded even when the page no longer offers that list.
 *
 * No item can hold up the others. Each round tries every item that is due. One the server
 * refuses, one whose list is unknown and one whose upload throws are parked (kept, shown,
 * dismissable). One the server fails on (5xx, no answer in time) backs off on its own and
 * the round goes on; only when the server cannot be reached at all (a probe fails too) does
 * the round stop, and then no item is to blame. Offline scans pretix recorded stay for
 * 24 hours as "uploaded", so that the desk knows its own check-ins in other desks'
 * conflicts. One tab uploads at a time (locks.js); every tab hears of changes.
 *
 * At rest an item holds what the page needs without the code (list, position, entry or exit,
 * time, nonce, product): the access code and the answers are sealed to the server
 * (envelope.js) and uploaded so, and the name the page showed stays in this page's memory
 * (names.js). Items queued by an earlier version of the page in clear are sealed by the
 * next upload round. */

import {NetworkError} from "./api.js";
import {Sealer, secretsOf} from "./envelope.js";
import {runExclusive} from "./locks.js";
import {SessionNames} from "./names.js";

export const CHANNEL_NAME = "pretix-desk-queue";
/** An item the server failed on waits 15 s, 30 s, 1 min, … at most 5 min before its next try. */
export const BACKOFF = {firstMs: 15000, maxMs: 300000};
/** How long an uploaded offline scan is kept: the preload names conflicts of 24 hours. */
export const KEEP_UPLOADED_MS = 24 * 3600 * 1000;

/** The wait before the next try of an item that failed `attempts` times. */
export function backoffMs(attempts, {firstMs, maxMs} = BACKOFF) {
    return Math.min(maxMs, firstMs * 2 ** Math.max(0, attempts - 1));
}

/** What the server's answer means for a queued item: "accepted", "conflict" (a hand-out
 * made twice: shown, not parked), "refused" or "retry". */
export function classifyUpload(kind, status, data = null) {
    if (data && data.offline && typeof data.offline.recorded === "string") {
        // pretix recorded what the desk did (a check-in, a forced one or a refusal). A 400
        // that names the field ({"offline": {"sync_token": [...]}}) recorded nothing.
        return "accepted";
    }
    if (status === 200 || status === 201) {
        return "accepted";
    }
    if (status === 401 || status === 403 || status === 429) {
        // Not the item's fault: a login that expired, or too many requests. Keep it.
        return "retry";
    }
    if (kind === "redeem" && status === 409 && data && data.reason === "already_redeemed") {
        return "conflict";
    }
    if (status >= 400 && status < 500) {
        return "refused";
    }
    return "retry";
}

export function isPending(item) {
    return item.state === "pending";
}

export function isUploaded(item) {
    return item.state === "uploaded";
}

export function isParked(item) {
    return !isPending(item) && !isUploaded(item);
}

/** A pending item the server failed on (not the network): it is retried on its own. */
export function isFailing(item) {
    return isPending(item) && item.attempts > 0;
}

/** An offline scan pretix records as what the door did (docs/desk-api.rst, "offline"). */
function keepsAfterUpload(item) {
    return item.kind === "scan" && !!(item.body && item.body.offline);
}

/** What of a refusal the item keeps: whether pretix refused the answers (the answer itself
 * may name the attendee). */
function refusalSummary(data) {
    return data && data.answers ? {answers: true} : null;
}

/** An item an earlier page stored in clear: a code or answers, a name, a refusal's answer. */
function holdsClear(item) {
    return !!(secretsOf(item.body) || (item.label && item.label.name) || item.code_hash
        || (item.response && Object.keys(item.response).some((k) => k !== "answers")));
}

const NO_SEALER = new Sealer(null);

export class SyncQueue {
    /**
     * @param store   a DeskStore (or anything with queueAdd/queuePut/queueDelete/queueAll)
     * @param event   the page's storage key: items of other events are left alone
     * @param apiFor  function(item) returning the DeskApi to upload it with, or null
     * @param onConflict  function(item, data) for an upload that met a conflict
     * @param onAccepted, onConflict  function(item, data): the item as this page saw it
     *                (its sealed fields and name where this page knows them)
     * @param sealer  seals what an item must not hold in clear (envelope.js Sealer)
     * @param names   this page's memory of names (names.js)
     * @param channel a BroadcastChannel shared by the tabs, or null
     * @param lock    options for runExclusive (tests pass their own)
     * @param clock   function() returning the time in ms (tests pass their own)
     */
    constructor({store, event, apiFor, onChange = () => {}, onAccepted = () => {}, onConflict = () => {}, channel = null,
        sealer = NO_SEALER, names = new SessionNames(), lock = {}, clock = () => Date.now()}) {
        this.store = store;
        this.event = event;
        this.apiFor = apiFor;
        this.sealer = sealer;
        this.names = names;
        /** nonce -> the sealed fields of items this page queued or unsealed, in memory only */
        this.seen = new Map();
        this.onChange = onChange;
        this.onAccepted = onAccepted;
        this.onConflict = onConflict;
        this.channel = channel;
        this.lock = lock;
        this.clock = clock;
        this.running = null;
        if (channel) {
            channel.onmessage = () => this.onChange();
        }
    }

    changed() {
        this.onChange();
        if (this.channel) {
            this.channel.postMessage("changed");
        }
    }

    /** Queue a scan or hand-out. label: {name, product} as shown; the name is kept in this
     * page's memory only, the code and answers of the body only sealed. */
    async add({kind, list, api, body, owner = null, label = null}) {
        if (!body || !body.nonce || !body.datetime) {
            throw new Error("queued items need a nonce and a datetime");
        }
        const item = {
            event: this.event, kind, list, api, body: await this.sealer.sealBody(body), owner,
            label: label && label.product ? {product: label.product} : null,
            nonce: body.nonce, created: body.datetime, state: "pending", attempts: 0,
        };
        item.seq = await this.store.queueAdd(item);
        this.remember(item, body, label && label.name);
        this.changed();
        return item;
    }

    remember(item, body, name) {
        const secrets = secretsOf(body);
        if (secrets) {
            this.seen.set(item.nonce, secrets);
        }
        this.names.learn({nonce: item.nonce, position: item.owner, name});
    }

    /** The item as this page saw it: its sealed fields and its name, where known. */
    asSeen(item) {
        const name = this.names.of({nonce: item.nonce, position: item.owner});
        return {
            ...item, body: {...item.body, ...(this.seen.get(item.nonce) || {})},
            label: {...(item.label || {}), name},
        };
    }

    /** This event's items, oldest first. */
    async mine() {
        return this.learnNames((await this.store.queueAll()).filter((i) => i.event === this.event));
    }

    learnNames(items) {
        for (const item of items) {
            if (item.label && item.label.name) {
                // an earlier page's item, until the next round seals it
                this.names.learn({nonce: item.nonce, position: item.owner, name: item.label.name});
            }
        }
        return items;
    }

    /** This event's items of one owner on one list, oldest first: what an offline answer
     * counts, read without the rest of the queue (a store without the index reads it all). */
    async ofOwner(list, owner) {
        if (!this.store.queueOfOwner || owner === null || owner === undefined) {
            return (await this.mine()).filter((i) => i.list === list && i.owner === owner);
        }
        return this.learnNames(await this.store.queueOfOwner(this.event, list, owner));
    }

    /** {queued: how many are pending, failing, parked}: the footer's, read without the
     * pending items that are not failing. */
    async summary() {
        if (!this.store.queueSummary) {
            const mine = await this.mine();
            return {queued: mine.filter(isPending).length, failing: mine.filter(isFailing),
                    parked: mine.filter(isParked)};
        }
        const {queued, failing, parked} = await this.store.queueSummary(this.event);
        return {queued, failing: this.learnNames(failing), parked: this.learnNames(parked)};
    }

    /** Seal what items of an earlier page hold in clear. Runs inside the upload lock, so
     * that no other tab uploads (and deletes) an item while it is rewritten. Without
     * WebCrypto their codes stay as they are and are uploaded so. */
    async sealOld() {
        for (const item of await this.mine()) {
            if (!holdsClear(item)) {
                continue;
            }
            try {
                const body = this.sealer.available ? await this.sealer.sealBody(item.body) : item.body;
                this.remember(item, item.body, item.label && item.label.name);
                const sealed = {
                    ...item, body, label: item.label && item.label.product ? {product: item.label.product} : null,
                    response: refusalSummary(item.response),
                };
                delete sealed.code_hash;
                await this.store.queuePut(sealed);
            } catch (e) {
                // This item stays as it was and is uploaded so; the others are sealed and go on.
                console.error("A queued item could not be sealed", e);
            }
        }
    }

    /** Logged out: forget the sealed fields this page saw. */
    forgetSeen() {
        this.seen.clear();
    }

    /** Pending items, of one list (and owner) if given. */
    async pending(list = null, owner = null) {
        return (await this.mine()).filter((i) => isPending(i)
            && (list === null || i.list === list) && (owner === null || i.owner === owner));
    }

    async parked() {
        return (await this.mine()).filter(isParked);
    }

    /** Offline scans pretix recorded in the last 24 hours. */
    async uploaded() {
        return (await this.mine()).filter(isUploaded);
    }

    /** Items from before the queue knew events: this page takes those of its own lists. */
    async adopt(apiBaseOf) {
        let adopted = 0;
        for (const item of await this.store.queueAll()) {
            if (!item.event && apiBaseOf(item.list)) {
                const state = item.state === "pending" ? "pending" : "parked";
                await this.store.queuePut({...item, event: this.event, api: apiBaseOf(item.list), state,
                    why: state === "parked" ? "refused" : undefined});
                adopted += 1;
            }
        }
        if (adopted) {
            this.changed();
        }
    }

    async dismiss(seq) {
        await this.store.queueDelete(seq);
        this.changed();
    }

    /** Staff ask for the failing items now rather than at their next try. */
    async retryNow() {
        for (const item of await this.mine()) {
            if (isFailing(item)) {
                await this.store.queuePut({...item, next_try: null});
            }
        }
        this.changed();
    }

    /** Upload this event's pending items once. Concurrent calls in this tab share one round;
     * while another tab uploads, this one answers {busy: true}. */
    flush() {
        if (!this.running) {
            this.running = runExclusive("queue", () => this.round(), this.lock).finally(() => {
                this.running = null;
            });
        }
        return this.running;
    }

    async park(item, why, fields = {}) {
        await this.store.queuePut({...item, ...fields, state: "parked", why});
    }

    /** After an item failed: does the server answer at all? A probe that fails too means
     * the network (or the whole server) is gone, which is no item's fault. */
    async reachable(api) {
        try {
            await api.probe();
            return true;
        } catch (e) {
            return !(e instanceof NetworkError);
        }
    }

    /** The server failed on this item: it waits longer after each failure. */
    async backOff(item, error, now) {
        const attempts = (item.attempts || 0) + 1;
        await this.store.queuePut({
            ...item, attempts, last_error: error, last_try: new Date(now).toISOString(),
            next_try: new Date(now + backoffMs(attempts)).toISOString(),
        });
    }

    /** Uploaded items older than 24 hours go. */
    async purge(now) {
        for (const item of await this.mine()) {
            if (isUploaded(item) && !(Date.parse(item.uploaded_at) > now - KEEP_UPLOADED_MS)) {
                await this.store.queueDelete(item.seq);
            }
        }
    }

    async round() {
        const result = {accepted: 0, refused: 0, parked: 0, failed: 0, conflicts: 0, waiting: 0,
            gaveUp: false, authFailed: false}; // authFailed: the first 401 or 403, else false
        await this.sealOld();
        await this.purge(this.clock());
        // Read inside the lock: what another tab uploaded meanwhile is gone from the store.
        for (const item of await this.pending()) {
            const now = this.clock();
            if (item.next_try && Date.parse(item.next_try) > now) {
                result.waiting += 1;
                continue;
            }
            const api = this.apiFor(item);
            if (!api) {
                await this.park(item, "unknown_list", {reason: "unknown_list"});
                result.parked += 1;
                continue;
            }
            let response;
            try {
                response = await (item.kind === "redeem"
                    ? api.redeem(item.body, {upload: true}) : api.scan(item.body, {upload: true}));
            } catch (e) {
                if (!(e instanceof NetworkError)) {
                    await this.park(item, "error", {reason: "error", last_error: String(e)});
                    result.parked += 1;
                    continue;
                }
                if (e.kind === "offline" || !(await this.reachable(api))) {
                    result.gaveUp = true;
                    break;
                }
                await this.backOff(item, e.kind, this.clock());
                result.failed += 1;
                continue;
            }
            const data = response.data || {};
            const verdict = classifyUpload(item.kind, response.status, data);
            if (verdict === "accepted" || verdict === "conflict") {
                await this.done(item, data, verdict, this.clock());
                if (verdict === "conflict" || (data.offline && data.offline.conflict)) {
                    result.conflicts += 1;
                }
                result.accepted += verdict === "accepted" ? 1 : 0;
            } else if (verdict === "refused") {
                this.names.learnAttendee(data.attendee, item.nonce);
                await this.park(item, "refused", {status: response.status, reason: data.reason || "error",
                    response: refusalSummary(data)});
                result.refused += 1;
            } else if (response.status === 429) {
                break; // the server asked for fewer requests: the next round goes on
            } else {
                if (response.status === 401 || response.status === 403) {
                    result.authFailed = result.authFailed || response.status;
                }
            }
        }
        this.changed();
        return result;
    }

    /** pretix took the item (verdict "accepted" or "conflict"): note a conflict first (the
     * answer names who it was), then keep an offline scan as uploaded, or delete the item. */
    async done(item, data, verdict, now) {
        this.names.learnAttendee(data.attendee, item.nonce);
        const seen = this.asSeen(item);
        if (verdict === "conflict" || (data.offline && data.offline.conflict)) {
            try {
                await this.onConflict(seen, data);
            } catch (e) {
                console.error(e); // the upload counts; only the notice of the conflict is lost
            }
        }
        if (keepsAfterUpload(item) && verdict === "accepted" && data.offline) {
            await this.store.queuePut({...item, state: "uploaded", uploaded_at: new Date(now).toISOString(),
                recorded: data.offline.recorded || null, next_try: null});
        } else {
            await this.store.queueDelete(item.seq);
        }
        if (verdict === "accepted") {
            try {
                await this.onAccepted(seen, data);
            } catch (e) {
                // The upload counts; keeping the local copy in step is a nicety.
            }
        }
        this.seen.delete(item.nonce);
    }
}
