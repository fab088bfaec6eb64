/* Checking a ticket in, for a scanned code or a search result.
 *
 * Online the server decides, on the desk's lists (the primary one, then those it also scans
 * for: the first that admits the ticket checks it in) and at its gate. When pretix wants
 * check-in questions answered first ("incomplete"), the form asks them and the same scan,
 * with the same nonce, goes again with the answers; the server's messages about an answer
 * are shown at that question.
 *
 * Offline each chosen list's download answers, and the desk answers as the server would
 * pick: with the first list that admits the ticket, else with the primary list. The
 * questions of the record's "ask" step are asked the same way, and the scan is queued with
 * its nonce and answers for the list that admitted it, the other lists after it. A refusal
 * is queued too (pretix records it as a failed scan); "cannot verify" decided nothing and is
 * not. */

import {isAuthProblem} from "./api.js";
import {answerScanOffline, markAnswered, markCheckin, ownerOf, pickList} from "./offline.js";
import {unsupportedOf} from "./questions.js";
import {canDerive, findRecord, openRecord} from "./seal.js";
import {signedRecord} from "./signed.js";
import {fmt} from "./util.js";

/** What staff may choose after a refusal that offers it (the answer's "override"). */
export const OVERRIDES = ["ignore_unpaid", "force"];

/** What a scan sends besides the ticket: the lists after the primary one, and the gate. */
export function scanTarget(chosen, gate) {
    const extra = {};
    if (chosen.length > 1) {
        extra.other_lists = chosen.slice(1).map((l) => l.id);
    }
    if (gate) {
        extra.gate = gate;
    }
    return extra;
}

/** The messages of a 400 that names fields ({"gate": ["…"]}), as one line. */
function fieldMessages(data) {
    return Object.values(data || {}).flat().filter((m) => typeof m === "string").join(" ");
}

/** Ask the questions; resolves with the answers, or null after showing "not checked in". */
async function askQuestions(actions, {questions, attendee, values, errors, offline}) {
    const {ui, T} = actions.desk;
    const unsupported = unsupportedOf(questions);
    const shown = {attendee, offline};
    if (unsupported.length) {
        ui.showNotCheckedIn(shown, fmt(T.questions_unsupported, {questions: unsupported.map((q) => q.question).join(", ")}));
        actions.feedback("error");
        return null;
    }
    ui.showQuestions(shown);
    if (!errors) {
        actions.feedback("warn");
    }
    const answers = await actions.desk.questions.ask({questions, values: values || {}, errors: errors || {}});
    if (!answers) {
        ui.showNotCheckedIn(shown, T.questions_canceled);
        actions.feedback("error");
    }
    return answers;
}

/**
 * A scan of a code: the server, else the downloads.
 * @param body  the scan as sent: access_code, type, nonce, overrides, other_lists, gate
 * @param retry function(flags): the same scan again with an override
 */
export async function checkInCode(actions, {code, body, retry}) {
    const desk = actions.desk;
    const list = desk.lists.current;
    const startedAt = new Date().toISOString();
    let questions = null;
    let attendee = null;
    for (;;) {
        const response = await actions.ask(() => desk.lists.api(list.id).scan(body));
        if (!response) {
            if (!desk.store) {
                actions.showScan(code, {status: "no_connection"}, {offline: true, direction: body.type});
                return;
            }
            // A scan whose request timed out keeps its nonce: if the server did record it,
            // the upload is recognised and nothing counts twice.
            await checkInOffline(actions, {
                body: {...body, datetime: startedAt}, code, retry,
                // a signed ticket the download misses is verified by its signature (signed.js)
                find: async (l, meta) => (await findRecord(desk.store, l.id, meta, code))
                    || signedRecord(meta.signed, meta.salt, code),
                open: async (c) => openRecord(c.record, code, c.meta, await indexEntry(desk.store, c)),
            });
            return;
        }
        if (isAuthProblem(response.status)) {
            desk.ui.showResult("error", {title: desk.T.reason_error});
            actions.noteAuth(response.status);
            return;
        }
        const data = response.data || {};
        if (response.status === 400 && (data.status === "incomplete" || (data.answers && questions))) {
            if (data.status === "incomplete") {
                questions = data.questions || [];
                attendee = data.attendee || attendee;
            }
            const errors = data.status === "incomplete" ? null : data.answers;
            const answers = await askQuestions(actions, {questions, attendee, values: body.answers, errors});
            if (!answers) {
                return;
            }
            body = {...body, answers};
            desk.ui.showResult("working", {title: desk.T.working});
            continue;
        }
        if (response.status === 400 && !data.status) {
            desk.ui.showResult("error", {title: desk.T.reason_error, reason: fieldMessages(data)});
            actions.feedback("error");
            return;
        }
        actions.showScan(code, data, {offline: false, direction: body.type, retry});
        await actions.rememberAnswer((data.list && data.list.id) || list.id, {code}, data, {answers: body.answers});
        return;
    }
}

/** The search index's entry of a found record (only logins that may list attendees have
 * the index), or null. */
async function indexEntry(store, {list, meta, record}) {
    const position = record && record.attendee && record.attendee.position_id;
    if (!meta || !meta.search || !position || !store.getPerson) {
        return null;
    }
    return store.getPerson(list.id, position).catch(() => null);
}

/**
 * Answer from the downloads of the desk's lists and queue the check-in if they admit.
 * @param body  the scan (access_code or position_id, type, nonce, datetime, overrides,
 *              answers given so far)
 * @param find  async function(list, meta): the downloaded record on that list, or null
 * @param open  async function({list, meta, record}): the personal fields to show with the
 *              record (opened with the scanned code, or a search result's index entry);
 *              shown only, never stored
 * @param code  the scanned code (null for a search result: the card then has no hand-out)
 */
export async function checkInOffline(actions, {body, find, open = async () => ({}), code = null, retry = null}) {
    const desk = actions.desk;
    const candidates = [];
    for (const list of desk.lists.chosen) {
        const meta = await desk.store.getMeta(list.id);
        const record = meta ? await find(list, meta) : null;
        candidates.push({list, meta, record, queued: await actions.queued(list.id, record)});
    }
    const answerOn = (c, answers) => answerScanOffline({
        record: c.record, queued: c.queued, type: body.type, entries: c.meta ? c.meta.entries : null,
        now: new Date(body.datetime), overrides: OVERRIDES.filter((o) => body[o]), answers,
    });
    // The list the server would check the ticket in on: questions do not count for that.
    const c = candidates[candidates.length > 1 ? pickList(candidates.map((x) => answerOn(x, null))) : 0];
    let answer = answerOn(c, body.answers || {});
    if (!c.record && code && candidates.some((x) => x.meta && x.meta.seal && !canDerive(x.meta.seal))) {
        // Sealed records are found with WebCrypto, which plain http does not offer.
        answer = {status: "unverified", reason: "no_crypto"};
    }
    const shown = c.record ? {...c.record.attendee, ...(await open(c))} : null;
    while (answer.status === "incomplete") {
        const known = (c.meta && c.meta.questions) || {};
        const questions = answer.questions.map((id) => known[String(id)]);
        if (questions.some((q) => !q)) {
            answer = {status: "unverified", reason: "questions"};
            break;
        }
        const answers = await askQuestions(actions, {
            questions, attendee: shown, values: body.answers, offline: true,
        });
        if (!answers) {
            return;
        }
        body = {...body, answers: {...(body.answers || {}), ...answers}};
        answer = answerOn(c, body.answers);
    }
    const record = c.record;
    if (answer.status !== "ok") {
        if (answer.status === "error" && record) {
            await queueOffline(actions, {list: c.list, meta: c.meta, record, shown, body, answer});
            actions.onQueued();
        }
        const attendee = record ? {...shown, checked_in_at: answer.checked_in_at || record.attendee.checked_in_at} : null;
        actions.showScan(code, {...answer, attendee, line_items: record && record.line_items, list: c.list},
            {offline: true, direction: body.type, retry});
        return;
    }
    const others = candidates.filter((x) => x !== c).map((x) => x.list.id);
    await queueOffline(actions, {list: c.list, meta: c.meta, record, shown, body, answer, others});
    const updated = markAnswered(markCheckin(record, body.type, body.datetime), body.answers);
    if (!record.signed) {
        // (a signed ticket's own entries are its queued scans: it has no record to keep)
        await desk.store.putAttendee(updated);
        actions.onLocalChange(c.list.id);
    }
    actions.onQueued();
    actions.showScan(code, {status: "ok", attendee: {...shown, ...updated.attendee}, line_items: record.line_items,
        list: c.list}, {offline: true, direction: body.type});
    if (record.signed) {
        desk.ui.note(desk.T.signed_offline);
    }
    if (body.type !== "exit" && capacityApplies(c.meta, desk.prefs.gate)) {
        // Admitted, not guessed: only the server knows how many are inside.
        desk.ui.note(desk.T.capacity_unverified);
    }
}

/** Whether a capacity of the list applies to an entry at this desk's gate (door/capacity.py). */
export function capacityApplies(meta, gate) {
    return !!(meta && Array.isArray(meta.capacities)
        && meta.capacities.some((c) => c.gate === null || (gate && c.gate === gate)));
}

/** Queue what the desk answered offline, so that pretix records it as the door's fact
 * (docs/desk-api.rst, "offline"): an admission (for the list that admitted, the other lists
 * after it), or a refusal (a failed scan on the list that refused; its answers are not
 * sent, nothing is saved for a refused scan). sync_token says which download answered;
 * shown: the attendee as the card shows it (the name stays in this page's memory). */
async function queueOffline(actions, {list, meta, record, shown, body, answer, others = []}) {
    const desk = actions.desk;
    const queued = {...body};
    delete queued.other_lists;
    const offline = {answer: answer.status, sync_token: (meta && meta.sync_token) || null};
    if (answer.status === "error") {
        offline.reason = answer.reason || "error";
        delete queued.answers;
    } else if (others.length) {
        queued.other_lists = others;
    }
    queued.offline = offline;
    await desk.queue.add({
        kind: "scan", list: list.id, api: list.api, body: queued, owner: ownerOf(record),
        label: {name: (shown || record.attendee).name, product: desk.ui.productLabel(record.attendee)},
    });
}
