/* What this desk tells the door page about itself (docs/door-api.rst, "desks"): sent as the
 * X-Desk-Status header with requests the page makes anyway, the list syncs every 30 s, the
 * empty search that finds the server again, and the first upload of a batch. No new
 * connection and no request of its own: a desk the server stops hearing from shows as
 * quiet there. The report holds counts and times, never a name or a code. */

export const HEADER = "X-Desk-Status";
export const SCAN_WINDOW_MS = 5 * 60 * 1000;
/** Uploads carry a report at most this often (a batch of 80 is not 80 reports). */
export const UPLOAD_REPORT_MS = 10000;

function newId() {
    const bytes = new Uint8Array(12);
    globalThis.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class DeskReporter {
    /**
     * @param conn     connectivity.js: its state, and when it changes
     * @param prefs    prefs.js: the desk's id (kept per browser) and gate
     * @param version  the plugin's version, as the page config names it
     */
    constructor({conn, prefs, version, now = () => Date.now()}) {
        this.conn = conn;
        this.prefs = prefs;
        this.version = version;
        this.now = now;
        this.id = prefs.get("desk_id");
        if (!this.id || !/^[0-9a-f]{24}$/.test(this.id)) {
            this.id = newId();
            prefs.set("desk_id", this.id);
        }
        this.since = now();
        this.offlineFrom = null;
        this.offlineUntil = null;
        this.lastSync = null;
        this.lastUpload = 0;
        this.queue = {queued: 0, parked: 0, failing: 0};
        this.scans = [];
        conn.subscribe((state, previous) => this.changed(state, previous));
        if (conn.state === "offline") {
            this.offlineFrom = this.since;
        }
    }

    /** "since" is when the desk last came back or went away; online and syncing alternate
     * every round and are one period. */
    changed(state, previous) {
        const at = this.now();
        if (state === "offline" && previous !== "offline") {
            this.since = at;
            this.offlineFrom = at;
            this.offlineUntil = null;
        } else if (previous === "offline" && state !== "offline") {
            this.since = at;
            this.offlineUntil = at;
        }
    }

    noteScan() {
        const at = this.now();
        this.scans.push(at);
        while (this.scans.length && this.scans[0] < at - SCAN_WINDOW_MS) {
            this.scans.shift();
        }
    }

    noteSync() {
        this.lastSync = this.now();
    }

    noteQueue({queued = 0, parked = 0, failing = 0}) {
        this.queue = {queued, parked, failing};
    }

    /** The header's value for a request of this kind ("download", "probe", "upload"), or
     * null for none. */
    header(kind) {
        const at = this.now();
        if (kind === "upload") {
            if (at - this.lastUpload < UPLOAD_REPORT_MS) {
                return null;
            }
            this.lastUpload = at;
        }
        while (this.scans.length && this.scans[0] < at - SCAN_WINDOW_MS) {
            this.scans.shift();
        }
        const state = this.conn.state === "unavailable" ? "unavailable"
            : (kind === "upload" || this.queue.queued ? "syncing" : "online");
        // A request sent while the desk counts as offline is the one that finds the server
        // again: if it arrives, the desk is back as of now.
        const back = this.conn.state === "offline";
        const fields = {
            id: this.id, v: this.version, st: state, now: at, since: back ? at : this.since,
            q: this.queue.queued, p: this.queue.parked, f: this.queue.failing, s5: this.scans.length,
        };
        const optional = {
            sync: this.lastSync, off: this.offlineFrom, on: back ? at : this.offlineUntil, g: this.prefs.gate,
        };
        for (const [key, value] of Object.entries(optional)) {
            if (value) {
                fields[key] = value;
            }
        }
        return new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)])).toString();
    }
}
