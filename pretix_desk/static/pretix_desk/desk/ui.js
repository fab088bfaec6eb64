/* Rendering of the desk: the big result panel, the attendee card, search results, the list
 * of uploads the server refused, and the counters. Only textContent is used for data. */

import {el, fmt, formatTime} from "./util.js";

/** replaceChildren would turn a null into the text "null". */
function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

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

    reasonText(reason, {checkedInAt = null, offline = false} = {}) {
        const T = this.T;
        if (reason === "already_redeemed" && checkedInAt) {
            return fmt(T.reason_already_redeemed_at, {time: this.time(checkedInAt)});
        }
        if (reason === "invalid" && offline) {
            return T.reason_invalid_offline;
        }
        return T["reason_" + reason] || T.reason_other;
    }

    /** state: idle | working | ok | warn | error */
    showResult(state, {title = "", reason = "", name = "", product = "", attention = false} = {}) {
        const box = this.$("desk-result");
        box.className = "desk-result desk-result--" + state;
        box.dataset.state = state;
        this.$("desk-result-title").textContent = title;
        this.$("desk-result-reason").textContent = reason;
        this.$("desk-result-name").textContent = name || "";
        this.$("desk-result-product").textContent = product || "";
        this.$("desk-result-attention").hidden = !attention;
    }

    note(text) {
        const note = this.$("desk-note");
        note.textContent = text || "";
        clearTimeout(this.noteTimer);
        if (text) {
            this.noteTimer = setTimeout(() => (note.textContent = ""), 6000);
        }
    }

    setOnline(online) {
        const net = this.$("desk-net");
        net.className = "desk-net " + (online ? "desk-net--online" : "desk-net--offline");
        net.textContent = online ? this.T.online : this.T.offline;
        document.body.classList.toggle("desk--offline", !online);
    }

    setCounters({checkedIn, total, queued, lastSync, syncing}) {
        if (checkedIn !== undefined) {
            this.$("desk-count-in").textContent = checkedIn === null ? "–" : String(checkedIn);
        }
        if (total !== undefined) {
            this.$("desk-count-all").textContent = total === null ? "–" : String(total);
        }
        if (queued !== undefined) {
            this.$("desk-count-queue").textContent = String(queued);
            this.$("desk-count-queue").classList.toggle("desk-count--pending", queued > 0);
        }
        if (lastSync !== undefined) {
            this.$("desk-last-sync").textContent = syncing ? this.T.syncing : (lastSync ? this.time(lastSync) : this.T.never);
        }
    }

    hideCard() {
        this.$("desk-card").hidden = true;
        this.$("desk-card").replaceChildren();
    }

    /**
     * @param attendee, lineItems  as the desk API sends them
     * @param onHandOut  function(lineItem) or null when hand-out is impossible
     */
    showCard({attendee, lineItems = [], onHandOut = null, offline = false}) {
        const T = this.T;
        const card = this.$("desk-card");
        const redeemable = (lineItems || []).filter((li) => li.redeemable);
        const status = attendee.checked_in
            ? fmt(T.checked_in_at, {time: this.time(attendee.checked_in_at)})
            : T.not_checked_in;
        const rows = redeemable.map((li) => {
            let action;
            if (li.redeemed) {
                action = el("span", {class: "desk-handed", text: li.redeemed_at ? fmt(T.handed_out_at, {time: this.time(li.redeemed_at)}) : T.handed_out});
            } else if (onHandOut) {
                action = el("button", {
                    type: "button", class: "desk-btn desk-btn--primary desk-handout",
                    "data-line-item": String(li.line_item_id),
                    onclick: () => onHandOut(li),
                }, T.hand_out);
            } else {
                action = el("span", {class: "desk-muted", text: T.not_redeemable});
            }
            const product = localized(li.product && li.product.name, this.locale)
                + (li.variation ? " – " + localized(li.variation.name || li.variation.value, this.locale) : "");
            return el("li", {class: "desk-addon" + (li.redeemed ? " desk-addon--done" : ""), "data-line-item": String(li.line_item_id)},
                el("span", {class: "desk-addon-name", text: product}), action);
        });
        fill(card,
            el("div", {class: "desk-card-head"},
                el("h2", {class: "desk-card-name", text: attendee.name || "—"}),
                attendee.require_attention ? el("span", {class: "desk-badge desk-badge--attention", text: T.attention}) : null,
            ),
            el("dl", {class: "desk-card-facts"},
                el("dt", {text: T.product}), el("dd", {text: this.productLabel(attendee)}),
                el("dt", {text: T.order}), el("dd", {text: attendee.order || ""}),
                attendee.email ? [el("dt", {text: T.email}), el("dd", {text: attendee.email})] : null,
            ),
            el("p", {class: "desk-card-status", text: status}),
            redeemable.length ? el("h3", {text: T.addons}) : null,
            redeemable.length ? el("ul", {class: "desk-addons"}, rows) : null,
        );
        card.dataset.offline = offline ? "1" : "0";
        card.hidden = false;
    }

    /** hits: [{attendee, access_code|null}]; onCheckIn(hit) */
    showResults(hits, {onCheckIn, offline = false, message = ""} = {}) {
        const T = this.T;
        const box = this.$("desk-results");
        const items = hits.map((hit) => {
            const a = hit.attendee || {};
            return el("li", {class: "desk-hit"},
                el("div", {class: "desk-hit-main"},
                    el("strong", {text: a.name || "—"}),
                    el("span", {class: "desk-muted", text: [this.productLabel(a), a.order, a.email].filter(Boolean).join(" · ")}),
                    el("span", {class: a.checked_in ? "desk-hit-in" : "desk-muted",
                        text: a.checked_in ? fmt(T.checked_in_at, {time: this.time(a.checked_in_at)}) : T.not_checked_in}),
                ),
                hit.access_code ? el("button", {
                    type: "button", class: "desk-btn desk-btn--primary desk-hit-checkin",
                    onclick: () => onCheckIn(hit),
                }, T.checkin_click) : null,
            );
        });
        fill(box,
            el("div", {class: "desk-results-head"},
                el("h2", {text: T.search_results}),
                el("button", {type: "button", class: "desk-btn desk-btn--small", onclick: () => this.hideResults()}, T.close),
            ),
            offline ? el("p", {class: "desk-muted", text: T.search_offline}) : null,
            message ? el("p", {class: "desk-muted", text: message}) : null,
            hits.length ? el("ul", {class: "desk-hits"}, items) : el("p", {text: T.search_none}),
        );
        box.hidden = false;
    }

    hideResults() {
        this.$("desk-results").hidden = true;
        this.$("desk-results").replaceChildren();
    }

    showRefused(items, onDismiss) {
        const T = this.T;
        const box = this.$("desk-refused");
        if (!items.length) {
            box.hidden = true;
            box.replaceChildren();
            return;
        }
        fill(box,
            el("h2", {text: T.refused_title}),
            el("p", {text: T.refused_hint}),
            el("ul", {}, items.map((item) => el("li", {class: "desk-refused-item"},
                el("span", {text: [
                    this.time(item.created),
                    item.label && item.label.name,
                    item.label && item.label.product,
                    this.reasonText(item.reason),
                ].filter(Boolean).join(" · ")}),
                el("button", {type: "button", class: "desk-btn desk-btn--small", onclick: () => onDismiss(item)}, T.dismiss),
            ))),
        );
        box.hidden = false;
    }
}
