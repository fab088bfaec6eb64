/* Upload of what was scanned or handed out while offline.
 *
 * Every item carries the nonce and time of the original action, so replaying it is harmless:
 * the server answers an already-seen nonce with its first answer and records nothing new.
 * Items are tried one by one; an item the server refuses is set aside for the staff to see,
 * an item that could not be delivered stays queued, and neither stops the items after it. */

import {NetworkError} from "./api.js";

/** Consecutive undeliverable items after which a round gives up: the network is down. */
const GIVE_UP_AFTER = 3;

/** What the server's answer means for a queued item: "accepted", "refused" or "retry". */
export function classifyUpload(kind, status, data) {
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

export class SyncQueue {
    /**
     * @param store  a DeskStore (or anything with queueAdd/queuePut/queueDelete/queueAll)
     * @param apiFor function(listId) returning the DeskApi of that list
     */
    constructor({store, apiFor, onChange = () => {}, onAccepted = () => {}}) {
        this.store = store;
        this.apiFor = apiFor;
        this.onChange = onChange;
        this.onAccepted = onAccepted;
        this.running = null;
    }

    async add({kind, list, body, codeHash = null, label = null}) {
        if (!body || !body.nonce || !body.datetime) {
            throw new Error("queued items need a nonce and a datetime");
        }
        const item = {
            kind, list, body, code_hash: codeHash, label,
            nonce: body.nonce, created: body.datetime, state: "pending", attempts: 0,
        };
        item.seq = await this.store.queueAdd(item);
        this.onChange();
        return item;
    }

    async pending() {
        return (await this.store.queueAll()).filter((i) => i.state === "pending");
    }

    async refused() {
        return (await this.store.queueAll()).filter((i) => i.state === "refused");
    }

    async dismiss(seq) {
        await this.store.queueDelete(seq);
        this.onChange();
    }

    /** Upload all pending items once. Concurrent calls share one round. */
    flush() {
        if (!this.running) {
            this.running = this._flush().finally(() => {
                this.running = null;
            });
        }
        return this.running;
    }

    async _flush() {
        const result = {accepted: 0, refused: 0, failed: 0, gaveUp: false, authFailed: false};
        let undeliveredInARow = 0;
        for (const item of await this.pending()) {
            let response;
            try {
                const api = this.apiFor(item.list);
                response = await (item.kind === "redeem" ? api.redeem(item.body) : api.scan(item.body));
            } catch (e) {
                if (!(e instanceof NetworkError)) {
                    throw e;
                }
                item.attempts += 1;
                item.last_error = e.kind;
                await this.store.queuePut(item);
                result.failed += 1;
                undeliveredInARow += 1;
                if (e.kind === "offline" || undeliveredInARow >= GIVE_UP_AFTER) {
                    result.gaveUp = true;
                    break;
                }
                continue;
            }
            undeliveredInARow = 0;
            const verdict = classifyUpload(item.kind, response.status, response.data);
            if (verdict === "accepted") {
                await this.store.queueDelete(item.seq);
                result.accepted += 1;
                await this.onAccepted(item, response.data);
            } else if (verdict === "refused") {
                item.state = "refused";
                item.status = response.status;
                item.reason = (response.data && response.data.reason) || "error";
                item.response = response.data;
                await this.store.queuePut(item);
                result.refused += 1;
            } else {
                result.authFailed = result.authFailed || response.status === 401 || response.status === 403;
                item.attempts += 1;
                item.last_error = "http_" + response.status;
                await this.store.queuePut(item);
                result.failed += 1;
            }
        }
        this.onChange();
        return result;
    }
}
