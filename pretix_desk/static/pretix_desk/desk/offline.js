/* Answers without the server. pretix decides admission; for every downloaded attendee the
 * server ships, per direction, the steps of that decision the desk cannot see for itself
 * (docs/offline.rst). This module only applies them, plus the three things a desk does see:
 * the clock, the entries made so far and the direction. It holds no admission rule of its
 * own: where the record does not settle a case, the answer is "cannot verify offline". */

/** Answer statuses: "ok" (admit), "error" (refuse with a reason), "unverified" (only the
 * server can decide, or the code is not in the downloaded list: never admitted). */

/** The position a record's code belongs to: the store keeps one record per owner. */
export function ownerOf(record) {
    if (record.owner !== undefined && record.owner !== null) {
        return record.owner;
    }
    return record.attendee ? record.attendee.position_id : null;
}

/** Apply a record's steps for one direction; returns an answer, or null when none decides.
 * overrides: what staff chose after a refusal that offers one (["ignore_unpaid"]): that
 * refusal is passed and the steps after it apply. "ask" steps (check-in questions) pass:
 * this desk sends questions_supported: false, and pretix then skips the questions too. */
export function applySteps(steps, now, overrides = []) {
    for (const step of steps || []) {
        const [kind, ...args] = Array.isArray(step) ? step : [];
        if (kind === "refuse") {
            const [reason, override] = args;
            if (override && overrides.includes(override)) {
                continue;
            }
            return override
                ? {status: "error", reason: reason || "error", override}
                : {status: "error", reason: reason || "error"};
        } else if (kind === "ask") {
            continue;
        } else if (kind === "window") {
            const [from, until] = args;
            if ((from && now < new Date(from)) || (until && now > new Date(until))) {
                return {status: "error", reason: "invalid_time"};
            }
        } else if (kind === "server") {
            return {status: "unverified", reason: args[0] || "server"};
        } else {
            // A step this page does not know (a newer server): do not guess.
            return {status: "unverified", reason: "server"};
        }
    }
    return null;
}

/** The entries so far: the record's state from the server plus this desk's scans of the same
 * owner that still wait for upload (oldest first). */
export function entriesSoFar(record, queued = []) {
    const attendee = record.attendee || {};
    const scans = queued.filter((q) => q.kind === "scan");
    const entries = scans.filter((q) => (q.body.type || "entry") === "entry");
    return {
        entered: !!attendee.checked_in || entries.length > 0,
        lastEntryAt: entries.length ? entries[entries.length - 1].body.datetime : (attendee.checked_in_at || null),
        last: scans.length ? (scans[scans.length - 1].body.type || "entry") : (record.last || null),
    };
}

/**
 * @param record   the downloaded record of the scanned code (or of the search result), or null
 * @param queued   this desk's scans of that owner waiting for upload, oldest first
 * @param type     "entry" or "exit"
 * @param entries  the list's settings from the preload head, {allow_multiple_entries,
 *                 allow_entry_after_exit}, or null when the server sent none
 * @param now      a Date
 * @param overrides  overrides staff chose for this scan (see applySteps)
 * @returns {status: "ok"} | {status: "error", reason, checked_in_at?} | {status: "unverified", reason}
 */
export function answerScanOffline({record, queued = [], type = "entry", entries = null, now = new Date(), overrides = []}) {
    if (!record) {
        return {status: "unverified", reason: "not_downloaded"};
    }
    const stepAnswer = applySteps(record[type === "exit" ? "exit" : "entry"], now, overrides);
    if (stepAnswer) {
        return stepAnswer;
    }
    if (type === "exit") {
        return {status: "ok"};
    }
    const so = entriesSoFar(record, queued);
    if (!so.entered) {
        return {status: "ok"};
    }
    if (!entries) {
        return {status: "unverified", reason: "entries"};
    }
    if (entries.allow_multiple_entries || (entries.allow_entry_after_exit && so.last === "exit")) {
        return {status: "ok"};
    }
    return {status: "error", reason: "already_redeemed", checked_in_at: so.lastEntryAt};
}

/** Hand-out of a line item without the server. */
export function answerRedeemOffline({record, lineItemId, queued = []}) {
    if (!record) {
        return {status: "unverified", reason: "not_downloaded"};
    }
    if (record.redeem) {
        return {status: "error", reason: record.redeem};
    }
    const item = (record.line_items || []).find((li) => li.line_item_id === lineItemId);
    if (!item || !item.redeemable) {
        return {status: "error", reason: "line_item"};
    }
    if (item.redeemed) {
        return {status: "error", reason: "already_redeemed", redeemed_at: item.redeemed_at};
    }
    const earlier = queued.find((q) => q.kind === "redeem" && q.body.line_item_id === lineItemId);
    if (earlier) {
        return {status: "error", reason: "already_redeemed", redeemed_at: earlier.body.datetime};
    }
    return {status: "redeemed"};
}

/** The record after a successful check-in in this direction (offline, or told by the server). */
export function markCheckin(record, type, datetime) {
    const attendee = type === "exit"
        ? record.attendee
        : {...record.attendee, checked_in: true, checked_in_at: datetime || record.attendee.checked_in_at};
    return {...record, attendee, last: type};
}

export function markRedeemed(record, lineItemId, datetime) {
    return {
        ...record,
        line_items: (record.line_items || []).map((li) => (
            li.line_item_id === lineItemId ? {...li, redeemed: true, redeemed_at: datetime} : li
        )),
    };
}
