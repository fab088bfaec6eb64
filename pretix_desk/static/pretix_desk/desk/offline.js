/* Answers without the server. pretix decides admission; for every downloaded attendee the
 * server ships, per direction, the steps of that decision the desk cannot see for itself
 * (docs/offline.rst). This module only applies them, plus the three things a desk does see:
 * the clock, the entries made so far and the direction (and the answers staff just gave to
 * the check-in questions an "ask" step names). It holds no admission rule of its
 * own: where the record does not settle a case, the answer is "cannot verify offline". */

/** Answer statuses: "ok" (admit), "error" (refuse with a reason), "unverified" (only the
 * server can decide, or the code is not in the downloaded list: never admitted),
 * "incomplete" (check-in questions to ask first). */

/** The position a record's code belongs to: the store keeps one record per owner. */
export function ownerOf(record) {
    if (record.owner !== undefined && record.owner !== null) {
        return record.owner;
    }
    return record.attendee ? record.attendee.position_id : null;
}

/** Apply a record's steps for one direction; returns an answer, or null when none decides.
 * overrides: what staff chose after a refusal that offers one (["ignore_unpaid"]): that
 * refusal is passed and the steps after it apply.
 * answered: ids of the check-in questions answered for this scan; an "ask" step with others
 * answers "incomplete" (pretix asks them before it looks at earlier entries). null passes
 * "ask" steps, as the server does when it picks which of several lists admits a ticket. */
export function applySteps(steps, now, overrides = [], answered = []) {
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
            const open = answered === null ? [] : (args[0] || []).filter((id) => !answered.includes(String(id)));
            if (open.length) {
                return {status: "incomplete", questions: open};
            }
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

/** A queued scan that records a refusal the desk answered offline: it let nobody in. */
export function isOfflineRefusal(item) {
    return !!(item.body && item.body.offline && item.body.offline.answer === "error");
}

/** The entries so far: the record's state from the server plus this desk's scans of the same
 * owner that still wait for upload (oldest first); refusals are no entries. */
export function entriesSoFar(record, queued = []) {
    const attendee = record.attendee || {};
    const scans = queued.filter((q) => q.kind === "scan" && !isOfflineRefusal(q));
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
 * @param answers  the answers to check-in questions given for this scan ({id: value}), or
 *                 null to pass the questions (see applySteps)
 * @returns {status: "ok"} | {status: "error", reason, checked_in_at?} | {status: "unverified", reason}
 *          | {status: "incomplete", questions: [id, ...]}
 */
export function answerScanOffline({record, queued = [], type = "entry", entries = null, now = new Date(), overrides = [],
    answers = {}}) {
    if (!record) {
        return {status: "unverified", reason: "not_downloaded"};
    }
    const answered = answers === null ? null : Object.keys(answers);
    const stepAnswer = applySteps(record[type === "exit" ? "exit" : "entry"], now, overrides, answered);
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

/** Several lists at one desk: the server checks a ticket in on the first list that admits
 * it, else answers with the first list (docs/desk-api.rst, other_lists). answers: each
 * list's offline answer, in the desk's order, worked out with the questions passed (as the
 * server picks the list). Returns the index of the list to answer with. */
export function pickList(answers) {
    const index = answers.findIndex((a) => a && a.status === "ok");
    return index < 0 ? 0 : index;
}

/** Whether pretix keeps an answer (it saves none for "", false, an empty choice). */
export function isAnswered(value) {
    return !(value === null || value === undefined || value === "" || value === false
        || (Array.isArray(value) && !value.length));
}

/** The record after this desk answered check-in questions offline: pretix does not ask
 * what it has an answer to, so the record's "ask" steps lose those questions. */
export function markAnswered(record, answers) {
    const done = Object.keys(answers || {}).filter((id) => isAnswered(answers[id]));
    if (!done.length || !Array.isArray(record.entry)) {
        return record;
    }
    const entry = record.entry
        .map((step) => (Array.isArray(step) && step[0] === "ask"
            ? ["ask", (step[1] || []).filter((id) => !done.includes(String(id)))]
            : step))
        .filter((step) => !(step[0] === "ask" && !step[1].length));
    return {...record, entry};
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
