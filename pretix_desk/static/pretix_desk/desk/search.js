/* Finding someone who lost their ticket, on every list the desk scans against: the server's
 * search (results carry the access code, "Check in" scans it), or offline the downloaded
 * search index (results carry the index entry and the record; "Check in" applies its offline
 * steps and queues a scan by position: the store holds no codes). Online a result can also
 * print its badge. The index is downloaded only by logins that may view orders; for the
 * others the page says that offline search is not available, and why. */

import {isAuthProblem} from "./api.js";
import {checkInOffline, scanTarget} from "./checkin.js";
import {ownerOf} from "./offline.js";
import {personShown} from "./sync.js";
import {newNonce} from "./util.js";

/** One hit per person, the first list's first. */
function unique(hits) {
    const seen = new Set();
    return hits.filter((hit) => {
        const id = hit.attendee && hit.attendee.position_id;
        if (id === undefined || id === null) {
            return true;
        }
        if (seen.has(id)) {
            return false;
        }
        seen.add(id);
        return true;
    });
}

/** Whether the desk may search a list offline: its download says whether it has the index;
 * before the first download, the page's configuration says whether it will. */
export function searchableOffline(meta, config) {
    return meta ? meta.search === true : !(config && config.may_list === false);
}

/** Offline search hits ({attendee, record, person, listId}) of the chosen lists, or null
 * when none of them may be searched offline. */
async function searchOffline(desk, chosen, query) {
    const {store, config} = desk;
    const found = [];
    let searchable = false;
    for (const list of chosen) {
        const meta = store ? await store.getMeta(list.id) : null;
        if (!searchableOffline(meta, config)) {
            continue;
        }
        searchable = true;
        for (const person of store ? await store.searchPeople(list.id, query) : []) {
            const record = await store.getByOwner(list.id, person.position_id);
            if (record) {
                found.push({attendee: {...record.attendee, ...personShown(person)}, record, person, listId: list.id});
            }
        }
    }
    return searchable ? found : null;
}

export async function search(actions, query) {
    const {lists, ui, cards} = actions.desk;
    if (!lists.current) {
        actions.needList();
        return;
    }
    if (query.length < 3) {
        ui.note(actions.T.search_short);
        return;
    }
    try {
        const chosen = lists.chosen;
        const responses = [];
        for (const list of chosen) {
            const response = await actions.ask(() => lists.api(list.id).search(query));
            if (!response) {
                break;
            }
            responses.push([list, response]);
        }
        if (responses.length === chosen.length) {
            const refused = responses.find(([, r]) => r.status !== 200);
            if (refused) {
                const [, response] = refused;
                if (isAuthProblem(response.status)) {
                    actions.noteAuth(response.status);
                } else {
                    ui.note((response.data && (response.data.detail || response.data.q)) || actions.T.reason_error);
                }
                return;
            }
            const hits = responses.flatMap(([list, response]) => {
                const raw = Array.isArray(response.data) ? response.data : (response.data.results || []);
                return raw.map((r) => ({...(r.attendee ? r : {attendee: r, access_code: r.access_code}), listId: list.id}));
            });
            const badges = actions.desk.badges.mode !== "off";
            cards.showResults(unique(hits), {
                onCheckIn: (hit) => actions.scan(hit.access_code, {source: "manual"}),
                onPrintBadge: badges ? (hit) => actions.printFromHit(hit) : null,
            });
            return;
        }
        const found = await searchOffline(actions.desk, chosen, query);
        if (!found) {
            cards.showSearchUnavailable(actions.T.search_offline_unavailable);
            return;
        }
        cards.showResults(unique(found), {
            offline: true,
            onCheckIn: (hit) => actions.checkInRecord(hit.record, {person: hit.person}),
        });
    } catch (e) {
        actions.failed(e);
    }
}

/** "Check in" on an offline search result: the store holds no codes, so the queued scan
 * names the position instead (the scan endpoint accepts position_id). */
export async function checkInRecord(actions, record, {flags = {}, person = null} = {}) {
    const desk = actions.desk;
    if (!desk.lists.current) {
        actions.needList();
        return;
    }
    if (desk.questions.isOpen) {
        desk.ui.note(actions.T.questions_open);
        return;
    }
    try {
        const owner = ownerOf(record);
        const body = {
            position_id: record.attendee.position_id, type: desk.prefs.direction,
            nonce: newNonce(), datetime: new Date().toISOString(),
            ...scanTarget(desk.lists.chosen, desk.prefs.gate), ...flags,
        };
        desk.cards.hideResults();
        const retry = (override) => checkInRecord(actions, record, {flags: override, person});
        // The record as stored now on each list (an earlier click may have changed it); the
        // name and the rest from the search index.
        await checkInOffline(actions, {
            body, retry, find: (list) => desk.store.getByOwner(list.id, owner),
            open: async () => (person ? personShown(person) : {}),
        });
    } catch (e) {
        actions.failed(e);
    }
}

/** "Print badge" on a search result: the server's lookup names the badge (and fills the
 * card, so staff see whom it is for). */
export async function printFromHit(actions, hit) {
    const {lists, ui, badges} = actions.desk;
    try {
        const listId = lists.has(hit.listId) ? hit.listId : lists.currentId;
        const api = lists.api(listId);
        const response = await actions.ask(() => api.lookup(hit.access_code));
        if (!response) {
            ui.note(actions.T.badge_needs_connection);
            return;
        }
        if (response.status !== 200 || !response.data) {
            ui.note(isAuthProblem(response.status) ? actions.T.forbidden : actions.T.badge_failed);
            return;
        }
        actions.showLookup(hit.access_code, response.data, listId);
        const print = badges.buttonFor(response.data.badge);
        if (print) {
            await print();
        } else {
            ui.note(actions.T.badge_none);
        }
    } catch (e) {
        actions.failed(e);
    }
}
