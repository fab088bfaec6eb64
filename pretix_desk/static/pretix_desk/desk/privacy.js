/* What the desk leaves on the device, and how it goes (docs/offline.rst, "What is stored
 * where"): the downloaded lists in IndexedDB, the desk's settings in localStorage, and the
 * service worker with its cached page. The queue of unsent scans is never deleted here (nor
 * the conflicts staff have not seen yet); logging out drops the scans kept after upload. */

import {isUploaded} from "./queue.js";

export const SETTINGS_PREFIX = "pretix_desk:";
/** The service worker's caches ("pretix-desk-…", or "pretix-desk:<page>:…"). */
export const CACHE_PREFIX = "pretix-desk";
const WORKER_SUFFIX = "/desk/sw.js";

/** Another login downloaded what is stored: delete it before anything is shown.
 * Returns true when something was deleted. */
export async function claimForOwner(store, owner) {
    const stored = await store.getOwner();
    if (stored === owner) {
        return false;
    }
    await store.clearDownloads({owner});
    return true;
}

/** "Remove the downloaded list from this device": attendees and sync state; the queue stays. */
export function removeDownloads(store, owner) {
    return store.clearDownloads({owner});
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
 * hold access codes, and nothing is lost with them. */
export async function forgetUploaded(store) {
    for (const item of await store.queueAll()) {
        if (isUploaded(item)) {
            await store.queueDelete(item.seq);
        }
    }
}

/** Everything but the queue of unsent scans, for logging out. Each part is tried even if
 * another fails. */
export async function forgetDevice(store) {
    const steps = [
        () => (store ? store.clearDownloads() : null),
        () => (store ? forgetUploaded(store) : null),
        () => clearSettings(),
        () => clearPageCache(),
        () => unregisterWorkers(),
    ];
    for (const step of steps) {
        try {
            await step();
        } catch (e) {
            // Go on with the rest.
        }
    }
}

/** "Remove the downloaded list from this device", for the page: stop downloading it again
 * (until "Sync now"), wait for a running sync, delete. */
export async function removeDownloadsNow(desk) {
    desk.prefs.downloadsOff = true;
    if (desk.store) {
        await desk.sync.running;
        await removeDownloads(desk.store, desk.config.owner);
    }
}

/** "Log out": upload what can be uploaded, then delete what the desk keeps on this device
 * (not the queue) and log out of pretix. Unsent scans are worth a question first.
 * Returns false when it asked instead of logging out. */
export async function logout(desk, {confirmed = false} = {}) {
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
    if (unsent && !confirmed) {
        ui.banner(T.logout_unsent, [
            {label: T.logout_anyway, onClick: () => logout(desk, {confirmed: true})},
            {label: T.cancel, primary: true, onClick: () => ui.banner("")},
        ]);
        return false;
    }
    desk.sync.stop();
    await forgetDevice(desk.store);
    location.assign(desk.config.urls.logout);
    return true;
}
