/* Client of the desk API (see docs: scan, lookup, redeem, preload, search under
 * /api/v1/organizers/{o}/events/{e}/checkinlists/{list}/desk/). It tells apart
 * "the server answered" (a Response with a status, even 4xx) from "the server could not be
 * reached" (NetworkError): only the second makes the desk answer offline. */

export class NetworkError extends Error {
    constructor(kind, message) {
        super(message || kind);
        this.name = "NetworkError";
        /** "offline", "timeout", "network" or "server" (5xx: a proxy or an overloaded server). */
        this.kind = kind;
    }
}

export const TIMEOUTS = {scan: 5000, redeem: 5000, lookup: 5000, search: 8000, preload: 120000};

export class DeskApi {
    /** csrfToken: a string, or a function returning the current one (a page restored by the
     * service worker may hold a token from an earlier login; the cookie has the live one). */
    constructor({base, csrfToken, fetchImpl, isOnline} = {}) {
        this.base = base;
        this.csrfToken = csrfToken;
        this.fetchImpl = fetchImpl || ((...args) => globalThis.fetch(...args));
        this.isOnline = isOnline || (() => (typeof navigator === "undefined" ? true : navigator.onLine !== false));
    }

    async request(method, path, {body, timeout = 5000, headers = {}} = {}) {
        if (!this.isOnline()) {
            throw new NetworkError("offline");
        }
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), timeout);
        const init = {
            method,
            credentials: "same-origin",
            headers: {Accept: "application/json", ...headers},
            signal: controller.signal,
            cache: "no-store",
        };
        if (body !== undefined) {
            init.headers["Content-Type"] = "application/json";
            init.body = JSON.stringify(body);
        }
        const csrf = typeof this.csrfToken === "function" ? this.csrfToken() : this.csrfToken;
        if (method !== "GET" && csrf) {
            init.headers["X-CSRFToken"] = csrf;
        }
        let response;
        try {
            response = await this.fetchImpl(this.base + path, init);
        } catch (e) {
            throw new NetworkError(controller.signal.aborted ? "timeout" : "network", String(e));
        } finally {
            clearTimeout(timer);
        }
        if (response.status >= 500) {
            throw new NetworkError("server", "HTTP " + response.status);
        }
        let data = null;
        if (response.status !== 304 && response.status !== 204) {
            try {
                data = await response.json();
            } catch (e) {
                data = null;
            }
        }
        return {status: response.status, data, headers: response.headers};
    }

    scan(body) {
        return this.request("POST", "scan/", {body, timeout: TIMEOUTS.scan});
    }

    redeem(body) {
        return this.request("POST", "redeem/", {body, timeout: TIMEOUTS.redeem});
    }

    lookup(code) {
        return this.request("GET", "lookup/" + encodeURIComponent(code) + "/", {timeout: TIMEOUTS.lookup});
    }

    search(q) {
        return this.request("GET", "search/?q=" + encodeURIComponent(q), {timeout: TIMEOUTS.search});
    }

    preload({since, etag} = {}) {
        const headers = {};
        if (etag) {
            headers["If-None-Match"] = etag;
        }
        const query = since ? "?since=" + encodeURIComponent(since) : "";
        return this.request("GET", "preload/" + query, {timeout: TIMEOUTS.preload, headers});
    }
}
