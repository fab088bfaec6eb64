{% autoescape off %}/* Service worker of the pretix-desk scanner page: keeps the page and its assets in a cache
 * so that reloading without network still opens the desk. API requests are never touched:
 * the page itself decides what to do when they fail. */
"use strict";
const CONFIG = {{ sw_config }};
const CACHE_PREFIX = "pretix-desk-";
const ASSET_DIR = new URL(CONFIG.asset_dir, self.location.href).pathname;
const NAVIGATION_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
    event.waitUntil((async () => {
        const cache = await caches.open(CONFIG.cache);
        await cache.addAll(CONFIG.assets);
        try {
            const page = await fetch(CONFIG.page, {credentials: "same-origin"});
            if (page.ok && !page.redirected) {
                await cache.put(CONFIG.page, page);
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
            if (name.startsWith(CACHE_PREFIX) && name !== CONFIG.cache) {
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

async function pageFromNetworkOrCache(request) {
    const cache = await caches.open(CONFIG.cache);
    try {
        const response = await withTimeout(fetch(request), NAVIGATION_TIMEOUT_MS);
        // A redirect means the session ended (login page): show it, but keep the desk cached.
        if (response.ok && !response.redirected) {
            await cache.put(CONFIG.page, response.clone());
        }
        return response;
    } catch (e) {
        const cached = await cache.match(CONFIG.page);
        if (cached) {
            return cached;
        }
        throw e;
    }
}

async function assetFromCacheOrNetwork(request) {
    const cache = await caches.open(CONFIG.cache);
    const cached = await cache.match(request, {ignoreSearch: true});
    if (cached) {
        return cached;
    }
    const response = await fetch(request);
    if (response.ok) {
        await cache.put(request, response.clone());
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
        event.respondWith(pageFromNetworkOrCache(request));
    } else if (url.pathname.startsWith(ASSET_DIR)) {
        event.respondWith(assetFromCacheOrNetwork(request));
    }
});
{% endautoescape %}
