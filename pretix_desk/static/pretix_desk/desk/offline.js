/* Answers without the server, from the preloaded list and what this desk queued since.
 * The rules imitate pretix's check-in decision for the cases a preload can know about; the
 * server has the last word when the queue is uploaded. */

/**
 * @param record   the preloaded record of the scanned code, or null
 * @param queued   this desk's queued scans of that code (pending upload), oldest first
 * @param type     "entry" or "exit"
 * @param list     {allow_multiple_entries, allow_entry_after_exit}
 * @returns {status: "ok"} or {status: "error", reason, checked_in_at?}
 */
export function answerScanOffline({record, queued = [], type = "entry", list = {}}) {
    if (!record) {
        return {status: "error", reason: "invalid"};
    }
    if (type === "exit" || list.allow_multiple_entries) {
        return {status: "ok"};
    }
    const local = queued.filter((q) => q.kind === "scan");
    const lastLocal = local.length ? local[local.length - 1] : null;
    const entryLocal = local.filter((q) => (q.body.type || "entry") === "entry");
    const checkedInAt = entryLocal.length
        ? entryLocal[entryLocal.length - 1].body.datetime
        : (record.attendee && record.attendee.checked_in ? record.attendee.checked_in_at : null);
    if (!checkedInAt && !(record.attendee && record.attendee.checked_in)) {
        return {status: "ok"};
    }
    if (list.allow_entry_after_exit && lastLocal && lastLocal.body.type === "exit") {
        return {status: "ok"};
    }
    return {status: "error", reason: "already_redeemed", checked_in_at: checkedInAt};
}

/** Hand-out of a line item without the server. */
export function answerRedeemOffline({record, lineItemId, queued = []}) {
    if (!record) {
        return {status: "error", reason: "invalid"};
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

/** The record after this desk admitted the attendee offline (for counters and re-scans). */
export function markCheckedIn(record, datetime) {
    return {
        ...record,
        attendee: {...record.attendee, checked_in: true, checked_in_at: record.attendee.checked_in_at || datetime},
    };
}

export function markRedeemed(record, lineItemId, datetime) {
    return {
        ...record,
        line_items: (record.line_items || []).map((li) => (
            li.line_item_id === lineItemId ? {...li, redeemed: true, redeemed_at: datetime} : li
        )),
    };
}
