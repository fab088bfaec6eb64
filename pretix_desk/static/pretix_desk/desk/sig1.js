/* Signed ticket codes (pretix's "pretix_sig1" secret generator) read and checked on the device,
 * so a desk that has no copy of a ticket (sold after the last download) can still tell a real
 * one offline. Mirrors pretix.base.secrets.Sig1TicketSecretGenerator._parse: the code is the
 * REVERSED base64 of
 *     [0x01][payload length, 2 bytes BE][signature length, 2 bytes BE][payload][signature]
 * where the payload is the protobuf message Ticket of pretix_sig1.proto and the signature is
 * Ed25519 over the payload. Both lengths are read in full (16 bits); libpretixsync reads only
 * their low byte, which holds until a payload reaches 256 bytes.
 *
 * What parses here is what pretix could accept, and every code pretix accepts parses, except
 * for what pretix never writes: protobuf groups, ids outside 0..2^53-1, times outside Date's
 * range and codes longer than MAX_CODE_LENGTH. */

/** Longer input is refused unread: longer than any code the 16-bit framing allows (87,472
 * characters with the longest payload) and far more than a QR code holds (2,953 bytes).
 * pretix's own codes are about 200 characters. */
export const MAX_CODE_LENGTH = 100000;

const SIGNATURE_LENGTH = 64;
const MAX_ID = BigInt(Number.MAX_SAFE_INTEGER);
/** Date's range, in seconds either side of 1970 (±100,000,000 days). */
const MAX_SECONDS = 8640000000000n;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const SIXBITS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
    SIXBITS[ALPHABET.charCodeAt(i)] = i;
}

/** Python's base64.b64decode(text) as pretix calls it (validate=False), so that every code pretix
 * reads reads the same here: only ASCII; characters outside the alphabet are skipped; a
 * complete padding ends the data and whatever follows is ignored; leftover bits are dropped;
 * data that does not end on a group of four (after padding) is an error. Reads `text`
 * backwards when `reversed`, which saves a copy of every scanned code. Null on error. */
export function pythonB64decode(text, reversed = false) {
    if (/[^\x00-\x7f]/.test(text)) {
        return null;
    }
    const out = new Uint8Array(Math.ceil(text.length * 3 / 4));
    let length = 0;
    let quad = 0;
    let left = 0;
    let pads = 0;
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(reversed ? text.length - 1 - i : i);
        if (c === 61) { // "=": counts only where it can complete a group of four
            if (quad >= 2 && quad + ++pads >= 4) {
                return out.subarray(0, length);
            }
            continue;
        }
        const v = SIXBITS[c];
        if (v < 0) {
            continue;
        }
        pads = 0;
        if (quad === 0) {
            left = v;
        } else if (quad === 1) {
            out[length++] = (left << 2) | (v >> 4);
            left = v & 0x0f;
        } else if (quad === 2) {
            out[length++] = ((left << 4) | (v >> 2)) & 0xff;
            left = v & 0x03;
        } else {
            out[length++] = ((left << 6) | v) & 0xff;
        }
        quad = (quad + 1) % 4;
    }
    return quad === 0 ? out.subarray(0, length) : null;
}

function b64encode(bytes) {
    let binary = "";
    for (const byte of bytes) {
        binary += String.fromCharCode(byte);
    }
    return btoa(binary);
}

const UTF8 = new TextDecoder("utf-8", {fatal: true, ignoreBOM: true});

/** A varint of at most `max` bytes at `pos`: [value, next position], or null where the bytes
 * run out or it goes on longer. The value is not truncated (the caller decides). */
function varint(bytes, pos, end, max) {
    let value = 0n;
    for (let i = 0; i < max && pos + i < end; i++) {
        const byte = bytes[pos + i];
        value |= BigInt(byte & 0x7f) << BigInt(7 * i);
        if (byte < 0x80) {
            return [value, pos + i + 1];
        }
    }
    return null;
}

/** The Ticket message as protobuf (upb, which pretix uses) reads it: the last occurrence of
 * a field wins; a field with an unexpected wire type counts as unknown; unknown fields of wire
 * types 0, 1, 2 and 5 are skipped; a tag takes at most 5 bytes and 32 bits, a length at most
 * 5 bytes, a value at most 10 bytes, of which the low 64 bits count; the seed must be valid
 * UTF-8. Groups (wire types 3, 4) are refused, as are 6 and 7. Null on error. */
function decodeTicket(bytes) {
    const end = bytes.length;
    const values = [null, "", 0n, 0n, 0n, 0n, 0n];
    let pos = 0;
    while (pos < end) {
        const tag = varint(bytes, pos, end, 5);
        if (!tag || tag[0] > 0xffffffffn || tag[0] < 8n) {
            return null; // field number 0 is not a field
        }
        const field = tag[0] >> 3n;
        const wire = Number(tag[0] & 7n);
        pos = tag[1];
        if (wire === 0) {
            const value = varint(bytes, pos, end, 10);
            if (!value) {
                return null;
            }
            if (field >= 2n && field <= 6n) {
                values[Number(field)] = BigInt.asIntN(64, value[0]);
            }
            pos = value[1];
        } else if (wire === 2) {
            const size = varint(bytes, pos, end, 5);
            if (!size || size[0] > BigInt(end - size[1])) {
                return null;
            }
            pos = size[1] + Number(size[0]);
            if (field === 1n) {
                try {
                    values[1] = UTF8.decode(bytes.subarray(size[1], pos));
                } catch (e) {
                    return null;
                }
            }
        } else if (wire === 1 || wire === 5) {
            pos += wire === 1 ? 8 : 4;
            if (pos > end) {
                return null;
            }
        } else {
            return null;
        }
    }
    const [, seed, item, variation, subevent, validFrom, validUntil] = values;
    const id = (v) => (v >= 0n && v <= MAX_ID ? Number(v) : null);
    const time = (v) => (v === 0n ? null : new Date(Number(v) * 1000));
    const ids = [id(item), id(variation), id(subevent)];
    if (ids.includes(null) || [validFrom, validUntil].some((v) => v > MAX_SECONDS || v < -MAX_SECONDS)) {
        return null;
    }
    return {seed, item: ids[0], variation: ids[1], subevent: ids[2], validFrom: time(validFrom), validUntil: time(validUntil)};
}

/** A pretix_sig1 code read without checking its signature, or null where it is none: never
 * throws. Returns {payload, signature, ticket: {seed, item, variation, subevent, validFrom,
 * validUntil}, canonical}.
 * - item, variation, subevent: pretix's database ids as numbers, 0 for none (as pretix writes);
 *   a code with a negative id or one above Number.MAX_SAFE_INTEGER is refused (no row has it).
 * - validFrom, validUntil: Date (an instant; pretix writes Unix seconds) or null for 0 or
 *   absent; outside Date's range (±275,760 years) the code is refused.
 * - Like pretix's slicing: bytes after the signature are ignored, and a signature length that
 *   runs past the end is cut there; what remains must be the 64 bytes of an Ed25519 signature
 *   (pretix accepts nothing else). A payload cut short is refused.
 * - canonical: the code as pretix writes this ticket. Several strings read as one ticket
 *   (pretix skips stray characters, and ignores trailing bytes and leftover bits), so compare
 *   this, not the scanned text, with lists of codes such as pretix's revoked secrets. */
export function parseSig1(code) {
    try {
        if (typeof code !== "string" || code.length > MAX_CODE_LENGTH) {
            return null;
        }
        const bytes = pythonB64decode(code, true);
        if (!bytes || bytes.length < 5 || bytes[0] !== 1) {
            return null;
        }
        const payloadEnd = 5 + ((bytes[1] << 8) | bytes[2]);
        const signatureEnd = Math.min(payloadEnd + ((bytes[3] << 8) | bytes[4]), bytes.length);
        if (payloadEnd > bytes.length || signatureEnd - payloadEnd !== SIGNATURE_LENGTH) {
            return null;
        }
        const payload = bytes.slice(5, payloadEnd);
        const signature = bytes.slice(payloadEnd, signatureEnd);
        const ticket = decodeTicket(payload);
        if (!ticket) {
            return null;
        }
        const framed = bytes.slice(0, signatureEnd);
        framed[3] = 0;
        framed[4] = SIGNATURE_LENGTH;
        const canonical = b64encode(framed).split("").reverse().join("");
        return {payload, signature, ticket, canonical};
    } catch (e) {
        return null; // not expected; a scanned code must never break the desk
    }
}

// --- Ed25519 ---

/** DER of an Ed25519 SubjectPublicKeyInfo up to the 32 key bytes (RFC 8410). */
const SPKI_PREFIX = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const fromHex = (hex) => new Uint8Array(hex.match(/../g).map((byte) => parseInt(byte, 16)));
/** RFC 8032's first test vector (empty message). Its key tells whether WebCrypto has Ed25519
 * (Chrome 137, Firefox 129, Safari 17 and later); prepareSig1 checks the chosen backend on it. */
const PROBE_KEY = new Uint8Array([...SPKI_PREFIX, ...fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")]);
const PROBE_SIGNATURE = fromHex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    + "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
const PROBE_PEM = btoa("-----BEGIN PUBLIC KEY-----\n" + b64encode(PROBE_KEY) + "\n-----END PUBLIC KEY-----\n");
const ED25519 = {name: "Ed25519"};

/** The raw key of one entry of pretix's valid_keys.pretix_sig1 (base64 of a PEM
 * SubjectPublicKeyInfo), or null where it is not an Ed25519 public key. */
function keyBytes(key) {
    if (typeof key !== "string" || key.length > 4096) {
        return null;
    }
    const pem = pythonB64decode(key);
    if (!pem) {
        return null;
    }
    const text = String.fromCharCode(...pem);
    const match = /-----BEGIN PUBLIC KEY-----([^-]*)-----END PUBLIC KEY-----/.exec(text);
    const der = match && pythonB64decode(match[1]);
    if (!der || der.length !== SPKI_PREFIX.length + 32 || SPKI_PREFIX.some((b, i) => der[i] !== b)) {
        return null;
    }
    return der;
}

const backends = new WeakMap();

/** "webcrypto" where `subtle` (the browser's by default) verifies Ed25519, else "vendored". */
export function ed25519Backend(subtle = globalThis.crypto && globalThis.crypto.subtle) {
    if (!subtle || typeof subtle !== "object") {
        return Promise.resolve("vendored");
    }
    if (!backends.has(subtle)) {
        backends.set(subtle, Promise.resolve()
            .then(() => subtle.importKey("spki", PROBE_KEY, ED25519, false, ["verify"]))
            .then(() => "webcrypto", () => "vendored"));
    }
    return backends.get(subtle);
}

let vendored = null;

/** @noble/ed25519 with @noble/hashes' SHA-512 (vendor/README), loaded on first use only: its
 * asynchronous verify would hash with SubtleCrypto, which is just what may be missing. */
function loadVendored() {
    if (!vendored) {
        vendored = Promise.all([import("./vendor/noble-ed25519/index.js"), import("./vendor/noble-hashes/sha2.js")])
            .then(([ed, sha2]) => {
                ed.hashes.sha512 = sha2.sha512;
                return ed;
            });
        vendored.catch(() => {
            vendored = null; // offline before it was ever cached: try again next time
        });
    }
    return vendored;
}

/** Imported keys by backend and key text: a scan should not parse PEM. Few keys ever exist
 * (pretix's valid_keys lists the event's); the bound only keeps junk from piling up. */
const keyCache = new Map();
const KEY_CACHE_SIZE = 64;

function importedKey(backend, key, subtle) {
    if (typeof key !== "string") {
        return null;
    }
    const name = backend + " " + key;
    if (!keyCache.has(name)) {
        const der = keyBytes(key);
        let imported = Promise.resolve(der && (backend === "vendored" ? der.slice(SPKI_PREFIX.length) : null));
        if (der && backend === "webcrypto") {
            imported = Promise.resolve()
                .then(() => subtle.importKey("spki", der, ED25519, false, ["verify"]))
                .catch(() => null);
        }
        if (keyCache.size >= KEY_CACHE_SIZE) {
            keyCache.delete(keyCache.keys().next().value);
        }
        keyCache.set(name, imported);
    }
    return keyCache.get(name);
}

/** Whether a parsed code (parseSig1) carries a valid signature by one of `keys` (the list of
 * pretix's valid_keys.pretix_sig1). Never throws: malformed keys are skipped, and anything
 * else wrong is a false. Options: `backend` ("webcrypto" or "vendored", by default what
 * ed25519Backend finds) and `subtle` (the SubtleCrypto to use, for tests).
 * @noble/ed25519 runs in its strict RFC 8032 mode (zip215 off). It, WebCrypto and OpenSSL
 * (behind pretix) can disagree only on signatures crafted around small-order or
 * non-canonical keys, which pretix never makes. */
export async function verifySig1(parsed, keys, options = {}) {
    try {
        const {payload, signature} = parsed || {};
        if (!(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)
            || signature.length !== SIGNATURE_LENGTH || !Array.isArray(keys)) {
            return false;
        }
        const subtle = (options && options.subtle) || (globalThis.crypto && globalThis.crypto.subtle);
        const backend = (options && options.backend) || await ed25519Backend(subtle);
        if (!(backend === "vendored" || (backend === "webcrypto" && subtle))) {
            return false;
        }
        const ed = backend === "vendored" ? await loadVendored() : null;
        for (const key of keys) {
            try {
                const imported = await importedKey(backend, key, subtle);
                const valid = imported && (ed
                    ? ed.verify(signature, payload, imported, {zip215: false})
                    : await subtle.verify(ED25519, imported, signature, payload));
                if (valid) {
                    return true;
                }
            } catch (e) {
                // this key cannot check it; the next one may
            }
        }
        return false;
    } catch (e) {
        return false;
    }
}

/** Loads and warms what verifySig1 will use, so that the first scan is as quick as the next:
 * the vendored code builds its tables on its first verification (100 to 250 ms in Chromium),
 * and each key is imported once. Resolves to the backend ("webcrypto" or "vendored") once it
 * has verified RFC 8032's first test vector, or to null where it does not. Never throws;
 * takes verifySig1's keys and options. */
export async function prepareSig1(keys = [], options = {}) {
    try {
        const subtle = (options && options.subtle) || (globalThis.crypto && globalThis.crypto.subtle);
        const backend = (options && options.backend) || await ed25519Backend(subtle);
        const probe = {payload: new Uint8Array(0), signature: PROBE_SIGNATURE};
        if (!await verifySig1(probe, [PROBE_PEM], {subtle, backend})) {
            return null;
        }
        for (const key of Array.isArray(keys) ? keys : []) {
            await importedKey(backend, key, subtle);
        }
        return backend;
    } catch (e) {
        return null;
    }
}
