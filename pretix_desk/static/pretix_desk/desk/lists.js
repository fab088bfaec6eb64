/* The check-in lists this page offers, the one the desk works on (the primary list) and
 * those it also scans for, and one API client per list. Every client reports its outcomes to
 * the connectivity state. */

import {DeskApi} from "./api.js";

export class DeskLists {
    /**
     * @param lists     the page config's lists ({id, name, api, ...})
     * @param reporter  {mark(), answered(mark), failed(error)}: connectivity
     * @param csrfToken function returning the current CSRF token
     * @param status    report.js: the desk's report, sent with syncs and uploads
     */
    constructor({lists, reporter, csrfToken, status = null}) {
        this.byId = new Map(lists.map((l) => [l.id, l]));
        this.reporter = reporter;
        this.csrfToken = csrfToken;
        this.status = status;
        this.clients = new Map();
        this.currentId = null;
        /** The lists scanned after the primary one, in order (pretix: the first that admits
         * the ticket checks it in). */
        this.alsoIds = [];
    }

    get size() {
        return this.byId.size;
    }

    has(listId) {
        return this.byId.has(listId);
    }

    get current() {
        return this.byId.get(this.currentId) || null;
    }

    get(listId) {
        return this.byId.get(listId) || null;
    }

    /** The lists this desk scans against, the primary one first. */
    get chosen() {
        const current = this.current;
        if (!current) {
            return [];
        }
        return [current, ...this.alsoIds.filter((id) => id !== current.id && this.has(id)).map((id) => this.byId.get(id))];
    }

    /** The API base of a list this page offers, or null. */
    baseOf(listId) {
        const list = this.byId.get(listId);
        return list ? list.api : null;
    }

    /** The client of an API base (the queue keeps the base with each item). */
    client(base) {
        if (!this.clients.has(base)) {
            this.clients.set(base, new DeskApi({base, csrfToken: this.csrfToken, reporter: this.reporter, status: this.status}));
        }
        return this.clients.get(base);
    }

    api(listId) {
        const base = this.baseOf(listId);
        return base ? this.client(base) : null;
    }

    /** For the queue: the client an item is uploaded with, or null if nothing says where. */
    apiForItem(item) {
        const base = item.api || this.baseOf(item.list);
        return base ? this.client(base) : null;
    }
}
