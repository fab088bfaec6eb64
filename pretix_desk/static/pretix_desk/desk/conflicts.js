/* Conflicts: what the uploads of offline answers found out. pretix records what the door did
 * (docs/desk-api.rst, "offline" of scan/): an offline admission of a ticket that was used
 * elsewhere meanwhile, or whose order changed since the download, is recorded as a forced
 * check-in (or as a refused one where the download already said no), and a hand-out made
 * offline at two desks is refused the second time. The desk shows each one until staff
 * dismiss it. The desk that uploaded second learns of it from its upload's answer; the other
 * from the preload's "conflicts", which name its own upload (by nonce) among the check-ins.
 *
 * Both ways of learning of a check-in conflict give it the same key (the id of the check-in
 * recorded last), so it is shown once. A dismissed conflict stays as a tombstone for two
 * days: a full download names the conflicts of 24 hours, and must not bring it back.
 *
 * A stored conflict names nobody (docs/offline.rst, "Sealed records"): it keeps the position,
 * the product, the list and this desk's nonce; the name is shown while this page knows it
 * (names.js). */

import {SessionNames} from "./names.js";

export const CHANNEL_NAME = "pretix-desk-conflicts";
export const KEEP_DISMISSED_MS = 48 * 3600 * 1000;

/** What the page says about the other side of a conflict: when, and at which gate or device. */
function brief(checkin) {
    if (!checkin) {
        return null;
    }
    return {datetime: checkin.datetime || null, place: checkin.gate || checkin.device || null};
}

function labelName(item) {
    return (item && item.label && item.label.name) || null;
}

/** An entry as it is stored: names stay in this page's memory. */
function withoutName(entry) {
    const kept = {...entry};
    delete kept.name;
    return kept;
}

function labelProduct(item) {
    return (item && item.label && item.label.product) || null;
}

/**
 * A conflict from an upload's answer, or null when the answer reports none.
 * @param item  the queued item that was uploaded, as the page saw it (with its name if known)
 * @param data  the server's answer (an offline scan's "offline", or a hand-out's 409)
 * @param now   the time in ms
 */
export function conflictFromUpload(item, data, now) {
    const common = {
        event: item.event, list: (data.list && data.list.id) || item.list, name: labelName(item),
        position_id: item.owner, nonce: item.nonce, product: labelProduct(item),
        noted: new Date(now).toISOString(), dismissed: false,
    };
    if (item.kind === "redeem") {
        return {
            ...common, key: "redeem:" + item.nonce, role: "redeem", at: item.body.datetime,
            other: {datetime: data.redeemed_at || null, place: null},
        };
    }
    const conflict = data.offline && data.offline.conflict;
    if (!conflict) {
        return null;
    }
    const recorded = conflict.checkin || null;
    const other = (conflict.others || []).find((c) => !recorded || c.id !== recorded.id);
    return {
        ...common,
        key: recorded ? "checkin:" + recorded.id : "nonce:" + item.nonce,
        role: data.offline.recorded === "refused" ? "refused" : "forced",
        position_id: conflict.position_id || item.owner,
        at: (recorded && recorded.datetime) || item.body.datetime,
        reason: conflict.reason || null,
        reason_explanation: conflict.reason_explanation || null,
        other: brief(other),
    };
}

/**
 * The conflicts of a preload answer that concern this desk: those whose forced check-in, or
 * one of whose other check-ins, this desk uploaded.
 * @param raw       the answer's "conflicts"
 * @param uploaded  Map of nonce -> this desk's uploaded item
 */
export function conflictsFromPreload({event, list, raw, uploaded, now}) {
    const out = [];
    for (const conflict of raw || []) {
        const recorded = conflict && conflict.checkin;
        if (!recorded) {
            continue;
        }
        const others = conflict.others || [];
        const common = {
            event, list, position_id: conflict.position_id, key: "checkin:" + recorded.id,
            noted: new Date(now).toISOString(), dismissed: false, reason: conflict.reason || null,
        };
        const forcedHere = recorded.nonce && uploaded.get(recorded.nonce);
        const mine = others.find((c) => c.nonce && uploaded.has(c.nonce));
        if (forcedHere) {
            out.push({...common, role: "forced", nonce: forcedHere.nonce, product: labelProduct(forcedHere),
                at: recorded.datetime, other: brief(others.find((c) => c.id !== recorded.id))});
        } else if (mine) {
            // This desk admitted first; another desk's offline admission came later.
            const item = uploaded.get(mine.nonce);
            out.push({...common, role: "also", nonce: item.nonce, product: labelProduct(item), at: mine.datetime,
                other: brief(recorded)});
        }
    }
    return out;
}

/** When a conflict arose: when the later of its two sides happened. */
function arose(entry) {
    return Math.max(Date.parse(entry.at) || 0, (entry.other && Date.parse(entry.other.datetime)) || 0);
}

/** Newest first, then by key (a stable order). */
function newestFirst(a, b) {
    return arose(b) - arose(a) || String(b.key).localeCompare(String(a.key));
}

export class Conflicts {
    /**
     * @param store     a DeskStore (conflictAdd/conflictPut/conflictDelete/conflictAll, getByOwner)
     * @param event     the page's storage key
     * @param uploaded  async function(): this event's uploaded queue items
     * @param names     this page's memory of names (names.js)
     * @param channel   a BroadcastChannel shared by the tabs, or null
     */
    constructor({store, event, uploaded = async () => [], onChange = () => {}, channel = null, names = new SessionNames(),
        clock = () => Date.now()}) {
        this.store = store;
        this.event = event;
        this.names = names;
        this.uploaded = uploaded;
        this.onChange = onChange;
        this.channel = channel;
        this.clock = clock;
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

    /** Store new conflicts (known keys are left as they are), without their names: those
     * stay in this page's memory. */
    async add(entries) {
        let added = 0;
        for (const entry of entries) {
            this.names.learn({nonce: entry.nonce, position: entry.position_id, name: entry.name});
            added += (await this.store.conflictAdd(withoutName(entry))) ? 1 : 0;
        }
        if (added) {
            this.changed();
        }
        return added;
    }

    /** For the queue: an upload met a conflict. */
    fromUpload(item, data) {
        const entry = conflictFromUpload(item, data, this.clock());
        return entry ? this.add([entry]) : 0;
    }

    /** For the sync: the "conflicts" of a preload answer of a list. */
    async fromPreload(list, raw) {
        if (!raw || !raw.length) {
            return 0;
        }
        const uploaded = new Map((await this.uploaded()).map((item) => [item.nonce, item]));
        return this.add(conflictsFromPreload({event: this.event, list, raw, uploaded, now: this.clock()}));
    }

    async mine() {
        const entries = (await this.store.conflictAll()).filter((c) => c.event === this.event);
        for (const entry of entries) {
            // an earlier page's entry, until purge() takes the name out
            this.names.learn({nonce: entry.nonce, position: entry.position_id, name: entry.name});
        }
        return entries;
    }

    /** What the page lists: this event's conflicts not dismissed, newest first, with the
     * names this page knows, or else the search index holds (logins that may view orders). */
    async shown() {
        const entries = (await this.mine()).filter((c) => !c.dismissed).sort(newestFirst);
        return Promise.all(entries.map(async (c) => ({...c, name: this.names.of({nonce: c.nonce, position: c.position_id})
            || await this.indexedName(c)})));
    }

    async indexedName(entry) {
        if (!entry.position_id || !this.store.getPerson) {
            return null;
        }
        const person = await this.store.getPerson(entry.list, entry.position_id).catch(() => null);
        return (person && person.name) || null;
    }

    async dismiss(key) {
        const entry = (await this.mine()).find((c) => c.key === key);
        if (entry) {
            await this.store.conflictPut({...withoutName(entry), dismissed: true,
                dismissed_at: new Date(this.clock()).toISOString()});
        }
        this.changed();
    }

    /** Tombstones older than two days go; an earlier page's entry loses its name. */
    async purge() {
        const before = this.clock() - KEEP_DISMISSED_MS;
        for (const entry of await this.mine()) {
            if (entry.dismissed && !(Date.parse(entry.dismissed_at) > before)) {
                await this.store.conflictDelete(entry.key);
            } else if ("name" in entry) {
                await this.store.conflictPut(withoutName(entry));
            }
        }
    }
}
