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
 * days: a full download names the conflicts of 24 hours, and must not bring it back. */

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

/**
 * A conflict from an upload's answer, or null when the answer reports none.
 * @param item  the queued item that was uploaded
 * @param data  the server's answer (an offline scan's "offline", or a hand-out's 409)
 * @param now   the time in ms
 */
export function conflictFromUpload(item, data, now) {
    const common = {
        event: item.event, list: (data.list && data.list.id) || item.list, name: labelName(item),
        position_id: item.owner, noted: new Date(now).toISOString(), dismissed: false,
    };
    if (item.kind === "redeem") {
        return {
            ...common, key: "redeem:" + item.nonce, role: "redeem", at: item.body.datetime,
            product: (item.label && item.label.product) || null, other: {datetime: data.redeemed_at || null, place: null},
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
            out.push({...common, role: "forced", name: labelName(forcedHere), at: recorded.datetime,
                other: brief(others.find((c) => c.id !== recorded.id))});
        } else if (mine) {
            // This desk admitted first; another desk's offline admission came later.
            out.push({...common, role: "also", name: labelName(uploaded.get(mine.nonce)), at: mine.datetime,
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
     * @param channel   a BroadcastChannel shared by the tabs, or null
     */
    constructor({store, event, uploaded = async () => [], onChange = () => {}, channel = null, clock = () => Date.now()}) {
        this.store = store;
        this.event = event;
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

    /** Store new conflicts (known keys are left as they are); a missing name comes from the
     * downloaded record of the position. */
    async add(entries) {
        let added = 0;
        for (const entry of entries) {
            if (!entry.name && entry.position_id) {
                const record = await this.store.getByOwner(entry.list, entry.position_id).catch(() => null);
                entry.name = (record && record.attendee && record.attendee.name) || null;
            }
            added += (await this.store.conflictAdd(entry)) ? 1 : 0;
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
        return (await this.store.conflictAll()).filter((c) => c.event === this.event);
    }

    /** What the page lists: this event's conflicts not dismissed, newest first. */
    async shown() {
        return (await this.mine()).filter((c) => !c.dismissed).sort(newestFirst);
    }

    async dismiss(key) {
        const entry = (await this.mine()).find((c) => c.key === key);
        if (entry) {
            await this.store.conflictPut({...entry, dismissed: true, dismissed_at: new Date(this.clock()).toISOString()});
        }
        this.changed();
    }

    /** Tombstones older than two days go. */
    async purge() {
        const before = this.clock() - KEEP_DISMISSED_MS;
        for (const entry of await this.mine()) {
            if (entry.dismissed && !(Date.parse(entry.dismissed_at) > before)) {
                await this.store.conflictDelete(entry.key);
            }
        }
    }
}
