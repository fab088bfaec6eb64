/* The view of what uploads leave for staff to see: the conflicts pretix recorded (offline
 * answers that collide with what happened elsewhere), the items the server fails on (retried
 * later, on their own), and the items set aside (parked). Only textContent is used for data.
 * Names come from this page's memory (names.js): an item or conflict the page has not seen
 * a name for is shown by its product, time and list. */

import {SessionNames} from "./names.js";
import {el, fmt} from "./util.js";

/** "at Gate B at 18:58", or "at 18:58" where the server names no gate or device. */
function when(ui, {datetime, place}, withPlace, without) {
    const time = ui.time(datetime);
    return place ? fmt(withPlace, {place, time}) : fmt(without, {time});
}

/** Who a conflict is about: the name this page knows, else the product and the list. */
function whoOf(entry, listName) {
    if (entry.name) {
        return entry.name;
    }
    // a hand-out's product is part of what is said about it
    const product = entry.role === "redeem" ? null : entry.product;
    return [product, listName].filter(Boolean).join(" · ") || "—";
}

/** One line that says what collided, e.g. "Ada Lovelace — admitted offline at 19:02; already
 * used at Gate B at 18:58. pretix recorded it as a forced check-in."
 * listName: the name of the conflict's list, or null */
export function describeConflict(entry, ui, listName = null) {
    const T = ui.T;
    const other = entry.other && entry.other.datetime ? entry.other : null;
    const parts = [];
    if (entry.role === "redeem") {
        parts.push(fmt(T.conflict_handed_out_offline, {product: entry.product || T.addons, time: ui.time(entry.at)}));
        if (other) {
            parts.push(fmt(T.conflict_handed_out_before, {time: ui.time(other.datetime)}));
        }
    } else if (entry.role === "also") {
        parts.push(fmt(T.conflict_admitted_here, {time: ui.time(entry.at)}));
        if (other) {
            parts.push(when(ui, other, T.conflict_also_admitted_place, T.conflict_also_admitted));
        }
    } else {
        parts.push(fmt(T.conflict_admitted_offline, {time: ui.time(entry.at)}));
        if ((!entry.reason || entry.reason === "already_redeemed") && other) {
            parts.push(when(ui, other, T.conflict_used_at_place, T.conflict_used_at));
        } else if (entry.reason) {
            const reason = fmt(T.conflict_changed_since, {reason: ui.reasonText(entry.reason)});
            parts.push(entry.reason_explanation ? reason + ": " + entry.reason_explanation : reason);
        }
    }
    const recorded = {forced: T.conflict_recorded_forced, refused: T.conflict_recorded_refused}[entry.role];
    return whoOf(entry, listName) + " — " + parts.join("; ") + "." + (recorded ? " " + recorded : "");
}

/** Why the server failed on an item, in words. */
function failureText(T, error) {
    return T["failing_error_" + error] || T.failing_error_server;
}

export class UploadView {
    /**
     * @param ui        the DeskUI (texts, times)
     * @param names     this page's memory of names (names.js)
     * @param listName  function(listId): the list's name, or null
     */
    constructor(ui, {names = new SessionNames(), listName = () => null} = {}) {
        this.ui = ui;
        this.T = ui.T;
        this.names = names;
        this.listName = listName;
        this.$ = (id) => document.getElementById(id);
    }

    /** An item's line: its time, name (where known), product and list, then what else. */
    itemText(item, ...rest) {
        return [
            this.ui.time(item.created),
            this.names.of({nonce: item.nonce, position: item.owner}),
            item.label && item.label.product,
            this.listName(item.list),
            ...rest,
        ].filter(Boolean).join(" · ");
    }

    /** Show a box with its items, or hide it when there are none. */
    fillBox(box, items, ...head) {
        if (!items.length) {
            box.hidden = true;
            box.replaceChildren();
            return;
        }
        box.replaceChildren(...head, el("ul", {}, items));
        box.hidden = false;
    }

    /** entries: the shown conflicts, newest first; onDismiss(entry) */
    showConflicts(entries, onDismiss) {
        const T = this.T;
        this.fillBox(this.$("desk-conflicts"),
            entries.map((entry) => el("li", {class: "desk-refused-item desk-conflict", "data-role": entry.role},
                el("span", {text: describeConflict(entry, this.ui, this.listName(entry.list))}),
                el("button", {type: "button", class: "desk-btn desk-btn--small", onclick: () => onDismiss(entry)}, T.dismiss),
            )),
            el("h2", {text: T.conflicts_title}),
            el("p", {text: T.conflicts_hint}),
        );
    }

    /** items: pending items the server failed on; onRetry() uploads them now */
    showFailing(items, onRetry) {
        const T = this.T;
        const ui = this.ui;
        this.fillBox(this.$("desk-failing"),
            items.map((item) => el("li", {class: "desk-refused-item desk-failing-item", "data-attempts": String(item.attempts)},
                el("span", {text: this.itemText(item,
                    failureText(T, item.last_error),
                    // none while "Retry now" or the network is the wait
                    item.next_try ? fmt(T.failing_next_try, {time: ui.time(item.next_try)}) : null,
                )}),
            )),
            el("div", {class: "desk-results-head"},
                el("h2", {text: T.failing_title}),
                el("button", {type: "button", class: "desk-btn desk-btn--small desk-retry", onclick: () => onRetry()}, T.retry_now),
            ),
            el("p", {text: T.failing_hint}),
        );
    }

    /** Uploads set aside: refused by the server, for an unknown list, or failing. */
    parkedText(item) {
        if (item.response && item.response.answers) {
            return this.T.parked_answers;
        }
        if (item.why === "unknown_list") {
            return this.T.parked_unknown_list;
        }
        if (item.why === "error") {
            return this.T.parked_error;
        }
        return this.ui.reasonText(item.reason);
    }

    showParked(items, onDismiss) {
        const T = this.T;
        const allRefused = items.every((i) => i.why === "refused" || !i.why);
        this.fillBox(this.$("desk-refused"),
            items.map((item) => el("li", {class: "desk-refused-item", "data-why": item.why || "refused"},
                el("span", {text: this.itemText(item, this.parkedText(item))}),
                el("button", {type: "button", class: "desk-btn desk-btn--small", onclick: () => onDismiss(item)}, T.dismiss),
            )),
            el("h2", {text: allRefused ? T.refused_title : T.parked_title}),
            el("p", {text: allRefused ? T.refused_hint : T.parked_hint}),
        );
    }
}
