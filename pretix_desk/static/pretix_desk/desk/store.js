/* The desk's offline store in IndexedDB "pretix-desk":
 *
 *   attendees  the downloaded records of each list, keyed by [list, code_hash], at most one
 *              per [list, owner] (a regenerated ticket secret replaces the old record); as
 *              the server sent them, personal fields sealed (seal.js opens them per scan)
 *   people     the search index of each list, keyed by [list, position_id]: name, e-mail,
 *              order code and company in clear, downloaded only by logins that may view
 *              orders (the preload head's "search"); nothing else reads it
 *   meta       each list's sync state and the preload head's settings, keyed by list; plus
 *              the record LOGIN_KEY: whose login downloaded them (its login tag)
 *   queue      scans and hand-outs waiting for upload (and offline scans uploaded in the
 *              last 24 hours, which the preload's conflicts may name)
 *   conflicts  what uploads found out: an offline admission pretix recorded as forced or
 *              refused, a hand-out made twice; keyed by "key", kept until dismissed
 *
 * The service worker clears "attendees", "people" and "meta" (whole) when the session has
 * ended; the queue and the conflicts are other stores so that nothing scanned is lost with
 * them. */

import {ownerOf} from "./offline.js";
import {PERSONAL} from "./seal.js";

export const DB_NAME = "pretix-desk";
export const DB_VERSION = 5;
export const DOWNLOADS = ["attendees", "people", "meta"];
export const LOGIN_KEY = "login";
/** Where versions before 5 kept the login tag: "owner" now only means the position a
 * record's code belongs to. */
const LEGACY_LOGIN_KEY = "owner";

function promisify(request) {
    return new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

function done(tx) {
    return new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    });
}

function listRange(list) {
    return IDBKeyRange.bound([list, ""], [list, "\uffff"]);
}

/** Every key [list, anything]: an array sorts after numbers and strings. */
function peopleRange(list) {
    return IDBKeyRange.bound([list], [list, []]);
}

function upgrade(db, oldVersion, tx) {
    if (oldVersion < 1) {
        const queue = db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
        queue.createIndex("nonce", "nonce", {unique: true});
    }
    if (oldVersion < 2) {
        // Version 1 kept records without owner or offline steps: applying those would admit
        // what the server refuses. Download everything again; the queue stays.
        for (const name of ["attendees", "meta"]) {
            if (db.objectStoreNames.contains(name)) {
                db.deleteObjectStore(name);
            }
        }
        const attendees = db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]});
        attendees.createIndex("owner", ["list", "owner"]);
        db.createObjectStore("meta", {keyPath: "list"});
    }
    if (oldVersion < 3) {
        db.createObjectStore("conflicts", {keyPath: "key"});
    }
    if (oldVersion < 4) {
        if (oldVersion >= 2) {
            // Records before version 4 held names and e-mails in clear: download again,
            // sealed. The queue and the conflicts stay.
            tx.objectStore("attendees").clear();
            tx.objectStore("meta").clear();
        }
        db.createObjectStore("people", {keyPath: ["list", "position_id"]});
        // counted without reading a record: every scan recounts, and a readwrite transaction
        // waits for a running read of the whole list
        tx.objectStore("attendees").createIndex("checked", ["list", "checked"]);
    }
    if (oldVersion < 5 && oldVersion >= 4) {
        // The login tag moves to its own name; the downloads stay the same login's.
        const meta = tx.objectStore("meta");
        const kept = meta.get(LEGACY_LOGIN_KEY);
        kept.onsuccess = () => {
            if (kept.result) {
                meta.put({list: LOGIN_KEY, login: kept.result.owner});
                meta.delete(LEGACY_LOGIN_KEY);
            }
        };
    }
}

/** A record as the attendees store keeps it: what the server sent, with the search index
 * (its own store) and any opened personal field left out, whatever the caller passes. */
function storable(received) {
    const {index, ...record} = received;
    if (record.attendee) {
        const attendee = {...record.attendee};
        for (const field of Object.values(PERSONAL)) {
            delete attendee[field];
        }
        record.attendee = attendee;
    }
    record.checked = record.attendee && record.attendee.checked_in ? 1 : 0;
    return record;
}

/** Store one record, and drop any other record of the same owner on that list. Runs inside
 * the caller's transaction; requests run in order, so the lookup sees the state before.
 * The server leaves ``owner`` out when it is the attendee's own position (most records);
 * the stored record always has it, for the index. */
function putReplacingOwner(attendees, list, received) {
    const record = {...storable(received), owner: ownerOf(received)};
    if (record.owner !== undefined && record.owner !== null) {
        const keys = attendees.index("owner").getAllKeys(IDBKeyRange.only([list, record.owner]));
        keys.onsuccess = () => {
            for (const key of keys.result) {
                if (key[1] !== record.code_hash) {
                    attendees.delete(key);
                }
            }
        };
    }
    attendees.put({...record, list});
}

/** Whether a person matches an offline search (lower-cased query). */
function matches(person, q) {
    return [person.name, person.email, person.order, person.company]
        .filter(Boolean).join("\n").toLowerCase().includes(q);
}

export class DeskStore {
    constructor(db) {
        this.db = db;
        this.closed = false;
    }

    /**
     * @param onBlocked        another tab holds an older version open: the upgrade waits
     * @param onVersionChange  another tab upgrades or deletes the database: this connection
     *                         is closed first (event.newVersion is null for a deletion)
     * Rejects where IndexedDB is missing or refused (some private windows).
     */
    static open({name = DB_NAME, onBlocked = () => {}, onVersionChange = () => {}} = {}) {
        return new Promise((resolve, reject) => {
            let request;
            try {
                request = globalThis.indexedDB.open(name, DB_VERSION);
            } catch (e) {
                reject(e);
                return;
            }
            request.onupgradeneeded = (e) => upgrade(request.result, e.oldVersion, request.transaction);
            request.onblocked = () => onBlocked();
            request.onerror = () => reject(request.error || new Error("IndexedDB refused"));
            request.onsuccess = () => {
                const store = new DeskStore(request.result);
                store.db.onversionchange = (e) => {
                    store.close();
                    onVersionChange(e);
                };
                resolve(store);
            };
        });
    }

    close() {
        this.closed = true;
        this.db.close();
    }

    async getMeta(list) {
        const tx = this.db.transaction("meta");
        return (await promisify(tx.objectStore("meta").get(list))) || null;
    }

    async putMeta(meta) {
        const tx = this.db.transaction("meta", "readwrite");
        tx.objectStore("meta").put(meta);
        await done(tx);
    }

    async getLogin() {
        const meta = await this.getMeta(LOGIN_KEY);
        return meta ? meta.login : null;
    }

    /** Delete every downloaded list (attendees, search index and meta), keep the queue;
     * record whose login (its tag) the next downloads are. */
    async clearDownloads({login = null} = {}) {
        const tx = this.db.transaction(DOWNLOADS, "readwrite");
        for (const name of DOWNLOADS) {
            tx.objectStore(name).clear();
        }
        if (login) {
            tx.objectStore("meta").put({list: LOGIN_KEY, login});
        }
        await done(tx);
    }

    /** Replace a list's attendees, search index and sync state at once: a reader never sees
     * half a list. people: the index entries ({position_id, name, email, order, company}),
     * none for a login that may not list attendees. */
    async replaceList(list, records, meta, people = []) {
        const tx = this.db.transaction(DOWNLOADS, "readwrite");
        const attendees = tx.objectStore("attendees");
        attendees.delete(listRange(list));
        // The list starts empty: one record per owner (the last) is chosen here, without an
        // index lookup per record (100,000 of them at a big event's first download).
        const last = new Map();
        for (const received of records) {
            const owner = ownerOf(received);
            last.set(owner === null || owner === undefined ? received : owner, received);
        }
        for (const received of last.values()) {
            attendees.put({...storable(received), owner: ownerOf(received), list});
        }
        const index = tx.objectStore("people");
        index.delete(peopleRange(list));
        for (const person of people) {
            index.put({...person, list});
        }
        tx.objectStore("meta").put({...meta, list});
        await done(tx);
    }

    /** Apply an incremental sync: removed hashes go (with their owner's index entry, unless a
     * record of this sync is the owner's new one), each record replaces its owner's old one. */
    async mergeList(list, records, removed, meta, people = []) {
        const tx = this.db.transaction(DOWNLOADS, "readwrite");
        const attendees = tx.objectStore("attendees");
        const index = tx.objectStore("people");
        const arriving = new Set(records.map(ownerOf));
        for (const hash of removed || []) {
            const gone = attendees.get([list, hash]);
            gone.onsuccess = () => {
                const owner = gone.result ? ownerOf(gone.result) : null;
                if (owner !== null && owner !== undefined && !arriving.has(owner)) {
                    index.delete([list, owner]);
                }
            };
            attendees.delete([list, hash]);
        }
        for (const record of records) {
            putReplacingOwner(attendees, list, record);
        }
        for (const person of people) {
            index.put({...person, list});
        }
        tx.objectStore("meta").put({...meta, list});
        await done(tx);
    }

    async getAttendee(list, codeHash) {
        const tx = this.db.transaction("attendees");
        return (await promisify(tx.objectStore("attendees").get([list, codeHash]))) || null;
    }

    async getByOwner(list, owner) {
        const tx = this.db.transaction("attendees");
        const found = await promisify(tx.objectStore("attendees").index("owner").getAll(IDBKeyRange.only([list, owner])));
        return found[0] || null;
    }

    async putAttendee(record) {
        const tx = this.db.transaction("attendees", "readwrite");
        putReplacingOwner(tx.objectStore("attendees"), record.list, record);
        await done(tx);
    }

    async listAttendees(list) {
        const tx = this.db.transaction("attendees");
        return promisify(tx.objectStore("attendees").getAll(listRange(list)));
    }

    async counts(list) {
        const attendees = this.db.transaction("attendees").objectStore("attendees");
        const [total, checkedIn] = await Promise.all([
            promisify(attendees.count(listRange(list))),
            promisify(attendees.index("checked").count(IDBKeyRange.only([list, 1]))),
        ]);
        return {total, checkedIn};
    }

    /** Offline search over a list's search index: name, e-mail, order code or company.
     * Returns index entries; the caller finds their records by owner. */
    async searchPeople(list, query, limit = 50) {
        const q = query.trim().toLowerCase();
        const tx = this.db.transaction("people");
        const found = (await promisify(tx.objectStore("people").getAll(peopleRange(list)))).filter((p) => matches(p, q));
        return found.slice(0, limit);
    }

    /** The index entry of a position on a list, or null (none without the index). */
    async getPerson(list, positionId) {
        const tx = this.db.transaction("people");
        return (await promisify(tx.objectStore("people").get([list, positionId]))) || null;
    }

    async queueAdd(item) {
        const tx = this.db.transaction("queue", "readwrite");
        const seq = await promisify(tx.objectStore("queue").add(item));
        await done(tx);
        return seq;
    }

    async queuePut(item) {
        const tx = this.db.transaction("queue", "readwrite");
        tx.objectStore("queue").put(item);
        await done(tx);
    }

    async queueDelete(seq) {
        const tx = this.db.transaction("queue", "readwrite");
        tx.objectStore("queue").delete(seq);
        await done(tx);
    }

    /** All queued items of every event, oldest first. */
    async queueAll() {
        const tx = this.db.transaction("queue");
        return promisify(tx.objectStore("queue").getAll());
    }

    /** Store a conflict unless one with its key is stored (also a dismissed one: the
     * preload names a conflict again until its token has moved past it). Returns whether
     * it was added. */
    async conflictAdd(entry) {
        const tx = this.db.transaction("conflicts", "readwrite");
        const conflicts = tx.objectStore("conflicts");
        const known = await promisify(conflicts.getKey(entry.key));
        if (known === undefined) {
            conflicts.add(entry);
        }
        await done(tx);
        return known === undefined;
    }

    async conflictPut(entry) {
        const tx = this.db.transaction("conflicts", "readwrite");
        tx.objectStore("conflicts").put(entry);
        await done(tx);
    }

    async conflictDelete(key) {
        const tx = this.db.transaction("conflicts", "readwrite");
        tx.objectStore("conflicts").delete(key);
        await done(tx);
    }

    /** All conflicts of every event. */
    async conflictAll() {
        const tx = this.db.transaction("conflicts");
        return promisify(tx.objectStore("conflicts").getAll());
    }
}
