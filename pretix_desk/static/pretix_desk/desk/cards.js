/* The view's lists: the attendee card (the answers pretix shows at check-in, the add-ons to
 * hand out, the badge to print) and the search results. What uploads leave to see (conflicts,
 * failing and parked items) is in uploadview.js. Only textContent is used for data. */

import {localized} from "./ui.js";
import {el, fmt} from "./util.js";

/** replaceChildren would turn a null into the text "null". */
function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

export class DeskCards {
    /** ui: the DeskUI (texts, times, product labels) */
    constructor(ui) {
        this.ui = ui;
        this.T = ui.T;
        this.$ = (id) => document.getElementById(id);
    }

    hideCard() {
        this.$("desk-card").hidden = true;
        this.$("desk-card").replaceChildren();
    }

    /**
     * @param attendee, lineItems  as the desk API sends them
     * @param onHandOut  function(lineItem), or null when hand-out is impossible here
     * @param onPrintBadge  function() printing the attendee's badge, or null
     */
    showCard({attendee, lineItems = [], onHandOut = null, onPrintBadge = null, offline = false}) {
        const T = this.T;
        const ui = this.ui;
        const card = this.$("desk-card");
        const redeemable = (lineItems || []).filter((li) => li.redeemable);
        const status = attendee.checked_in
            ? fmt(T.checked_in_at, {time: ui.time(attendee.checked_in_at)})
            : T.not_checked_in;
        const rows = redeemable.map((li) => {
            let action;
            if (li.redeemed) {
                action = el("span", {class: "desk-handed", text: li.redeemed_at ? fmt(T.handed_out_at, {time: ui.time(li.redeemed_at)}) : T.handed_out});
            } else if (onHandOut) {
                action = el("button", {
                    type: "button", class: "desk-btn desk-btn--primary desk-handout",
                    "data-line-item": String(li.line_item_id),
                    onclick: () => onHandOut(li),
                }, T.hand_out);
            } else {
                action = el("span", {class: "desk-muted", text: T.hand_out_needs_code});
            }
            const product = localized(li.product && li.product.name, ui.locale)
                + (li.variation ? " – " + localized(li.variation.name || li.variation.value, ui.locale) : "");
            return el("li", {class: "desk-addon" + (li.redeemed ? " desk-addon--done" : ""), "data-line-item": String(li.line_item_id)},
                el("span", {class: "desk-addon-name", text: product}), action);
        });
        const shown = (attendee.shown_answers || []).filter((a) => a && a.question);
        fill(card,
            el("div", {class: "desk-card-head"},
                el("h2", {class: "desk-card-name", text: attendee.name || "—"}),
                attendee.require_attention ? el("span", {class: "desk-badge desk-badge--attention", text: T.attention}) : null,
                onPrintBadge ? el("button", {
                    type: "button", class: "desk-btn desk-btn--small desk-print-badge", onclick: () => onPrintBadge(),
                }, T.print_badge) : null,
            ),
            el("dl", {class: "desk-card-facts"},
                el("dt", {text: T.product}), el("dd", {text: ui.productLabel(attendee)}),
                el("dt", {text: T.order}), el("dd", {text: attendee.order || ""}),
                attendee.email ? [el("dt", {text: T.email}), el("dd", {text: attendee.email})] : null,
            ),
            shown.length ? el("dl", {class: "desk-card-facts desk-shown-answers"},
                shown.flatMap((a) => [el("dt", {text: a.question}), el("dd", {text: a.answer || "—"})]),
            ) : null,
            el("p", {class: "desk-card-status", text: status}),
            redeemable.length ? el("h3", {text: T.addons}) : null,
            redeemable.length ? el("ul", {class: "desk-addons"}, rows) : null,
        );
        card.dataset.offline = offline ? "1" : "0";
        card.hidden = false;
    }

    markHandedOut(lineItemId, at) {
        const row = document.querySelector(`#desk-card li[data-line-item="${CSS.escape(String(lineItemId))}"]`);
        if (!row) {
            return;
        }
        row.classList.add("desk-addon--done");
        const button = row.querySelector("button");
        const done = el("span", {class: "desk-handed", text: at ? fmt(this.T.handed_out_at, {time: this.ui.time(at)}) : this.T.handed_out});
        if (button) {
            button.replaceWith(done);
        }
    }

    /** hits: [{attendee, access_code?, record?}]; a hit gets "Check in" when onCheckIn can
     * act on it (a code online, a downloaded record offline), and "Print badge" online when
     * onPrintBadge is given. */
    showResults(hits, {onCheckIn, onPrintBadge = null, offline = false} = {}) {
        const T = this.T;
        const ui = this.ui;
        const box = this.$("desk-results");
        const items = hits.map((hit) => {
            const a = hit.attendee || {};
            return el("li", {class: "desk-hit"},
                el("div", {class: "desk-hit-main"},
                    el("strong", {text: a.name || "—"}),
                    el("span", {class: "desk-muted", text: [ui.productLabel(a), a.order, a.email].filter(Boolean).join(" · ")}),
                    el("span", {class: a.checked_in ? "desk-hit-in" : "desk-muted",
                        text: a.checked_in ? fmt(T.checked_in_at, {time: ui.time(a.checked_in_at)}) : T.not_checked_in}),
                ),
                el("div", {class: "desk-hit-actions"},
                    (hit.access_code && onPrintBadge) ? el("button", {
                        type: "button", class: "desk-btn desk-hit-badge", onclick: () => onPrintBadge(hit),
                    }, T.print_badge) : null,
                    (hit.access_code || hit.record) ? el("button", {
                        type: "button", class: "desk-btn desk-btn--primary desk-hit-checkin",
                        onclick: () => onCheckIn(hit),
                    }, T.checkin_click) : null,
                ),
            );
        });
        fill(box,
            el("div", {class: "desk-results-head"},
                el("h2", {text: T.search_results}),
                el("button", {type: "button", class: "desk-btn desk-btn--small", onclick: () => this.hideResults()}, T.close),
            ),
            offline ? el("p", {class: "desk-muted", text: T.search_offline}) : null,
            hits.length ? el("ul", {class: "desk-hits"}, items) : el("p", {text: T.search_none}),
        );
        box.hidden = false;
    }

    /** Where the search results go: why there are none to be had (offline search for a
     * login without the search index). */
    showSearchUnavailable(text) {
        const box = this.$("desk-results");
        fill(box,
            el("div", {class: "desk-results-head"},
                el("h2", {text: this.T.search_results}),
                el("button", {type: "button", class: "desk-btn desk-btn--small", onclick: () => this.hideResults()}, this.T.close),
            ),
            el("p", {class: "desk-search-unavailable", text}),
        );
        box.hidden = false;
    }

    hideResults() {
        this.$("desk-results").hidden = true;
        this.$("desk-results").replaceChildren();
    }
}
