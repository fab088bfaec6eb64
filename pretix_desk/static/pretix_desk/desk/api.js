/* Client of the desk API (see docs: scan, lookup, redeem, preload, search under
 * /api/v1/organizers/{o}/events/{e}/checkinlists/{list}/desk/). It tells apart
 * "the server answered" (a Response with a status, even 4xx) from "the server could not be
 * reached" (NetworkError): only the second makes the desk answer offline. Each outcome is
 * reported (reporter.answered / reporter.failed), so connectivity follows every request. */

import {readDocument} from "./download.js";
import {HEADER as STATUS_HEADER} from "./report.js";

export class NetworkError extends Error {
    constructor(kind, message) {
        super(message || kind);
        this.name = "NetworkError";
        /** "offline", "timeout", "network" or "server" (5xx: a proxy or an overloaded server). */
        this.kind = kind;
    }
}

/** 401 or 403: the login expired or lacks the permission; not the request's fault. */
export function isAuthProblem(status) {
    return status === 401 || status === 403;
}

export const TIMEOUTS = {scan: 5000, redeem: 5000, lookup: 5000, search: 8000, preload: 120000};

export class DeskApi {
    /** csrfToken: a string, or a function returning the current one (a page restored by the
     * service worker may hold a token from an earlier login; the cookie has the live one). */
    constructor({base, csrfToken, fetchImpl, isOnline, reporter, status} = {}) {
        this.base = base;
        this.csrfToken = csrfToken;
        this.fetchImpl = fetchImpl || ((...args) => globalThis.fetch(...args));
        this.isOnline = isOnline || (() => (typeof navigator === "undefined" ? true : navigator.onLine !== false));
        /** {mark(), answered(mark, status), failed(error)}: connectivity.js (session.js
         * watches the statuses) */
        this.reporter = reporter || {answered() {}, failed() {}};
        /** report.js: the desk's report for a request of a kind, or null */
        this.status = status || null;
    }

    async request(method, path, options = {}) {
        const mark = this.reporter.mark ? this.reporter.mark() : undefined;
        try {
            const result = await this.send(method, path, options);
            this.reporter.answered(mark, result.status);
            return result;
        } catch (e) {
            if (e instanceof NetworkError) {
                this.reporter.failed(e);
            }
            throw e;
        }
    }

    /** lines: the answer is a download, read as it streams (download.js); each: what to
     * keep of each of its records (download.js, LineDocument) */
    async send(method, path, {body, timeout = 5000, headers = {}, report = null, lines = false, each = null} = {}) {
        if (!this.isOnline()) {
            throw new NetworkError("offline");
        }
        const status = report && this.status ? this.status.header(report) : null;
        if (status) {
            headers = {...headers, [STATUS_HEADER]: status};
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
        let text = "";
        let data = null;
        try {
            response = await this.fetchImpl(this.base + path, init);
            // The body is part of the answer: a connection that drops while it streams
            // (a long preload), or a cut-off document, is a network failure, not an answer.
            if (lines && response.status === 200) {
                data = await readDocument(response, {each});
            } else if (response.status < 500 && response.status !== 304 && response.status !== 204) {
                text = await response.text();
            }
        } catch (e) {
            throw new NetworkError(controller.signal.aborted ? "timeout" : "network", String(e));
        } finally {
            clearTimeout(timer);
        }
        if (response.status >= 500) {
            throw new NetworkError("server", "HTTP " + response.status);
        }
        if (text) {
            try {
                data = JSON.parse(text);
            } catch (e) {
                if (response.ok) {
                    // A cut-off document (or a captive portal's page) is not the server's answer.
                    throw new NetworkError("network", "incomplete answer");
                }
            }
        }
        return {status: response.status, data, headers: response.headers};
    }

    /** upload: the item comes from the queue (the first of a batch carries a report) */
    scan(body, {upload = false} = {}) {
        return this.request("POST", "scan/", {body, timeout: TIMEOUTS.scan, report: upload ? "upload" : null});
    }

    redeem(body, {upload = false} = {}) {
        return this.request("POST", "redeem/", {body, timeout: TIMEOUTS.redeem, report: upload ? "upload" : null});
    }

    lookup(code) {
        return this.request("GET", "lookup/" + encodeURIComponent(code) + "/", {timeout: TIMEOUTS.lookup});
    }

    search(q) {
        return this.request("GET", "search/?q=" + encodeURIComponent(q), {timeout: TIMEOUTS.search});
    }

    /** A request the server answers at once without recording anything (a search without
     * a query is refused with 400): is the server reachable? */
    probe() {
        return this.request("GET", "search/?q=", {timeout: TIMEOUTS.lookup, report: "probe"});
    }

    preload({since, etag, each = null} = {}) {
        const headers = {};
        if (etag) {
            headers["If-None-Match"] = etag;
        }
        const query = since ? "?since=" + encodeURIComponent(since) : "";
        return this.request("GET", "preload/" + query, {
            timeout: TIMEOUTS.preload, headers, report: "download", lines: true, each,
        });
    }
}
