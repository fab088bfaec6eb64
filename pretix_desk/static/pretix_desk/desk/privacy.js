/* What the desk leaves on the device, and how it goes (docs/offline.rst, "What is stored
 * where"): the downloaded lists (and search index) in IndexedDB, the conflicts and the scans
 * kept a day after upload, the desk's settings in localStorage, and the service worker with
 * its cached page. Logging out, however it happens (the desk's button, pretix's logout in
 * another tab, a session that expired or was ended elsewhere), removes them at the next
 * opportunity. The queue of unsent scans is never deleted here: it is sealed to the server
 * (envelope.js), nobody can read it on the device, and the next login of its event on this
 * browser uploads it. */

import {isUploaded} from "./queue.js";

export const SETTINGS_PREFIX = "pretix_desk:";
/** The service worker's caches ("pretix-desk-…", or "pretix-desk:<page>:…"). */
export const CACHE_PREFIX = "pretix-desk";
const WORKER_SUFFIX = "/desk/sw.js";
/** The header the service worker stamps on the pages it caches (not on assets). */
const CACHED_AT = "X-Pretix-Desk-Cached-At";
/** How long the desk's Log out shows that unsent scans stay sealed before it goes on. */
export const LOGOUT_NOTICE_MS = 4000;

/** Another login downloaded what is stored: delete it before anything is shown.
 * Returns true when something was deleted. */
export async function claimForLogin(store, login) {
    const stored = await store.getLogin();
    if (stored === login) {
        return false;
    }
    await store.clearDownloads({login});
    return true;
}

/** "Remove the downloaded list from this device": attendees and sync state; the queue stays. */
export function removeDownloads(store, login) {
    return store.clearDownloads({login});
}

export function clearSettings(storage = globalThis.localStorage) {
    if (!storage) {
        return;
    }
    const keys = [];
    for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i);
        if (key && key.startsWith(SETTINGS_PREFIX)) {
            keys.push(key);
        }
    }
    for (const key of keys) {
        storage.removeItem(key);
    }
}

export async function clearPageCache() {
    if (!globalThis.caches) {
        return;
    }
    for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX)) {
            await caches.delete(name);
        }
    }
}

/** The cached desk pages (the login was one for the whole site); the assets stay, so a
 * page opened online later starts at once. */
export async function deleteCachedPages() {
    if (!globalThis.caches) {
        return;
    }
    for (const name of await caches.keys()) {
        if (!name.startsWith(CACHE_PREFIX)) {
            continue;
        }
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
            const cached = await cache.match(request);
            if (cached && cached.headers.has(CACHED_AT)) {
                await cache.delete(request);
            }
        }
    }
}

export async function unregisterWorkers() {
    if (!navigator.serviceWorker || !navigator.serviceWorker.getRegistrations) {
        return;
    }
    for (const registration of await navigator.serviceWorker.getRegistrations()) {
        const worker = registration.active || registration.waiting || registration.installing;
        if (worker && new URL(worker.scriptURL).pathname.endsWith(WORKER_SUFFIX)) {
            await registration.unregister();
        }
    }
}

/** Scans kept after their upload (to know this desk's own check-ins in conflicts): they
 * are of no use to the next login, and nothing is lost with them. */
export async function forgetUploaded(store) {
    for (const item of await store.queueAll()) {
        if (isUploaded(item)) {
            await store.queueDelete(item.seq);
        }
    }
}

export async function forgetConflicts(store) {
    for (const entry of await store.conflictAll()) {
        await store.conflictDelete(entry.key);
    }
}

/** Run every step, each even if another fails. */
async function tryEach(steps) {
    for (const step of steps) {
        try {
            await step();
        } catch (e) {
            // Go on with the rest.
        }
    }
}

/** What a login downloaded or learnt: the downloaded lists and search index, the conflicts,
 * the scans kept after upload. The unsent queue stays; login: the login tag to keep (the
 * page stays open for this login), or null. */
export function forgetSession(store, {login = null} = {}) {
    return tryEach([
        () => store.clearDownloads({login}),
        () => forgetConflicts(store),
        () => forgetUploaded(store),
    ]);
}

/** Everything but the queue of unsent scans, for logging out. */
export function forgetDevice(store) {
    return tryEach([
        () => (store ? forgetSession(store) : null),
        () => clearSettings(),
        () => clearPageCache(),
        () => unregisterWorkers(),
    ]);
}

/** "Remove the downloaded list from this device", for the page: stop downloading it again
 * (until "Sync now"), wait for a running sync, delete. */
export async function removeDownloadsNow(desk) {
    desk.prefs.downloadsOff = true;
    if (desk.store) {
        await desk.sync.running;
        await removeDownloads(desk.store, desk.config.login);
    }
}

/** Forget what this page showed: names, the card, search results. */
function forgetShown(desk) {
    if (desk.names) {
        desk.names.forget();
    }
    if (desk.queue) {
        desk.queue.forgetSeen();
    }
    desk.cards.hideCard();
    desk.cards.hideResults();
}

/** "Log out": upload what can be uploaded, delete what the desk keeps on this device (not the
 * queue) and log out of pretix. Scans that could not be uploaded stay sealed: the page says
 * so, and goes on. */
export async function logout(desk, {noticeMs = LOGOUT_NOTICE_MS} = {}) {
    const {ui, T} = desk;
    ui.banner(T.logout_uploading);
    let unsent = 0;
    if (desk.queue) {
        try {
            await desk.sync.running;
            await desk.queue.flush();
            unsent = (await desk.queue.pending()).length;
        } catch (e) {
            unsent = -1;
        }
    }
    desk.sync.stop();
    forgetShown(desk);
    await forgetDevice(desk.store);
    if (unsent) {
        ui.banner(T.logout_kept_sealed);
        await new Promise((resolve) => setTimeout(resolve, noticeMs));
    }
    location.assign(desk.config.urls.logout);
}

/** The page found that its login has ended (pretix's logout in another tab, a session that
 * expired or was ended elsewhere), or that another user is logged in now: what that login
 * downloaded or learnt goes at once; the sealed queue stays for the next login. */
export async function loggedOut(desk, {otherUser = false} = {}) {
    const {ui, T} = desk;
    await Promise.resolve(desk.sync.running).catch(() => {});
    forgetShown(desk);
    if (desk.store) {
        await forgetSession(desk.store, {login: otherUser ? null : desk.config.login});
        if (desk.queue) {
            desk.queue.changed();
        }
        if (desk.conflicts) {
            desk.conflicts.changed();
        }
    }
    await deleteCachedPages().catch(() => {});
    ui.note("");
    if (otherUser) {
        ui.banner(T.session_other_user, [{label: T.reload, primary: true, onClick: () => location.reload()}]);
    } else {
        ui.banner(T.session_ended, [
            {label: T.login_again, primary: true, onClick: () => location.assign(desk.config.urls.page)},
        ]);
    }
}
