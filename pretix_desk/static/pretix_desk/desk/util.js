/* Small helpers shared by the desk modules. */

/** A random idempotency key for a scan or redemption (UUID v4).
 * crypto.randomUUID only exists in secure contexts; getRandomValues exists everywhere. */
export function newNonce(cryptoObj = globalThis.crypto) {
    if (cryptoObj && typeof cryptoObj.randomUUID === "function") {
        return cryptoObj.randomUUID();
    }
    const bytes = new Uint8Array(16);
    cryptoObj.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Fill "{name}" placeholders of a translated string. */
export function fmt(template, values = {}) {
    return String(template).replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
}

const FORMATS = new Map();

/** An Intl.DateTimeFormat made once per locale and options: making one costs more than a
 * millisecond, and an answer formats several times. */
function dateFormat(locale, opts) {
    const key = JSON.stringify([locale || null, opts]);
    if (!FORMATS.has(key)) {
        FORMATS.set(key, new Intl.DateTimeFormat(locale || undefined, opts));
    }
    return FORMATS.get(key);
}

/** "10:42" for today, "23 Nov, 10:42" for other days, in the event's time zone. */
export function formatTime(iso, {locale, timeZone, now = new Date()} = {}) {
    if (!iso) {
        return "";
    }
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) {
        return "";
    }
    const opts = {hour: "2-digit", minute: "2-digit"};
    if (timeZone) {
        opts.timeZone = timeZone;
    }
    try {
        const day = dateFormat("en-CA", {timeZone: opts.timeZone, dateStyle: "short"});
        if (day.format(d) !== day.format(now)) {
            opts.day = "numeric";
            opts.month = "short";
        }
        return dateFormat(locale, opts).format(d);
    } catch (e) {
        return d.toLocaleString();
    }
}

/** Remembers recently handled codes so that a scanner's double read or a camera seeing
 * the same QR code in every frame sends it only once. */
export class Deduper {
    constructor(windowMs = 3000) {
        this.windowMs = windowMs;
        this.seen = new Map();
    }

    accept(code, now = Date.now()) {
        for (const [key, at] of this.seen) {
            if (now - at >= this.windowMs) {
                this.seen.delete(key);
            }
        }
        if (this.seen.has(code)) {
            return false;
        }
        this.seen.set(code, now);
        return true;
    }

    forget(code) {
        this.seen.delete(code);
    }
}

export function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) {
            continue;
        }
        if (key === "class") {
            node.className = value;
        } else if (key === "text") {
            node.textContent = value;
        } else if (key.startsWith("on")) {
            node.addEventListener(key.slice(2), value);
        } else if (value === true) {
            node.setAttribute(key, "");
        } else {
            node.setAttribute(key, value);
        }
    }
    for (const child of children.flat()) {
        if (child === null || child === undefined || child === false) {
            continue;
        }
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
}
