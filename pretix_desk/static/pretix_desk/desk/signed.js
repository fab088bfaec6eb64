/* Signed tickets (pretix_sig1) the download does not hold, e.g. sold after the last sync:
 * verified by their signature (sig1.js) and answered from the download head's "signed" part
 * (pretix_desk/desk/signed.py, docs/offline.rst "Signed tickets"). The server ships, per
 * product and variation, the steps of pretix's decision for a fresh ticket of it, on the
 * list's date and on another, and the codes pretix refuses whatever they say (revoked,
 * blocked); this module only picks them by the payload and fills in the ticket's own validity
 * window where the steps say ["window", "ticket"]. What a signature cannot tell (payment, a
 * cancellation that revoked nothing, entries at other desks) it does not guess: the answer
 * says the ticket was verified by its signature. */

import {codeHash} from "./hash.js";
import {parseSig1, prepareSig1, pythonB64decode, verifySig1} from "./sig1.js";

export const FORMAT = 1;

/** Whether a code says it is a pretix_sig1 code (its reversed base64 starts with version
 * 1): such a code that does not verify is an invalid ticket, not one the download misses. */
export function claimsSig1(code) {
    if (typeof code !== "string" || code.length < 8) {
        return false;
    }
    const head = pythonB64decode(code.slice(-4), true);  // as sig1.js reads the whole code
    return !!head && head[0] === 1;
}

/** The head's signed part as the store keeps it. An incremental download's brings only the
 * codes refused and released since its token (keys, products and dates are those of the
 * full download while the token holds): what is refused now is what was refused before,
 * with those refused since, less those released since. */
export function mergeSigned(kept, received) {
    if (!received || typeof received !== "object") {
        return null;
    }
    const refused = {...((kept && kept.refused) || {}), ...(received.refused || {})};
    for (const hash of received.released || []) {
        delete refused[hash];
    }
    return {...(kept || {}), ...received, refused, released: []};
}

/** Warm the verifier for a download's keys (the vendored one, where the browser has no
 * Ed25519, takes a few hundred ms to load): the first signed ticket at the door should not
 * wait for it, and an offline page could not load it at all. */
export function prepareSigned(signed) {
    if (signed && signed.v === FORMAT) {
        prepareSig1(signed.keys || []).catch(() => null);
    }
}

function both(steps) {
    return {entry: steps, exit: steps};
}

function withWindow(steps, ticket) {
    const from = ticket.validFrom ? ticket.validFrom.toISOString() : null;
    const until = ticket.validUntil ? ticket.validUntil.toISOString() : null;
    return (steps || []).flatMap((step) => (Array.isArray(step) && step[0] === "window" && step[1] === "ticket"
        ? (from || until ? [["window", from, until]] : [])
        : [step]));
}

/**
 * The record a scanned code is answered with when the download holds none: null when the
 * list's event has no signed codes or the code is none (then "not in the downloaded list");
 * else a record marked "signed", never stored, whose owner is its code's hash (so this
 * desk's queued scans of it count as entries) and whose steps say "invalid" for a code that
 * does not verify with the event's keys.
 * @param signed  the head's signed part, as the store keeps it (mergeSigned)
 * @param salt    the list's salt, by which the head names refused codes
 */
export async function signedRecord(signed, salt, code) {
    if (!signed || signed.v !== FORMAT || !claimsSig1(code)) {
        return null;
    }
    const hash = await codeHash(salt, code);
    const record = {signed: true, owner: "sig1:" + hash, code_hash: hash, line_items: [],
        attendee: {position_id: null, checked_in: false, checked_in_at: null}};
    const parsed = parseSig1(code);
    // pretix finds a ticket by its code exactly: another spelling of the same bytes is unknown
    if (!parsed || parsed.canonical !== code || !(await verifySig1(parsed, signed.keys || []))) {
        return {...record, ...both([["refuse", "invalid"]])};
    }
    const refusal = (signed.refused || {})[hash];
    const ticket = parsed.ticket;
    const kind = (signed.tickets || {})[`${ticket.item}-${ticket.variation}`];
    const date = ticket.subevent ? (signed.dates || {})[String(ticket.subevent)] || null : null;
    if (!kind) {
        // a product made after this download: its steps are not here
        return {...record, ...both([["server", "not_downloaded"]])};
    }
    const attendee = {...record.attendee, ...kind.attendee, subevent: date};
    if (refusal) {
        return {...record, attendee, ...both([["refuse", refusal]])};
    }
    const onDate = !signed.subevent || ticket.subevent === signed.subevent || !kind.other_date;
    const steps = onDate ? kind : kind.other_date;
    return {...record, attendee, entry: withWindow(steps.entry, ticket), exit: withWindow(steps.exit, ticket)};
}
