/* The background sync: upload the queue, then bring the download of each list the desk scans
 * against up to date (incrementally with the sync token, or in full). Every 30 s online, every 8 s offline (to
 * find the server again); at once when the browser says the network is back. Each download
 * also names the conflicts other desks' offline uploads met (conflicts.js keeps those that
 * concern this desk's own uploads). */

import {NetworkError} from "./api.js";
import {detached, mark} from "./download.js";
import {ownerOf} from "./offline.js";
import {mergeSigned, prepareSigned} from "./signed.js";

export const INTERVAL_ONLINE_MS = 30000;
export const INTERVAL_OFFLINE_MS = 8000;

/** A preload record as the store keeps it: every field the server sent but the search
 * index (kept in a store of its own), owner filled in (servers before docs/offline.rst
 * sent none: the attendee's own position then). */
export function toRecord(raw) {
    const {index, ...record} = raw;
    record.owner = ownerOf(raw);
    record.line_items = raw.line_items || [];
    return record;
}

/** What a search index entry shows of a person: {name, email, order, company}. */
export function personShown(person) {
    const {name = null, email = null, order = null, company = null} = person || {};
    return {name, email, order, company};
}

/** A record's search index entry, or null: only for logins that may list attendees (the
 * head's "search"), {position_id, name, email, order, company}. */
export function toPerson(raw) {
    if (!raw.index || typeof raw.index !== "object" || !raw.attendee) {
        return null;
    }
    return {position_id: raw.attendee.position_id, ...personShown(raw.index)};
}

/** What the page keeps of each record of a download, made as its line arrives (while the
 * next bytes are on their way): the store's packed form (store.pack) and the search index
 * entry. The parsed record is garbage at once, and the list is stored 1-2 s after the last
 * byte at 100,000 (docs/benchmarks.rst, "8 December: storing a download"). A record that
 * cannot be read is left out (null) and logged, not the whole download: offline, its ticket
 * is then not found, where the server sends a record it cannot render as "cannot verify
 * offline" (preload.unverifiable_record). */
export function keepReceived(raw, store) {
    try {
        const record = toRecord(raw);
        const person = toPerson(raw);
        return {
            record: store.pack ? store.pack(record) : record,
            // (kept until the list is stored: its strings must not keep the download's text)
            person: person && Object.fromEntries(Object.entries(person).map(([k, v]) => [k, detached(v)])),
        };
    } catch (e) {
        console.error("a downloaded record cannot be read", e);
        return null;
    }
}

/** What the store keeps of a download's head; kept: the list's meta before an incremental
 * download, whose refused signed codes it carries on (signed.js). */
export function metaFrom(data, response, now, kept = null) {
    return {
        salt: data.salt,
        sync_token: data.sync_token,
        etag: response.headers ? response.headers.get("ETag") : null,
        // the list's settings the entries-so-far check needs (docs/offline.rst)
        entries: data.entries || null,
        // the check-in questions an "ask" step names, by id (docs/offline.rst)
        questions: data.questions || null,
        // how scanned codes find and open their sealed records (seal.js)
        seal: data.seal || null,
        // whether the download has the search index (those who may list attendees)
        search: data.search === true,
        // capacities of the list ({gate, capacity}): offline, the desk cannot verify them
        capacities: Array.isArray(data.capacities) ? data.capacities : [],
        // what answers a signed ticket the download does not hold (signed.js)
        signed: mergeSigned(kept && kept.signed, data.signed),
        last_sync: now,
    };
}

function sameSeal(a, b) {
    return JSON.stringify(a || null) === JSON.stringify(b || null);
}

/** Whether an incremental answer can be merged into what is stored: same salt, and the
 * same format (a server that starts sending offline steps or question definitions, or a
 * download stored by a page that kept none, needs a full download); the same sealing and
 * search index too, so that no record is found by a derivation it was not sealed with and
 * an index is never half there. */
export function canMerge(meta, data) {
    return !!(meta && meta.sync_token && meta.salt === data.salt && !!meta.entries === !!data.entries
        && !!meta.questions === !!data.questions && sameSeal(meta.seal, data.seal)
        && !!meta.search === (data.search === true) && !!meta.signed === !!data.signed);
}

export class Sync {
    /**
     * @param desk           {store, queue, conflicts, conn, lists, prefs}: read at each round
     * @param onListUpdated  function(listId) after a download changed the list
     * @param onAuthProblem  function(status) for 401/403
     */
    constructor(desk, {onListUpdated = () => {}, onAuthProblem = () => {}} = {}) {
        this.desk = desk;
        this.onListUpdated = onListUpdated;
        this.onAuthProblem = onAuthProblem;
        this.timer = null;
        this.running = null;
    }

    schedule() {
        clearTimeout(this.timer);
        const offline = this.desk.conn.state === "offline";
        this.timer = setTimeout(() => this.now(), offline ? INTERVAL_OFFLINE_MS : INTERVAL_ONLINE_MS);
    }

    stop() {
        clearTimeout(this.timer);
    }

    /** Run a round now. While one runs, another follows it (what was asked for may have
     * changed meanwhile, e.g. a list to download was added); both callers wait for it.
     * body[data-sync-rounds] counts the rounds ended: what the browser tests wait for. */
    now() {
        if (this.running) {
            if (!this.next) {
                this.next = this.running.catch(() => {}).then(() => {
                    this.next = null;
                    return this.now();
                });
            }
            return this.next;
        }
        this.running = this.round().finally(() => {
            this.running = null;
            this.rounds = (this.rounds || 0) + 1;
            document.body.dataset.syncRounds = String(this.rounds);
            this.schedule();
        });
        return this.running;
    }

    async round() {
        const {store, queue, conn, lists, prefs} = this.desk;
        if (!store) {
            return;
        }
        conn.syncStarted();
        try {
            try {
                const result = await queue.flush();
                if (result.authFailed) {
                    this.onAuthProblem(result.authFailed);
                }
            } catch (e) {
                // A broken upload must not keep the list from refreshing.
            }
            if (this.desk.conflicts) {
                await this.desk.conflicts.purge().catch(() => {});
            }
            if (lists.currentId && !prefs.downloadsOff) {
                for (const list of lists.chosen) {
                    await this.preload(list.id);
                    if (conn.state === "offline") {
                        break; // the next list would only wait for the same failure
                    }
                }
            } else if (lists.currentId) {
                // Nothing to download, but the server must still be found again when
                // offline, and hear from this desk (report.js) when online.
                await lists.api(lists.currentId).probe().catch(() => null);
            }
        } finally {
            conn.syncEnded();
        }
    }

    async preload(listId) {
        const {store, lists} = this.desk;
        const api = lists.api(listId);
        if (!api) {
            return;
        }
        let meta = await store.getMeta(listId);
        const each = (raw) => keepReceived(raw, store);
        let response;
        try {
            response = await api.preload(meta ? {since: meta.sync_token, etag: meta.etag, each} : {each});
            const refused = response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403;
            const unmergeable = response.status === 200 && response.data && meta && !canMerge(meta, response.data);
            if (meta && (refused || unmergeable)) {
                // The sync token is no longer accepted, or the answer cannot be merged into
                // what is stored: start over with a full download.
                meta = null;
                response = await api.preload({each});
            }
        } catch (e) {
            if (e instanceof NetworkError) {
                return; // connectivity has heard of it
            }
            throw e;
        }
        const now = new Date().toISOString();
        if (response.status === 200 || response.status === 304) {
            this.desk.report.noteSync();
        }
        if (response.status === 304 && meta) {
            await store.putMeta({...meta, last_sync: now});
        } else if (response.status === 200 && response.data) {
            const data = response.data;
            const received = (data.attendees || []).filter(Boolean);
            const records = received.map((kept) => kept.record);
            // Only a download that says it carries the index fills the index.
            const people = data.search === true ? received.map((kept) => kept.person).filter(Boolean) : [];
            if (meta) {
                await store.mergeList(listId, records, data.removed || [], metaFrom(data, response, now, meta), people);
            } else {
                await store.replaceList(listId, records, metaFrom(data, response, now), people);
            }
            mark("desk:download-stored");
            await this.noteConflicts(listId, data.conflicts);
            prepareSigned(data.signed);
        } else {
            if (response.status === 401 || response.status === 403) {
                this.onAuthProblem(response.status);
            }
            return;
        }
        this.onListUpdated(listId);
    }

    /** The download's conflicts that concern this desk's own uploads; a broken one must not
     * keep the list from being used. */
    async noteConflicts(listId, conflicts) {
        const keeper = this.desk.conflicts;
        if (!keeper || !Array.isArray(conflicts) || !conflicts.length) {
            return;
        }
        try {
            await keeper.fromPreload(listId, conflicts);
        } catch (e) {
            console.error(e);
        }
    }
}
