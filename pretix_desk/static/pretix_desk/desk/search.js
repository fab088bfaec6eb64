/* Finding someone who lost their ticket: the server's search (results carry the access
 * code, "Check in" scans it), or offline the downloaded list (results carry the record;
 * "Check in" applies its offline steps and queues a scan by position: the store holds no
 * codes). */

import {isAuthProblem} from "./api.js";
import {ownerOf} from "./offline.js";
import {newNonce} from "./util.js";

export async function search(actions, query) {
    const {lists, ui, cards} = actions.desk;
    const list = lists.current;
    if (!list) {
        actions.needList();
        return;
    }
    if (query.length < 3) {
        ui.note(actions.T.search_short);
        return;
    }
    try {
        const response = await actions.ask(() => lists.api(list.id).search(query));
        if (response) {
            if (response.status === 200) {
                const raw = Array.isArray(response.data) ? response.data : (response.data.results || []);
                const hits = raw.map((r) => (r.attendee ? r : {attendee: r, access_code: r.access_code}));
                cards.showResults(hits, {onCheckIn: (hit) => actions.scan(hit.access_code, {source: "manual"})});
            } else if (isAuthProblem(response.status)) {
                actions.noteAuth(response.status);
            } else {
                ui.note((response.data && (response.data.detail || response.data.q)) || actions.T.reason_error);
            }
            return;
        }
        const records = actions.desk.store ? await actions.desk.store.search(list.id, query) : [];
        cards.showResults(records.map((record) => ({attendee: record.attendee, record})), {
            offline: true,
            onCheckIn: (hit) => checkInRecord(actions, list, hit.record),
        });
    } catch (e) {
        actions.failed(e);
    }
}

/** "Check in" on an offline search result: the store holds no codes, so the queued scan
 * names the position instead (the scan endpoint accepts position_id). */
export async function checkInRecord(actions, list, record, {flags = {}} = {}) {
    try {
        const store = actions.desk.store;
        const meta = store ? await store.getMeta(list.id) : null;
        // The record as stored now (an earlier click may have changed it).
        const current = (store && await store.getByOwner(list.id, ownerOf(record))) || record;
        const body = {
            position_id: current.attendee.position_id, type: actions.desk.prefs.direction,
            nonce: newNonce(), datetime: new Date().toISOString(), questions_supported: false, ...flags,
        };
        actions.desk.cards.hideResults();
        const retry = (override) => checkInRecord(actions, list, current, {flags: override});
        await actions.checkInOffline(list, {meta, record: current, body, retry});
    } catch (e) {
        actions.failed(e);
    }
}
