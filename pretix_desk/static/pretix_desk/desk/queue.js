/* Upload of what was scanned or handed out while offline.
 *
 * Every item carries the nonce and time of the original action, so replaying it is harmless:
 * the server answers an already-seen nonce with its first answer and records nothing new.
 * Items belong to one event (the page's storage key) and list, and carry the list's API
 * address, so they can be uploaded even when the page no longer offers that list.
 *
 * No item can hold up the others: one the server refuses, one whose list is unknown and one
 * whose upload throws are parked (kept, shown, dismissable); one that could not be delivered
 * stays pending. One tab uploads at a time (locks.js); every tab hears of changes. */

import {NetworkError} from "./api.js";
import {runExclusive} from "./locks.js";

/** Consecutive undeliverable items after which a round gives up: the network is down. */
const GIVE_UP_AFTER = 3;
export const CHANNEL_NAME = "pretix-desk-queue";

/** What the server's answer means for a queued item: "accepted", "refused" or "retry". */
export function classifyUpload(kind, status) {
    if (status === 200 || status === 201) {
        return "accepted";
    }
    if (status === 401 || status === 403 || status === 429) {
        // Not the item's fault: a login that expired, or too many requests. Keep it.
        return "retry";
    }
    if (status >= 400 && status < 500) {
        return "refused";
    }
    return "retry";
}

export function isPending(item) {
    return item.state === "pending";
}

export class SyncQueue {
    /**
     * @param store   a DeskStore (or anything with queueAdd/queuePut/queueDelete/queueAll)
     * @param event   the page's storage key: items of other events are left alone
     * @param apiFor  function(item) returning the DeskApi to upload it with, or null
     * @param channel a BroadcastChannel shared by the tabs, or null
     * @param lock    options for runExclusive (tests pass their own)
     */
    constructor({store, event, apiFor, onChange = () => {}, onAccepted = () => {}, channel = null, lock = {}}) {
        this.store = store;
        this.event = event;
        this.apiFor = apiFor;
        this.onChange = onChange;
        this.onAccepted = onAccepted;
        this.channel = channel;
        this.lock = lock;
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

    async add({kind, list, api, body, owner = null, codeHash = null, label = null}) {
        if (!body || !body.nonce || !body.datetime) {
            throw new Error("queued items need a nonce and a datetime");
        }
        const item = {
            event: this.event, kind, list, api, body, owner, code_hash: codeHash, label,
            nonce: body.nonce, created: body.datetime, state: "pending", attempts: 0,
        };
        item.seq = await this.store.queueAdd(item);
        this.changed();
        return item;
    }

    /** This event's items, oldest first. */
    async mine() {
        return (await this.store.queueAll()).filter((i) => i.event === this.event);
    }

    /** Pending items, of one list (and owner) if given. */
    async pending(list = null, owner = null) {
        return (await this.mine()).filter((i) => isPending(i)
            && (list === null || i.list === list) && (owner === null || i.owner === owner));
    }

    async parked() {
        return (await this.mine()).filter((i) => !isPending(i));
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

    async round() {
        const result = {accepted: 0, refused: 0, parked: 0, failed: 0, gaveUp: false, authFailed: false};
        let undeliveredInARow = 0;
        // Read inside the lock: what another tab uploaded meanwhile is gone from the store.
        for (const item of await this.pending()) {
            const api = this.apiFor(item);
            if (!api) {
                await this.park(item, "unknown_list", {reason: "unknown_list"});
                result.parked += 1;
                continue;
            }
            let response;
            try {
                response = await (item.kind === "redeem" ? api.redeem(item.body) : api.scan(item.body));
            } catch (e) {
                if (!(e instanceof NetworkError)) {
                    await this.park(item, "error", {reason: "error", last_error: String(e)});
                    result.parked += 1;
                    continue;
                }
                await this.store.queuePut({...item, attempts: item.attempts + 1, last_error: e.kind});
                result.failed += 1;
                undeliveredInARow += 1;
                if (e.kind === "offline" || undeliveredInARow >= GIVE_UP_AFTER) {
                    result.gaveUp = true;
                    break;
                }
                continue;
            }
            undeliveredInARow = 0;
            const verdict = classifyUpload(item.kind, response.status);
            if (verdict === "accepted") {
                await this.store.queueDelete(item.seq);
                result.accepted += 1;
                try {
                    await this.onAccepted(item, response.data);
                } catch (e) {
                    // The upload counts; keeping the local copy in step is a nicety.
                }
            } else if (verdict === "refused") {
                const data = response.data || {};
                await this.park(item, "refused", {status: response.status, reason: data.reason || "error", response: data});
                result.refused += 1;
            } else {
                result.authFailed = result.authFailed || response.status === 401 || response.status === 403;
                await this.store.queuePut({...item, attempts: item.attempts + 1, last_error: "http_" + response.status});
                result.failed += 1;
            }
        }
        this.changed();
        return result;
    }
}
