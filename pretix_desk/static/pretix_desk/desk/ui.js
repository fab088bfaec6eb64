/* The view: the header's connectivity badge, the big result panel, the note line, the
 * banner for lasting problems, and the counters. It only renders what it is given; it keeps
 * no state of the desk. Only textContent is used for data. The attendee card and search
 * results are in cards.js, what the uploads leave to see in uploadview.js. */

import {el, fmt, formatTime} from "./util.js";

export function localized(value, locale) {
    if (value === null || value === undefined) {
        return "";
    }
    if (typeof value === "object") {
        const lang = (locale || "en").split("-")[0];
        return value[locale] || value[lang] || value.en || Object.values(value)[0] || "";
    }
    return String(value);
}

export class DeskUI {
    constructor({T, locale, timeZone}) {
        this.T = T;
        this.locale = locale;
        this.timeZone = timeZone;
        this.$ = (id) => document.getElementById(id);
    }

    time(iso) {
        return formatTime(iso, {locale: this.locale, timeZone: this.timeZone});
    }

    productLabel(attendee) {
        if (!attendee) {
            return "";
        }
        let label = localized(attendee.product && attendee.product.name, this.locale);
        if (attendee.variation) {
            label += " – " + localized(attendee.variation.name || attendee.variation.value, this.locale);
        }
        return label;
    }

    reasonText(reason, {checkedInAt = null} = {}) {
        const T = this.T;
        if (reason === "already_redeemed" && checkedInAt) {
            return fmt(T.reason_already_redeemed_at, {time: this.time(checkedInAt)});
        }
        return T["reason_" + reason] || T.reason_other;
    }

    /** Why only the server can decide: "not_downloaded", "rules", "exchange", ... */
    unverifiedText(reason) {
        return this.T["unverified_" + reason] || this.T.unverified_server;
    }

    /** state: idle | working | ask | ok | warn | error | unverified. A new answer replaces
     * the note too: nothing said about the previous scan stays under it. texts: pretix's
     * check-in texts for staff (order, product, variation), shown prominently. */
    showResult(state, {title = "", reason = "", name = "", product = "", attention = false, offline = false, texts = []} = {}) {
        const box = this.$("desk-result");
        box.className = "desk-result desk-result--" + state;
        box.dataset.state = state;
        box.dataset.offline = offline ? "1" : "0";
        this.$("desk-result-title").textContent = title;
        this.$("desk-result-reason").textContent = reason;
        this.$("desk-result-name").textContent = name || "";
        this.$("desk-result-product").textContent = product || "";
        this.$("desk-result-attention").hidden = !attention;
        box.classList.toggle("desk-result--attention", !!attention);
        const shownTexts = (texts || []).filter((t) => typeof t === "string" && t.trim());
        this.$("desk-result-texts").replaceChildren(...shownTexts.map((t) => el("li", {text: t})));
        this.$("desk-result-texts").hidden = !shownTexts.length;
        this.$("desk-result-actions").replaceChildren();
        this.note("");
    }

    /** What the result panel shows of an attendee, whatever the answer. */
    attendeeShown(attendee, offline) {
        return {
            name: attendee ? attendee.name : "",
            product: this.productLabel(attendee),
            attention: !!(attendee && attendee.require_attention),
            texts: (attendee && attendee.checkin_texts) || [],
            offline,
        };
    }

    /** Check-in questions are being asked (the form is below the panel). */
    showQuestions({attendee = null, offline = false} = {}) {
        this.showResult("ask", {...this.attendeeShown(attendee, offline), title: this.T.questions_title,
            reason: offline ? this.T.answered_offline : ""});
    }

    /** The questions were not answered (cancelled, or the desk cannot ask them). */
    showNotCheckedIn({attendee = null, offline = false} = {}, reason = "") {
        this.showResult("error", {...this.attendeeShown(attendee, offline), title: this.T.not_checked_in_title, reason});
    }

    /** A button under a refusal that staff may override ("Check in anyway"). */
    offerOverride(label, onClick) {
        this.$("desk-result-actions").replaceChildren(el("button", {
            type: "button", class: "desk-btn desk-override", onclick: onClick,
        }, label));
    }

    /** The panel for a scan's answer. data: {status: ok|error|unverified, reason, ...}.
     * list: the name of the list that answered, when the desk scans against several. */
    showScanAnswer(data, {offline = false, direction = "entry", list = null} = {}) {
        const T = this.T;
        const attendee = data.attendee || null;
        const common = this.attendeeShown(attendee, offline);
        const onList = list ? fmt(T.on_list, {list}) : "";
        if (data.status === "ok") {
            const type = (data.checkin && data.checkin.type) || direction;
            const title = offline ? T.ok_offline : (type === "exit" ? T.ok_exit : T.ok_entry);
            this.showResult("ok", {...common, title, reason: onList});
            return common.attention ? "warn" : "ok";
        }
        if (data.status === "unverified") {
            this.showResult("unverified", {...common, title: T.cannot_verify, reason: this.unverifiedText(data.reason)});
            return "error";
        }
        if (data.status === "no_connection") {
            this.showResult("error", {...common, title: T.no_connection, reason: T.no_connection_hint});
            return "error";
        }
        const reason = data.reason || "error";
        let title = this.reasonText(reason, {checkedInAt: attendee && attendee.checked_in_at});
        if (data.reason_explanation) {
            title += ": " + data.reason_explanation;
        }
        const state = reason === "already_redeemed" ? "warn" : "error";
        this.showResult(state, {...common, title, reason: [offline ? T.answered_offline : "", onList].filter(Boolean).join(" · ")});
        return state;
    }

    note(text) {
        const note = this.$("desk-note");
        note.textContent = text || "";
        clearTimeout(this.noteTimer);
        if (text) {
            this.noteTimer = setTimeout(() => (note.textContent = ""), 6000);
        }
    }

    /** A lasting message above everything (storage blocked, another tab upgraded, logout
     * questions). actions: [{label, onClick, primary}] */
    banner(text, actions = []) {
        const box = this.$("desk-banner");
        if (!text) {
            box.hidden = true;
            box.replaceChildren();
            return;
        }
        box.replaceChildren(
            el("span", {class: "desk-banner-text", text}),
            ...actions.map((a) => el("button", {
                type: "button", class: "desk-btn desk-btn--small" + (a.primary ? " desk-btn--primary" : ""),
                onclick: a.onClick,
            }, a.label)),
        );
        box.hidden = false;
    }

    /** The header badge: what connectivity says, nothing else. */
    setConnectivity(state, {capable = true} = {}) {
        const T = this.T;
        const net = this.$("desk-net");
        const text = {
            online: T.online,
            syncing: T.online_syncing,
            unavailable: T.offline_unavailable,
            offline: capable ? T.offline : T.offline_no_store,
        }[state];
        net.className = "desk-net desk-net--" + state + (capable ? "" : " desk-net--nostore");
        net.dataset.state = state;
        net.textContent = text;
        document.body.classList.toggle("desk--offline", state === "offline");
        document.body.dataset.connectivity = state;
    }

    setCounters({checkedIn, total, queued, lastSync}) {
        if (checkedIn !== undefined) {
            this.$("desk-count-in").textContent = checkedIn === null ? "–" : String(checkedIn);
        }
        if (total !== undefined) {
            this.$("desk-count-all").textContent = total === null ? "–" : String(total);
        }
        if (queued !== undefined) {
            this.$("desk-count-queue").textContent = String(queued);
            this.$("desk-count-queue").classList.toggle("desk-count--pending", queued > 0);
            document.body.dataset.queued = String(queued);
        }
        if (lastSync !== undefined) {
            this.$("desk-last-sync").textContent = lastSync ? this.time(lastSync) : this.T.never;
            if (lastSync) {
                document.body.dataset.lastSync = lastSync;
            } else {
                delete document.body.dataset.lastSync;
            }
        }
    }

    setDirection(direction) {
        for (const dir of ["entry", "exit"]) {
            const button = this.$("desk-dir-" + dir);
            button.classList.toggle("active", dir === direction);
            button.setAttribute("aria-pressed", dir === direction ? "true" : "false");
        }
        document.body.classList.toggle("desk--exit", direction === "exit");
    }
}
