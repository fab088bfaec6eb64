/* Badges, where pretix's badges plugin is active: the server names the PDF (a scan's or
 * lookup's badge.url, rendered by pretix's own renderer); this module prints it. The PDF is
 * fetched with the session's login, put into a hidden frame (as a blob: copy: the API's
 * responses may not be framed) and that frame's print() opens the browser's print dialog,
 * or prints at once in a kiosk-printing browser. The frame carries the badge URL in
 * data-desk-badge, so a test can spy on its print() without a printer.
 *
 * Printing is a per-desk setting (prefs.badges): "auto" on each successful entry online,
 * "button" on the attendee card only, "off". Offline there is no PDF to print. */

export class BadgeError extends Error {}

/** How long after printing the frame may not keep the focus (ms). */
export const FOCUS_GUARD_MS = 5000;

export class BadgePrinter {
    constructor({doc = document, fetchImpl = (...args) => globalThis.fetch(...args)} = {}) {
        this.doc = doc;
        this.fetchImpl = fetchImpl;
        this.frame = null;
        this.objectUrl = null;
    }

    /** Resolves with the frame once print() was called on it, holding the PDF from url. */
    async print(url) {
        // No "Accept: application/pdf": the API negotiates JSON renderers only (406).
        const response = await this.fetchImpl(url, {credentials: "same-origin", cache: "no-store"});
        const type = (response.headers.get("Content-Type") || "").split(";")[0].trim();
        if (!response.ok || type !== "application/pdf") {
            throw new BadgeError("HTTP " + response.status + " " + type);
        }
        const blob = await response.blob();
        // The previous badge's frame stays until now: print() may return before the
        // browser has spooled the document.
        this.forget();
        const objectUrl = URL.createObjectURL(blob);
        const frame = this.doc.createElement("iframe");
        frame.className = "desk-badge-frame";
        frame.setAttribute("aria-hidden", "true");
        frame.tabIndex = -1;
        frame.dataset.deskBadge = url;
        this.frame = frame;
        this.objectUrl = objectUrl;
        await new Promise((resolve, reject) => {
            frame.addEventListener("load", resolve, {once: true});
            frame.addEventListener("error", () => reject(new BadgeError("frame")), {once: true});
            frame.src = objectUrl;
            this.doc.body.append(frame);
        });
        frame.contentWindow.focus();
        frame.contentWindow.print();
        return frame;
    }

    forget() {
        if (this.frame) {
            this.frame.remove();
            this.frame = null;
        }
        if (this.objectUrl) {
            URL.revokeObjectURL(this.objectUrl);
            this.objectUrl = null;
        }
    }
}

export class Badges {
    /**
     * @param enabled  the page config's "badges": pretix's badges plugin is active
     * @param prefs    the desk's settings (prefs.badges: "auto", "button" or "off")
     * @param ui       for notes
     * @param printer  a BadgePrinter
     * @param onPrinted  function() after printing: the frame took the focus, the next scan
     *                   must not go there
     */
    constructor({enabled, prefs, ui, T, printer = new BadgePrinter(), onPrinted = () => {}}) {
        this.enabled = !!enabled;
        this.onPrinted = onPrinted;
        this.prefs = prefs;
        this.ui = ui;
        this.T = T;
        this.printer = printer;
    }

    get mode() {
        return this.enabled ? this.prefs.badges : "off";
    }

    /** The card's "Print badge" action for an answer's badge, or null. */
    buttonFor(badge) {
        if (this.mode === "off" || !badge || !badge.url) {
            return null;
        }
        return () => this.print(badge.url);
    }

    /** After a scan's answer: print on a successful entry, if the desk prints automatically. */
    afterScan(data, {offline, direction}) {
        const type = (data.checkin && data.checkin.type) || direction;
        if (this.mode === "auto" && !offline && data.status === "ok" && type === "entry" && data.badge && data.badge.url) {
            this.print(data.badge.url);
        }
    }

    async print(url) {
        this.ui.note(this.T.badge_printing);
        try {
            this.keepFocus(await this.printer.print(url));
        } catch (e) {
            console.error(e);
            this.ui.note(this.T.badge_failed);
        } finally {
            this.onPrinted();
        }
    }

    /** The PDF viewer in the frame may take the focus when it has finished loading, after
     * print() returned: for a while, the focus goes back (the next scan must not go there). */
    keepFocus(frame, ms = FOCUS_GUARD_MS) {
        const onBlur = () => setTimeout(() => {
            if (document.activeElement === frame) {
                this.onPrinted();
            }
        }, 0);
        window.addEventListener("blur", onBlur);
        setTimeout(() => window.removeEventListener("blur", onBlur), ms);
    }
}
