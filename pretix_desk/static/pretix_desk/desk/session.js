/* Whether the login this page was opened with still holds. pretix's API answers 401 or 403
 * both to a session that has ended (logged out in another tab, expired, ended elsewhere) and
 * to a login that lacks a permission (forcing a check-in, say). On such an answer the page
 * asks its session URL, a control panel page like the desk itself: pretix answers it with
 * the login page (a redirect) once the session has ended, else with who is logged in. */

export const ENDED = "ended"; // nobody is logged in
export const OTHER = "other"; // someone else is logged in on this browser now
export const SAME = "same"; // the login holds: a refusal was about a permission
export const UNKNOWN = "unknown"; // no answer, or one that says nothing about the session

function isAuthProblem(status) {
    return status === 401 || status === 403;
}

/** What the session URL says about the login of `login` (the page's login tag). */
export async function sessionState({url, login, fetchImpl = (...args) => globalThis.fetch(...args)}) {
    let response;
    try {
        response = await fetchImpl(url, {
            credentials: "same-origin", redirect: "manual", cache: "no-store", headers: {Accept: "application/json"},
        });
    } catch (e) {
        return UNKNOWN;
    }
    if (response.type === "opaqueredirect" || response.status === 401 || (response.status >= 300 && response.status < 400)) {
        return ENDED;
    }
    if (response.status !== 200) {
        // 403: this login may not use this event's desk; its session holds all the same
        return UNKNOWN;
    }
    try {
        return (await response.json()).login === login ? SAME : OTHER;
    } catch (e) {
        return UNKNOWN;
    }
}

export class SessionWatch {
    /**
     * @param url, login  the page's session URL and login tag
     * @param onEnded     async function(): the session has ended
     * @param onOther     async function(): another user is logged in now
     * @param onBack      function(): after onEnded, the same login holds again
     */
    constructor({url, login, onEnded = async () => {}, onOther = async () => {}, onBack = () => {}, fetchImpl}) {
        this.url = url;
        this.login = login;
        this.onEnded = onEnded;
        this.onOther = onOther;
        this.onBack = onBack;
        this.fetchImpl = fetchImpl;
        this.state = SAME;
        this.checking = null;
    }

    /** Ask the server now; calls while a question runs share it. Resolves with the state. */
    check() {
        if (!this.url) {
            return Promise.resolve(UNKNOWN);
        }
        if (!this.checking) {
            this.checking = this.ask().catch((e) => {
                console.error(e);
                return UNKNOWN;
            }).finally(() => {
                this.checking = null;
            });
        }
        return this.checking;
    }

    async ask() {
        const state = await sessionState({url: this.url, login: this.login, fetchImpl: this.fetchImpl});
        const before = this.state;
        if (state !== UNKNOWN) {
            this.state = state;
        }
        if (state === ENDED) {
            await this.onEnded();
        } else if (state === OTHER) {
            await this.onOther();
        } else if (state === SAME && before === ENDED) {
            this.onBack();
        }
        return state;
    }

    /** The API clients' reporter, watched: a 401 or 403 asks about the session, and so does
     * any answer while the session is known to have ended (a login in another tab). */
    watch(reporter) {
        return {
            mark: () => (reporter.mark ? reporter.mark() : undefined),
            answered: (mark, status) => {
                reporter.answered(mark);
                if (isAuthProblem(status) || (this.state === ENDED && status < 400)) {
                    this.check();
                }
            },
            failed: (error) => reporter.failed(error),
        };
    }
}
