{% autoescape off %}/* Service worker of the pretix-desk scanner page: keeps the page and its assets in a cache
 * so that reloading without network still opens the desk. API requests are never touched:
 * the page itself decides what to do when they fail.
 *
 * - Assets: precached at install under exactly the URLs the page requests (hashed names in
 *   production), served cache-first. A plain asset URL (no hash) is answered from its hashed
 *   copy. Each release gets a new cache; activation deletes the old one.
 * - The page: network first; offline (or when the server fails) the cached copy, but only
 *   while the login that cached it could still be valid (pretix's absolute session timeout).
 * - Session ended: when the page, online, comes back as a redirect (to the login page), the
 *   cached pages are deleted, and in IndexedDB every store but the queue is emptied (the
 *   downloaded lists, the search index, the conflicts), and so are the queue's items kept
 *   after their upload. The scans waiting for upload stay: they are sealed to the server,
 *   and the next login of their event uploads them. */
"use strict";
const CONFIG = {{ sw_config }};
/** Caches of this desk page (any release); of any desk page; named as before (one for all pages). */
const CACHE_PREFIX = CONFIG.cache_prefix;
const ANY_DESK_CACHE = "pretix-desk-";
const OLD_CACHE_NAME = /^pretix-desk-[0-9a-f]{16}$/;
const ASSET_DIR = new URL(CONFIG.asset_dir, self.location.href).pathname;
const NAVIGATION_TIMEOUT_MS = 4000;
const FORGET_TIMEOUT_MS = 3000;
/** Header added to the cached page: when it was cached (milliseconds since the epoch). */
const CACHED_AT = "X-Pretix-Desk-Cached-At";
/** Plain asset URL -> the URL of its hashed copy (production static files). */
const ALIASES = new Map(Object.entries(CONFIG.aliases || {}).map(
    ([plain, served]) => [new URL(plain, self.location.href).href, new URL(served, self.location.href).href]));

/** The page's response with the time of caching in a header. */
async function stamped(response) {
    const headers = new Headers(response.headers);
    headers.set(CACHED_AT, String(Date.now()));
    return new Response(await response.blob(), {status: response.status, statusText: response.statusText, headers});
}

self.addEventListener("install", (event) => {
    event.waitUntil((async () => {
        const cache = await caches.open(CONFIG.cache);
        await cache.addAll(CONFIG.assets);
        try {
            const page = await fetch(CONFIG.page, {credentials: "same-origin"});
            if (page.ok && !page.redirected) {
                await cache.put(CONFIG.page, await stamped(page));
            }
        } catch (e) {
            // The page caches itself on its next online load.
        }
        await self.skipWaiting();
    })());
});

self.addEventListener("activate", (event) => {
    event.waitUntil((async () => {
        for (const name of await caches.keys()) {
            if ((name.startsWith(CACHE_PREFIX) || OLD_CACHE_NAME.test(name)) && name !== CONFIG.cache) {
                await caches.delete(name);
            }
        }
        await self.clients.claim();
    })());
});

function withTimeout(promise, ms) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("timeout")), ms);
        promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
    });
}

function requestDone(request) {
    return new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

/** Open the page's database as it is, without creating it: null if it does not exist. */
function openExistingDb(name) {
    return new Promise((resolve, reject) => {
        let absent = false;
        const request = indexedDB.open(name);
        request.onupgradeneeded = () => {
            // Only a database that does not exist yet gets here (no version asked for):
            // abort, so that the page later creates it with its own schema.
            absent = true;
            request.transaction.abort();
        };
        request.onsuccess = () => {
            const db = request.result;
            db.onversionchange = () => db.close();  // never hold up the page's schema upgrade
            resolve(db);
        };
        request.onerror = (e) => {
            if (absent) {
                e.preventDefault();
                resolve(null);
            } else {
                reject(request.error);
            }
        };
    });
}

/** Delete the queue's items kept after their upload; the others stay. */
function deleteUploaded(queue) {
    return new Promise((resolve, reject) => {
        const cursor = queue.openCursor();
        cursor.onsuccess = () => {
            const at = cursor.result;
            if (!at) {
                resolve();
                return;
            }
            if (at.value && at.value.state === "uploaded") {
                at.delete();
            }
            at.continue();
        };
        cursor.onerror = () => reject(cursor.error);
    });
}

/** Empty every store but those kept (the queue), whatever stores this version of the page
 * has; in the queue, delete what was uploaded already. */
async function clearDownloadedLists() {
    const db = await openExistingDb(CONFIG.db.name);
    if (!db) {
        return;
    }
    try {
        const stores = Array.from(db.objectStoreNames);
        if (!stores.length) {
            return;
        }
        const tx = db.transaction(stores, "readwrite");
        const finished = new Promise((resolve, reject) => {
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
            tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
        });
        await Promise.all(stores.map((name) => (CONFIG.db.keep.includes(name)
            ? deleteUploaded(tx.objectStore(name))
            : requestDone(tx.objectStore(name).clear()))));
        await finished;
    } finally {
        db.close();
    }
}

/** Delete every cached desk page (the login was one for the whole site), keep the assets. */
async function deleteCachedPages() {
    for (const name of await caches.keys()) {
        if (!name.startsWith(ANY_DESK_CACHE)) {
            continue;
        }
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
            if (!new URL(request.url).pathname.startsWith(ASSET_DIR)) {
                await cache.delete(request);
            }
        }
    }
}

async function forgetSession() {
    const results = await Promise.allSettled([deleteCachedPages(), clearDownloadedLists()]);
    for (const r of results) {
        if (r.status === "rejected") {
            console.warn("pretix-desk: could not delete offline data", r.reason);
        }
    }
}

/** The session has ended: the server sends the login page (a redirect; a navigation's
 * redirect arrives unfollowed, as "opaqueredirect"). Not for 403/404 (this user may not open
 * this event's desk, but the session, and other events' downloaded lists, are still valid)
 * and not for a server error (5xx), which says nothing about the session. */
function sessionEnded(response) {
    return response.type === "opaqueredirect" || response.redirected || response.status === 401;
}

/** The cached page, if it was cached less than the absolute session timeout ago. */
async function freshCachedPage(cache) {
    const cached = await cache.match(CONFIG.page);
    if (!cached) {
        return null;
    }
    const age = Date.now() - Number(cached.headers.get(CACHED_AT));
    // Math.abs: a clock set back far must not keep an old page alive either.
    if (!(Math.abs(age) < CONFIG.session_timeout * 1000)) {
        await cache.delete(CONFIG.page);
        return null;
    }
    return cached;
}

async function pageFromNetworkOrCache(event) {
    const cache = await caches.open(CONFIG.cache);
    const fetching = fetch(event.request);
    fetching.catch(() => {});  // handled below; no "unhandled rejection" when the cache answers
    let response;
    try {
        response = await withTimeout(fetching, NAVIGATION_TIMEOUT_MS);
    } catch (e) {
        const cached = await freshCachedPage(cache);
        if (cached) {
            return cached;
        }
        // No usable copy: wait for a slow network after all (fails at once when offline).
        response = await fetching;
    }
    if (sessionEnded(response)) {
        // Done before the login page shows; if it takes too long, it finishes in the background.
        const forgetting = forgetSession();
        event.waitUntil(forgetting);
        await withTimeout(forgetting, FORGET_TIMEOUT_MS).catch(() => {});
        return response;
    }
    if (response.ok) {
        await cache.put(CONFIG.page, await stamped(response.clone()));
        return response;
    }
    if (response.status >= 500) {
        // The server is reachable but cannot answer: like offline.
        const cached = await freshCachedPage(cache);
        if (cached) {
            return cached;
        }
    }
    return response;
}

async function assetFromCacheOrNetwork(request, served) {
    const cache = await caches.open(CONFIG.cache);
    const cached = await cache.match(served || request, {ignoreSearch: true});
    if (cached) {
        return cached;
    }
    const response = await fetch(served || request);
    if (response.ok) {
        await cache.put(served || request, response.clone());
    }
    return response;
}

self.addEventListener("fetch", (event) => {
    const request = event.request;
    if (request.method !== "GET") {
        return;
    }
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) {
        return;
    }
    if (url.pathname === CONFIG.page) {
        event.respondWith(pageFromNetworkOrCache(event));
    } else if (url.pathname.startsWith(ASSET_DIR)) {
        event.respondWith(assetFromCacheOrNetwork(request, ALIASES.get(url.origin + url.pathname)));
    }
});
{% endautoescape %}