/* Sealed records (docs/offline.rst, "Sealed records"): a downloaded record's personal fields
 * are sealed with a key derived from its ticket's own code, so only a scan of that code
 * finds and opens them. From the code and the download's head, WebCrypto derives what the
 * server derived (pretix_desk/desk/sealing.py):
 *
 *   master  PBKDF2-HMAC-SHA256(code, seal.salt, seal.iterations), 32 bytes
 *   lookup  HKDF-SHA256(master, info "pretix-desk lookup v1:" + the list's salt), 16 bytes
 *           as hex: the record's code_hash on that list
 *   key     HKDF-SHA256(master, info "pretix-desk seal v1"): AES-256-GCM, the record's
 *           code_hash as additional data
 *
 * The PBKDF2 is slow on purpose. Its result is kept per code in this page's memory only,
 * so a code scanned again (or looked up again after its online answer) costs no second
 * one; nothing derived is ever stored. */

import {codeHash} from "./hash.js";
import {personShown} from "./sync.js";

const LOOKUP_INFO = "pretix-desk lookup v1:";
const SEAL_INFO = "pretix-desk seal v1";
/** The sealed JSON's keys and the attendee fields they stand for. */
export const PERSONAL = {n: "name", e: "email", c: "company", o: "order", t: "checkin_texts", a: "shown_answers"};
/** Codes whose derivation is kept: a desk's recent scans, bounded for a long day. */
export const KEEP = 1000;

const masters = new Map();

function defaultSubtle() {
    return (globalThis.crypto && globalThis.crypto.subtle) || null;
}

function utf8(text) {
    return new TextEncoder().encode(String(text));
}

function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** base64url without padding, as the server writes it, to bytes. */
export function fromBase64url(text) {
    const b64 = String(text).replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Whether this page can derive a head's keys: SubtleCrypto exists only in secure contexts
 * (https, localhost), and a head of another version is not guessed at. */
export function canDerive(seal, subtle = defaultSubtle()) {
    return !!(subtle && seal && seal.v === 1 && seal.kdf === "PBKDF2-SHA256" && typeof seal.salt === "string"
        && Number.isInteger(seal.iterations) && seal.iterations > 0);
}

async function deriveMaster(code, seal, subtle) {
    const password = await subtle.importKey("raw", utf8(code), "PBKDF2", false, ["deriveBits"]);
    const bits = await subtle.deriveBits(
        {name: "PBKDF2", hash: "SHA-256", salt: utf8(seal.salt), iterations: seal.iterations}, password, 256);
    return subtle.importKey("raw", bits, "HKDF", false, ["deriveBits", "deriveKey"]);
}

/** The code's master as an HKDF key: derived once per code and head. */
function masterOf(code, seal, subtle) {
    const id = JSON.stringify([seal.salt, seal.iterations, String(code)]);
    let master = masters.get(id);
    if (!master) {
        master = deriveMaster(code, seal, subtle);
        master.catch(() => masters.delete(id));
        masters.set(id, master);
        if (masters.size > KEEP) {
            masters.delete(masters.keys().next().value);
        }
    }
    return master;
}

function hkdf(info) {
    // An empty salt is HMAC's key of zeros: what the server's HKDF uses without a salt.
    return {name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8(info)};
}

/** The code_hash of a sealed record of this code on a list with the salt listSalt. */
export async function lookupId(code, seal, listSalt, subtle = defaultSubtle()) {
    const master = await masterOf(code, seal, subtle);
    return hex(await subtle.deriveBits(hkdf(LOOKUP_INFO + listSalt), master, 128));
}

/** The sealed JSON of a record, opened with the code; rejects when it does not open (another
 * code, another record's code_hash, altered bytes). */
export async function openSealed(code, seal, lookup, sealed, subtle = defaultSubtle()) {
    const master = await masterOf(code, seal, subtle);
    const key = await subtle.deriveKey(hkdf(SEAL_INFO), master, {name: "AES-GCM", length: 256}, false, ["decrypt"]);
    const raw = fromBase64url(sealed);
    const plain = await subtle.decrypt(
        {name: "AES-GCM", iv: raw.slice(0, 12), additionalData: utf8(lookup)}, key, raw.slice(12));
    return JSON.parse(new TextDecoder().decode(plain));
}

/** The sealed JSON's content under the attendee's field names. */
export function personalFields(opened) {
    const fields = {};
    for (const [short, field] of Object.entries(PERSONAL)) {
        if (opened && opened[short] !== undefined) {
            fields[field] = opened[short];
        }
    }
    return fields;
}

/** The downloaded record of a scanned code on a list (meta: what the store keeps of the
 * list's download), or null. A record without personal data is found by the plain hash
 * (no PBKDF2 needed), a sealed one by its lookup id. */
export async function findRecord(store, listId, meta, code) {
    const plain = await store.getAttendee(listId, await codeHash(meta.salt, code));
    if (plain || !canDerive(meta.seal)) {
        return plain;
    }
    return store.getAttendee(listId, await lookupId(code, meta.seal, meta.salt));
}

/** The personal fields of a record found by this code (attendee field names), to show and
 * never to store: the search index's entry (person, for logins that have the index; the
 * server does not seal what it shows a second time), then what the record's own seal
 * holds; {} for a record that has none, or that does not open. */
export async function openRecord(record, code, meta, person = null) {
    const indexed = person ? Object.fromEntries(Object.entries(personShown(person)).filter(([, value]) => value)) : {};
    if (!record || typeof record.sealed !== "string" || record.sealed === "" || !meta || !canDerive(meta.seal)) {
        return indexed;
    }
    try {
        return {...indexed, ...personalFields(await openSealed(code, meta.seal, record.code_hash, record.sealed))};
    } catch (e) {
        console.error("A downloaded record does not open with its code", e);
        return indexed;
    }
}
