/* The desk's offline store in IndexedDB "pretix-desk":
 *
 *   records    the downloaded records of each list, in buckets keyed by [list, prefix]: the
 *              first PREFIX hex digits of the record's lookup id (code_hash), about 25
 *              records a bucket at 100,000; {list, prefix, records: {code_hash: record}}, at
 *              most one record per owner (a regenerated ticket secret replaces the old one);
 *              as the server sent them, personal fields sealed (seal.js opens them per scan)
 *   positions  per list, in buckets keyed by [list, bucket] (the position id modulo
 *              POSITION_BUCKETS): which lookup id each position's record has (owners), and
 *              the search index (people: name, e-mail, order code and company in clear,
 *              downloaded only by logins that may view orders, the preload head's "search")
 *   counts     each list's {list, total, checkedIn}: every write moves them, so that the
 *              footer's counters, recounted at every scan, read no record
 *   meta       each list's sync state and the preload head's settings, keyed by list; plus
 *              the record LOGIN_KEY: whose login downloaded them (its login tag)
 *   queue      scans and hand-outs waiting for upload (and offline scans uploaded in the
 *              last 24 hours, which the preload's conflicts may name); indexed by nonce, by
 *              [event, list, owner] (what an offline answer counts) and by [event, state]
 *              and [event, state, attempts] (the footer's counters), so that neither reads
 *              the whole queue: after hours offline it holds thousands of items
 *   conflicts  what uploads found out: an offline admission pretix recorded as forced or
 *              refused, a hand-out made twice; keyed by "key", kept until dismissed
 *
 * Why buckets: IndexedDB in Chromium costs about 0.1 ms per value written, whatever its size;
 * one value per record kept a door laptop 12 s from offline-ready at 100,000 attendees, 4,096
 * buckets take under a second (docs/benchmarks.rst, "The desk page"). A scan reads one bucket.
 *
 * The service worker clears "records", "positions", "counts" and "meta" (whole) when the
 * session has ended; the queue and the conflicts are other stores so that nothing scanned
 * is lost with them. */

import {detached} from "./download.js";
import {ownerOf} from "./offline.js";
import {PERSONAL} from "./seal.js";

export const DB_NAME = "pretix-desk";
export const DB_VERSION = 7;
export const DOWNLOADS = ["records", "positions", "counts", "meta"];
export const LOGIN_KEY = "login";
/** Where versions before 5 kept the login tag: "owner" now only means the position a
 * record's code belongs to. */
const LEGACY_LOGIN_KEY = "owner";
/** Hex digits of a lookup id that name its bucket: 4,096 buckets. */
export const PREFIX = 3;
export const POSITION_BUCKETS = 1024;
const PERSONAL_FIELDS = Object.values(PERSONAL);

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

/** Every key [list, anything]: an array sorts after numbers and strings. */
function listRange(list) {
    return IDBKeyRange.bound([list], [list, []]);
}

function prefixOf(hash) {
    return String(hash).slice(0, PREFIX);
}

function positionBucket(position) {
    const n = Math.trunc(Number(position));
    return Number.isFinite(n) ? Math.abs(n) % POSITION_BUCKETS : 0;
}

/** Empty buckets, as a write creates them where none is stored. */
function recordBucket(list, prefix) {
    return {list, prefix, records: {}};
}

function positionsBucket(list, bucket) {
    return {list, bucket, owners: {}, people: {}};
}

/** A record as its bucket holds it: its JSON text. IndexedDB copies a string as it is, where
 * it clones an object field by field: buckets of objects took 30-50 µs per record to store,
 * 2.3-3.1 s after the last byte of a 100,000-attendee download (docs/benchmarks.rst, "8
 * December: storing a download"). Buckets written before hold objects, read as they are. */
function packed(record) {
    return JSON.stringify(record);
}

function unpacked(value) {
    return typeof value === "string" ? JSON.parse(value) : value || null;
}

/** A received record ready for its bucket, made while the download streams (sync.js,
 * keepReceived): what a list's write needs of it, and its text. */
class PackedRecord {
    constructor(record) {
        this.code_hash = detached(record.code_hash);
        this.owner = record.owner;
        this.checkedIn = isCheckedIn(record) ? 1 : 0;
        this.text = packed(record);
    }
}

function packRecord(received) {
    return new PackedRecord(storable(received));
}

function hasOwner(owner) {
    return owner !== undefined && owner !== null;
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
        db.createObjectStore("meta", {keyPath: "list"});
    }
    if (oldVersion < 3) {
        db.createObjectStore("conflicts", {keyPath: "key"});
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
    if (oldVersion < 6) {
        db.createObjectStore("records", {keyPath: ["list", "prefix"]});
        db.createObjectStore("positions", {keyPath: ["list", "bucket"]});
        db.createObjectStore("counts", {keyPath: "list"});
        if (oldVersion >= 4) {
            carryOver(db, tx);
        } else if (oldVersion >= 2) {
            // Version 3 and before held names in clear: download every list again. The
            // queue and the conflicts stay.
            for (const name of ["attendees", "people"]) {
                if (db.objectStoreNames.contains(name)) {
                    db.deleteObjectStore(name);
                }
            }
            tx.objectStore("meta").clear();
        }
    }
    if (oldVersion < 7) {
        const queue = tx.objectStore("queue");
        queue.createIndex("owner", ["event", "list", "owner"]);
        queue.createIndex("state", ["event", "state"]);
        queue.createIndex("attempts", ["event", "state", "attempts"]);
    }
}

/** Versions 4 and 5 kept one value per record: the same downloads move into buckets, with
 * their sync state, so that a door laptop whose page is upgraded while the network is down
 * keeps answering from its list. Requests run in order: the records are read first. */
function carryOver(db, tx) {
    const records = tx.objectStore("attendees").getAll();
    const people = tx.objectStore("people").getAll();
    people.onsuccess = () => {
        const lists = new Map();
        const of = (list) => {
            if (!lists.has(list)) {
                lists.set(list, {records: [], people: []});
            }
            return lists.get(list);
        };
        records.result.forEach((record) => of(record.list).records.push(record));
        people.result.forEach((person) => of(person.list).people.push(person));
        for (const [list, kept] of lists) {
            writeList(tx, list, kept.records, kept.people);
        }
        db.deleteObjectStore("attendees");
        db.deleteObjectStore("people");
    };
}

/** Write a list's buckets and counts into a list emptied before (one record per owner). */
function writeList(tx, list, records, people) {
    const buckets = new Map();
    const positions = new Map();
    const position = (owner) => {
        const key = positionBucket(owner);
        if (!positions.has(key)) {
            positions.set(key, positionsBucket(list, key));
        }
        return positions.get(key);
    };
    const counts = {list, total: 0, checkedIn: 0};
    for (const received of records) {
        const record = received instanceof PackedRecord ? received : packRecord(received);
        const prefix = prefixOf(record.code_hash);
        if (!buckets.has(prefix)) {
            buckets.set(prefix, recordBucket(list, prefix));
        }
        buckets.get(prefix).records[record.code_hash] = record.text;
        if (hasOwner(record.owner)) {
            position(record.owner).owners[record.owner] = record.code_hash;
        }
        counts.total += 1;
        counts.checkedIn += record.checkedIn;
    }
    for (const person of people) {
        position(person.position_id).people[person.position_id] = indexEntry(person);
    }
    buckets.forEach((bucket) => tx.objectStore("records").put(bucket));
    positions.forEach((bucket) => tx.objectStore("positions").put(bucket));
    tx.objectStore("counts").put(counts);
}

/** A record as the records store keeps it: what the server sent, with the search index
 * (its own store), the list (the bucket's) and any opened personal field left out, whatever
 * the caller passes; owner filled in. */
function storable(received) {
    if (received instanceof PackedRecord) {
        return JSON.parse(received.text);
    }
    const {index, list, checked, ...record} = received;
    const attendee = record.attendee;
    // A received record has none (they are sealed): it is kept as it came, without the
    // copy and the deletes that cost a second at 100,000 records.
    if (attendee && PERSONAL_FIELDS.some((field) => field in attendee)) {
        record.attendee = Object.fromEntries(Object.entries(attendee).filter(([field]) => !PERSONAL_FIELDS.includes(field)));
    }
    record.owner = ownerOf(received);
    return record;
}

/** A search index entry as kept in its bucket (which names the list). */
function indexEntry(person) {
    if (!("list" in person)) {
        return person;
    }
    const {list, ...entry} = person;
    return entry;
}

function isCheckedIn(record) {
    return record && record.attendee && record.attendee.checked_in ? 1 : 0;
}

/** Whether a person matches an offline search (lower-cased query). */
function matches(person, q) {
    return [person.name, person.email, person.order, person.company]
        .filter(Boolean).join("\n").toLowerCase().includes(q);
}

/** The buckets one readwrite transaction changes: loaded on demand (all gets of a step at
 * once), changed in memory, written once at the end with the list's counts moved by what
 * changed. */
class OpenBuckets {
    constructor(tx, list) {
        this.tx = tx;
        this.list = list;
        this.records = new Map();
        this.positions = new Map();
        this.dirty = {records: new Set(), positions: new Set()};
        this.delta = {total: 0, checkedIn: 0};
    }

    async load({prefixes = [], positions = []}) {
        const wanted = [
            ...[...new Set(prefixes)].filter((p) => !this.records.has(p)).map((p) => ["records", this.records, p]),
            ...[...new Set(positions.filter(hasOwner).map(positionBucket))].filter((b) => !this.positions.has(b))
                .map((b) => ["positions", this.positions, b]),
        ];
        await Promise.all(wanted.map(async ([name, into, key]) => {
            const found = await promisify(this.tx.objectStore(name).get([this.list, key]));
            into.set(key, found || (name === "records" ? recordBucket : positionsBucket)(this.list, key));
        }));
    }

    record(hash) {
        const bucket = this.records.get(prefixOf(hash));
        return bucket ? unpacked(bucket.records[hash]) : null;
    }

    hashOf(owner) {
        const bucket = hasOwner(owner) ? this.positions.get(positionBucket(owner)) : null;
        return bucket ? bucket.owners[owner] || null : null;
    }

    putRecord(record) {
        const prefix = prefixOf(record.code_hash);
        const old = unpacked(this.records.get(prefix).records[record.code_hash]);
        this.count(old, -1);
        this.records.get(prefix).records[record.code_hash] = packed(record);
        this.count(record, 1);
        this.dirty.records.add(prefix);
    }

    deleteRecord(hash) {
        const prefix = prefixOf(hash);
        const bucket = this.records.get(prefix);
        if (bucket && bucket.records[hash]) {
            this.count(unpacked(bucket.records[hash]), -1);
            delete bucket.records[hash];
            this.dirty.records.add(prefix);
        }
    }

    count(record, sign) {
        if (record) {
            this.delta.total += sign;
            this.delta.checkedIn += sign * isCheckedIn(record);
        }
    }

    position(owner) {
        const key = positionBucket(owner);
        this.dirty.positions.add(key);
        return this.positions.get(key);
    }

    /** Write the changed buckets (an emptied one goes) and the stored counts moved by what
     * changed. */
    write(stored) {
        for (const [name, buckets] of [["records", this.records], ["positions", this.positions]]) {
            const store = this.tx.objectStore(name);
            for (const key of this.dirty[name]) {
                const bucket = buckets.get(key);
                const empty = name === "records" ? !Object.keys(bucket.records).length
                    : !Object.keys(bucket.owners).length && !Object.keys(bucket.people).length;
                if (empty) {
                    store.delete([this.list, key]);
                } else {
                    store.put(bucket);
                }
            }
        }
        const before = stored || {total: 0, checkedIn: 0};
        this.tx.objectStore("counts").put({list: this.list, total: before.total + this.delta.total,
                                           checkedIn: before.checkedIn + this.delta.checkedIn});
    }
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

    /** Delete every downloaded list (records, search index and meta), keep the queue;
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

    /** A received record made ready for replaceList or mergeList while its download
     * streams (sync.js, keepReceived): its text, and what the write needs of it. */
    pack(received) {
        return packRecord(received);
    }

    /** Replace a list's records, search index and sync state at once: a reader never sees
     * half a list. people: the index entries ({position_id, name, email, order, company}),
     * none for a login that may not list attendees. Relaxed durability: a download lost to
     * a crash is downloaded again. */
    async replaceList(list, records, meta, people = []) {
        const tx = this.db.transaction(DOWNLOADS, "readwrite", {durability: "relaxed"});
        // The list starts empty: one record per owner (the last) is chosen here, without a
        // lookup per record (100,000 of them at a big event's first download).
        const last = new Map();
        for (const received of records) {
            const owner = ownerOf(received);
            last.set(hasOwner(owner) ? owner : received, received);
        }
        tx.objectStore("records").delete(listRange(list));
        tx.objectStore("positions").delete(listRange(list));
        writeList(tx, list, last.values(), people);
        tx.objectStore("meta").put({...meta, list});
        await done(tx);
    }

    /** Apply an incremental sync: removed hashes go (with their owner's index entry, unless a
     * record of this sync is the owner's new one), each record replaces its owner's old one. */
    async mergeList(list, records, removed, meta, people = []) {
        await this.change(list, {records, removed: removed || [], people, meta});
    }

    /** One readwrite transaction that reads the buckets it changes, step by step (a removed
     * record names its owner's bucket, an owner names its old record's), and writes them. */
    async change(list, {records = [], removed = [], people = [], meta = null}) {
        const tx = this.db.transaction(meta ? DOWNLOADS : ["records", "positions", "counts"], "readwrite");
        const finished = done(tx);
        try {
            const open = new OpenBuckets(tx, list);
            const incoming = records.map(storable);
            const [stored] = await Promise.all([
                promisify(tx.objectStore("counts").get(list)),
                open.load({
                    prefixes: [...removed, ...incoming.map((r) => r.code_hash)].map(prefixOf),
                    positions: [...incoming.map((r) => r.owner), ...people.map((p) => p.position_id)],
                }),
            ]);
            const arriving = new Set(incoming.map((r) => r.owner).filter(hasOwner));
            await open.load({positions: removed.map((hash) => (open.record(hash) || {}).owner)});
            for (const hash of removed) {
                const gone = open.record(hash);
                open.deleteRecord(hash);
                if (gone && hasOwner(gone.owner) && !arriving.has(gone.owner)) {
                    const bucket = open.position(gone.owner);
                    if (bucket.owners[gone.owner] === hash) {
                        delete bucket.owners[gone.owner];
                    }
                    delete bucket.people[gone.owner];
                }
            }
            await open.load({prefixes: incoming.map((r) => open.hashOf(r.owner)).filter(Boolean).map(prefixOf)});
            for (const record of incoming) {
                const old = open.hashOf(record.owner);
                if (hasOwner(record.owner) && old !== record.code_hash) {
                    if (old) {
                        open.deleteRecord(old);
                    }
                    // (a scan keeps its code: its position's bucket, search index and all, is not written again)
                    open.position(record.owner).owners[record.owner] = record.code_hash;
                }
                open.putRecord(record);
            }
            for (const person of people) {
                open.position(person.position_id).people[person.position_id] = indexEntry(person);
            }
            open.write(stored);
            if (meta) {
                tx.objectStore("meta").put({...meta, list});
            }
        } catch (e) {
            finished.catch(() => {});
            try {
                tx.abort();
            } catch (ignored) {
                // it ended already, with this error
            }
            throw e;
        }
        await finished;
    }

    async getAttendee(list, codeHash) {
        const tx = this.db.transaction("records");
        const bucket = await promisify(tx.objectStore("records").get([list, prefixOf(codeHash)]));
        const record = bucket ? unpacked(bucket.records[codeHash]) : null;
        return record ? {...record, list} : null;
    }

    async getByOwner(list, owner) {
        const tx = this.db.transaction(["records", "positions"]);
        const bucket = await promisify(tx.objectStore("positions").get([list, positionBucket(owner)]));
        const hash = bucket ? bucket.owners[owner] : null;
        if (!hash) {
            return null;
        }
        const records = await promisify(tx.objectStore("records").get([list, prefixOf(hash)]));
        const record = records ? unpacked(records.records[hash]) : null;
        return record ? {...record, list} : null;
    }

    /** Store one record (it replaces any other of the same owner on its list) and move the
     * list's counts by what it changed. */
    async putAttendee(record) {
        await this.change(record.list, {records: [record]});
    }

    async listAttendees(list) {
        const tx = this.db.transaction("records");
        const buckets = await promisify(tx.objectStore("records").getAll(listRange(list)));
        return buckets.flatMap((bucket) => Object.values(bucket.records)
            .map((record) => ({...unpacked(record), list})));
    }

    /** {total, checkedIn} of a list, without reading a record. */
    async counts(list) {
        const tx = this.db.transaction("counts");
        const stored = await promisify(tx.objectStore("counts").get(list));
        return stored ? {total: stored.total, checkedIn: stored.checkedIn} : {total: 0, checkedIn: 0};
    }

    /** Offline search over a list's search index: name, e-mail, order code or company.
     * Returns index entries by position id; the caller finds their records by owner. */
    async searchPeople(list, query, limit = 50) {
        const q = query.trim().toLowerCase();
        const tx = this.db.transaction("positions");
        const buckets = await promisify(tx.objectStore("positions").getAll(listRange(list)));
        const found = [];
        for (const bucket of buckets) {
            for (const person of Object.values(bucket.people)) {
                if (matches(person, q)) {
                    found.push({...person, list});
                }
            }
        }
        return found.sort((a, b) => a.position_id - b.position_id).slice(0, limit);
    }

    /** The index entry of a position on a list, or null (none without the index). */
    async getPerson(list, positionId) {
        const tx = this.db.transaction("positions");
        const bucket = await promisify(tx.objectStore("positions").get([list, positionBucket(positionId)]));
        const person = bucket ? bucket.people[positionId] : null;
        return person ? {...person, list} : null;
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

    /** An event's queued items of one owner on one list, oldest first. */
    async queueOfOwner(event, list, owner) {
        const tx = this.db.transaction("queue");
        return promisify(tx.objectStore("queue").index("owner").getAll(IDBKeyRange.only([event, list, owner])));
    }

    /** What the footer shows of an event's queue, oldest first, without reading the
     * pending items that are not failing: {queued (a count), failing, parked}. */
    async queueSummary(event) {
        const tx = this.db.transaction("queue");
        const queue = tx.objectStore("queue");
        const [queued, failing, ...parked] = await Promise.all([
            promisify(queue.index("state").count(IDBKeyRange.only([event, "pending"]))),
            promisify(queue.index("attempts").getAll(IDBKeyRange.bound([event, "pending", 1], [event, "pending", []]))),
            // parked: any state but pending and uploaded
            ...[[[event], [event, "pending"]], [[event, "pending"], [event, "uploaded"]], [[event, "uploaded"], [event, []]]]
                .map(([lower, upper]) => promisify(queue.index("state").getAll(IDBKeyRange.bound(lower, upper, true, true)))),
        ]);
        return {queued, failing, parked: parked.flat().sort((a, b) => a.seq - b.seq)};
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
