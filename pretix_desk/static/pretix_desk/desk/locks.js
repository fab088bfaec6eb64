/* One upload at a time across the tabs and windows of one browser profile.
 *
 * The Web Locks API does it exactly. Where it is missing, a lease in localStorage (which all
 * tabs of an origin share) does it well enough: a tab that crashed holding it loses it after
 * LEASE_MS. Should both ever upload the same item, its nonce makes the second a no-op on the
 * server; the lock is there to save the requests, not to keep counts right. */

const LEASE_MS = 30000;

function leaseHolder(storage, key, now) {
    try {
        const lease = JSON.parse(storage.getItem(key) || "null");
        return lease && lease.until > now ? lease.tab : null;
    } catch (e) {
        return null;
    }
}

async function withLease(name, fn, storage) {
    const key = "pretix_desk:lock:" + name;
    const tab = Math.random().toString(36).slice(2);
    const holder = leaseHolder(storage, key, Date.now());
    if (holder) {
        return {busy: true};
    }
    storage.setItem(key, JSON.stringify({tab, until: Date.now() + LEASE_MS}));
    await new Promise((resolve) => setTimeout(resolve, 20)); // let a racing tab's write land
    if (leaseHolder(storage, key, Date.now()) !== tab) {
        return {busy: true};
    }
    try {
        return await fn();
    } finally {
        if (leaseHolder(storage, key, Date.now()) === tab) {
            storage.removeItem(key);
        }
    }
}

/**
 * Run fn() if no other tab holds the lock `name`; else resolve to {busy: true} at once.
 * @param locks    navigator.locks, or null to use the fallback
 * @param storage  localStorage for the fallback (no lock at all without either)
 */
export function runExclusive(name, fn, {
    locks = globalThis.navigator && globalThis.navigator.locks,
    storage = globalThis.localStorage,
} = {}) {
    if (locks && typeof locks.request === "function") {
        return locks.request("pretix-desk:" + name, {ifAvailable: true}, (lock) => (lock ? fn() : {busy: true}));
    }
    if (storage) {
        return withLease(name, fn, storage);
    }
    return fn();
}
