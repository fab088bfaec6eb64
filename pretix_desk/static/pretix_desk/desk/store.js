/* The desk's offline store in IndexedDB: the preloaded attendees of each list, the sync state
 * of each list and the queue of scans and redemptions waiting for upload. Everything
 * survives a reload, so nothing scanned offline is lost. */

const DB_VERSION = 1;

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

export class DeskStore {
    constructor(db) {
        this.db = db;
    }

    static async open(name = "pretix-desk") {
        const request = indexedDB.open(name, DB_VERSION);
        request.onupgradeneeded = () => {
            const db = request.result;
            db.createObjectStore("attendees", {keyPath: ["list", "code_hash"]});
            db.createObjectStore("meta", {keyPath: "list"});
            const queue = db.createObjectStore("queue", {keyPath: "seq", autoIncrement: true});
            queue.createIndex("nonce", "nonce", {unique: true});
        };
        return new DeskStore(await promisify(request));
    }

    close() {
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

    /** Replace a list's attendees and sync state at once: a reader never sees half a list. */
    async replaceList(list, records, meta) {
        const tx = this.db.transaction(["attendees", "meta"], "readwrite");
        const attendees = tx.objectStore("attendees");
        attendees.delete(listRange(list));
        for (const record of records) {
            attendees.put({...record, list});
        }
        tx.objectStore("meta").put({...meta, list});
        await done(tx);
    }

    /** Apply an incremental sync: changed records replace old ones, removed hashes go. */
    async mergeList(list, records, removed, meta) {
        const tx = this.db.transaction(["attendees", "meta"], "readwrite");
        const attendees = tx.objectStore("attendees");
        for (const hash of removed || []) {
            attendees.delete([list, hash]);
        }
        for (const record of records) {
            attendees.put({...record, list});
        }
        tx.objectStore("meta").put({...meta, list});
        await done(tx);
    }

    async getAttendee(list, codeHash) {
        const tx = this.db.transaction("attendees");
        return (await promisify(tx.objectStore("attendees").get([list, codeHash]))) || null;
    }

    async putAttendee(record) {
        const tx = this.db.transaction("attendees", "readwrite");
        tx.objectStore("attendees").put(record);
        await done(tx);
    }

    async deleteAttendee(list, codeHash) {
        const tx = this.db.transaction("attendees", "readwrite");
        tx.objectStore("attendees").delete([list, codeHash]);
        await done(tx);
    }

    async listAttendees(list) {
        const tx = this.db.transaction("attendees");
        return promisify(tx.objectStore("attendees").getAll(listRange(list)));
    }

    async counts(list) {
        const all = await this.listAttendees(list);
        return {total: all.length, checkedIn: all.filter((r) => r.attendee && r.attendee.checked_in).length};
    }

    /** Offline search over the downloaded list: name, email or order code. */
    async search(list, query, limit = 50) {
        const q = query.trim().toLowerCase();
        const hits = [];
        for (const record of await this.listAttendees(list)) {
            const a = record.attendee || {};
            const haystack = [a.name, a.email, a.order, a.company].filter(Boolean).join("\n").toLowerCase();
            if (haystack.includes(q)) {
                hits.push(record);
                if (hits.length >= limit) {
                    break;
                }
            }
        }
        return hits;
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

    /** All queued items, oldest first. */
    async queueAll() {
        const tx = this.db.transaction("queue");
        return promisify(tx.objectStore("queue").getAll());
    }
}
