/* Whether the desk can reach the server: one state, owned here, that the header, the answers
 * and the queue all read. Nobody else keeps a copy (not even of navigator.onLine).
 *
 *   "online"      the server answered the last request
 *   "syncing"     online, and the queue upload or list download is running
 *   "offline"     the last request failed, or the browser says there is no network:
 *                 scans are answered from the downloaded list (if there is one)
 *   "unavailable" online, but this browser cannot keep an offline copy (no IndexedDB):
 *                 every scan goes to the server
 *
 * Only two things move it: an answer from the server (any status) makes it online, a request
 * that fails with a NetworkError makes it offline, at once. */

export const STATES = ["online", "syncing", "offline", "unavailable"];

export class Connectivity {
    /** reachable: the starting guess (navigator.onLine); capable: offline mode exists. */
    constructor({reachable = true, capable = true} = {}) {
        this.reachable = reachable;
        this.capable = capable;
        this.syncing = 0;
        this.failures = 0;
        this.listeners = new Set();
        this.state = this.compute();
    }

    compute() {
        if (!this.reachable) {
            return "offline";
        }
        if (!this.capable) {
            return "unavailable";
        }
        return this.syncing ? "syncing" : "online";
    }

    update() {
        const state = this.compute();
        if (state !== this.state) {
            const previous = this.state;
            this.state = state;
            for (const fn of this.listeners) {
                fn(state, previous);
            }
        }
    }

    /** fn(state, previous) on every change; returns the unsubscribe function. */
    subscribe(fn) {
        this.listeners.add(fn);
        return () => this.listeners.delete(fn);
    }

    /** A mark to pass to answered(): requests note it when they start. */
    mark() {
        return this.failures;
    }

    /** The server answered (whatever the status). An answer to a request that was already
     * under way when a failure was seen proves nothing about now, and is ignored. */
    answered(mark = this.failures) {
        if (mark < this.failures) {
            return;
        }
        this.reachable = true;
        this.update();
    }

    /** A request failed with a NetworkError, or the browser went offline. */
    failed() {
        this.failures += 1;
        this.reachable = false;
        this.update();
    }

    /** Whether offline answers exist at all (a store could be opened). */
    setCapable(capable) {
        this.capable = capable;
        this.update();
    }

    syncStarted() {
        this.syncing += 1;
        this.update();
    }

    syncEnded() {
        this.syncing = Math.max(0, this.syncing - 1);
        this.update();
    }

    /** Ask the server first? Offline, a desk with a downloaded list answers at once instead
     * of waiting for a timeout per scan; the background sync finds the server again. A desk
     * without offline mode has nothing else to ask, so it always tries. */
    shouldAskServer() {
        return this.reachable || !this.capable;
    }

    /** Follow the browser's own online/offline events. "online" proves nothing about the
     * server, so it only asks for a sync (onBack); "offline" is believed at once. */
    watch(win, {onBack = () => {}} = {}) {
        win.addEventListener("offline", () => this.failed());
        win.addEventListener("online", () => {
            if (!this.capable) {
                // Without offline mode, scans ask the server anyway: show that they will.
                this.answered();
            }
            onBack();
        });
    }
}
