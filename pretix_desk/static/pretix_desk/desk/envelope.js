/* Queued scans sealed to the server (docs/offline.rst, "Sealed records"): what names a person
 * in a queued scan or hand-out (the access code, the answers) is encrypted on the device to
 * the event's public key (the page's upload_key), so the page can add to its queue offline
 * and nobody can read it back from the store; only the server opens it, when it is uploaded
 * (pretix_desk/desk/envelope.py). WebCrypto only: ECDH P-256 with a fresh key pair per
 * item, HKDF-SHA256, AES-256-GCM bound to the item's nonce. */

export const VERSION = 1;
/** The body fields that are sealed; everything else of a queued body stays in clear. */
export const SEALED_FIELDS = ["access_code", "answers"];
const INFO = "pretix-desk queue v1";
const CURVE = {name: "ECDH", namedCurve: "P-256"};

const encode = (text) => new TextEncoder().encode(text);

function b64url(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) {
        binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** WebCrypto exists in secure contexts only (https, localhost). */
export function canSeal(cryptoObj = globalThis.crypto) {
    return !!(cryptoObj && cryptoObj.subtle);
}

/** The event's public key (a JWK with kty, crv, x, y; its kid is ours, not WebCrypto's). */
export function importUploadKey(jwk) {
    const {kty, crv, x, y} = jwk;
    return crypto.subtle.importKey("jwk", {kty, crv, x, y, ext: true}, CURVE, false, []);
}

/** Seal a JSON-able object for the server: {"v": 1, "epk", "iv", "ct"}. */
export async function seal(publicKey, data, nonce) {
    const own = await crypto.subtle.generateKey(CURVE, false, ["deriveBits"]);
    const shared = await crypto.subtle.deriveBits({name: "ECDH", public: publicKey}, own.privateKey, 256);
    const base = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    // An empty salt is HKDF's default (HashLen zero bytes), as on the server.
    const key = await crypto.subtle.deriveKey({name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encode(INFO)},
        base, {name: "AES-GCM", length: 256}, false, ["encrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({name: "AES-GCM", iv, additionalData: encode(INFO + ":" + (nonce || ""))},
        key, encode(JSON.stringify(data)));
    const {kty, crv, x, y} = await crypto.subtle.exportKey("jwk", own.publicKey);
    return {v: VERSION, epk: {kty, crv, x, y}, iv: b64url(iv), ct: b64url(ct)};
}

/** The sealed fields of a body, or null when it has none. */
export function secretsOf(body) {
    const secrets = {};
    for (const name of SEALED_FIELDS) {
        if (body && body[name] !== undefined) {
            secrets[name] = body[name];
        }
    }
    return Object.keys(secrets).length ? secrets : null;
}

/** The body without its sealed fields. */
export function withoutSecrets(body) {
    const rest = {...body};
    for (const name of SEALED_FIELDS) {
        delete rest[name];
    }
    return rest;
}

export class Sealer {
    /**
     * @param jwk          the page's upload_key, or null
     * @param unavailable  the (translated) message when this browser cannot seal
     */
    constructor(jwk, {unavailable = "This browser cannot seal queued scans (it needs https)."} = {}) {
        this.jwk = jwk || null;
        this.unavailable = unavailable;
        this.key = null;
    }

    get available() {
        return !!this.jwk && canSeal();
    }

    async seal(data, nonce) {
        if (!this.available) {
            throw new Error(this.unavailable);
        }
        this.key = this.key || importUploadKey(this.jwk);
        return seal(await this.key, data, nonce);
    }

    /** The body as it may rest in the store: its sealed fields in "sealed". */
    async sealBody(body) {
        const secrets = secretsOf(body);
        if (!secrets) {
            return body;
        }
        return {...withoutSecrets(body), sealed: await this.seal(secrets, body.nonce)};
    }
}
