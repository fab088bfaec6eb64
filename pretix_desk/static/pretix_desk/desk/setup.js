/* The desk's setup beside the primary list (the header's drop-down), chosen once and
 * remembered on this device (prefs.js): the lists it also scans for, the gate it stands at,
 * and how badges are printed. The panel appears only where there is something to choose
 * (several lists, the organizer's gates, pretix's badges plugin). Only textContent is used
 * for data. */

import {BADGE_MODES} from "./prefs.js";
import {el, fmt} from "./util.js";

export class DeskSetup {
    /**
     * @param box       the <details> element of the panel
     * @param config    the page config: lists, gates, badges
     * @param prefs     the desk's settings
     * @param lists     the DeskLists (the primary list, alsoIds)
     * @param onChange  function(what) after staff changed "lists", "gate" or "badges"
     */
    constructor({box, config, prefs, lists, T, onChange = () => {}}) {
        this.box = box;
        this.config = config;
        this.prefs = prefs;
        this.lists = lists;
        this.T = T;
        this.onChange = onChange;
        const known = new Set((config.gates || []).map((g) => g.identifier));
        if (prefs.gate && !known.has(prefs.gate)) {
            prefs.gate = ""; // the gate was deleted in pretix
        }
        lists.alsoIds = prefs.alsoLists.filter((id) => lists.has(id));
    }

    /** The gate's identifier this desk sends with each scan, or "". */
    get gate() {
        return this.prefs.gate;
    }

    render() {
        const T = this.T;
        const others = this.config.lists.filter((l) => l.id !== this.lists.currentId);
        const gates = this.config.gates || [];
        const parts = [
            this.lists.currentId && others.length ? el("fieldset", {class: "desk-setup-lists"},
                el("legend", {text: T.also_scan_for}),
                others.map((l) => el("label", {class: "desk-setup-check"},
                    el("input", {
                        type: "checkbox", value: String(l.id), checked: this.lists.alsoIds.includes(l.id),
                        onchange: () => this.chooseAlso(),
                    }),
                    el("span", {text: l.name + (l.subevent ? " – " + l.subevent : "")}),
                )),
            ) : null,
            gates.length ? el("label", {class: "desk-setup-field"},
                el("span", {text: T.gate}),
                el("select", {id: "desk-gate", onchange: (e) => this.chooseGate(e.target.value)},
                    el("option", {value: ""}, T.no_gate),
                    gates.map((g) => el("option", {value: g.identifier, selected: g.identifier === this.prefs.gate}, g.name)),
                ),
            ) : null,
            this.config.badges ? el("label", {class: "desk-setup-field"},
                el("span", {text: T.badges}),
                el("select", {id: "desk-badges", onchange: (e) => this.chooseBadges(e.target.value)},
                    BADGE_MODES.map((m) => el("option", {value: m, selected: m === this.prefs.badges}, T["badges_" + m])),
                ),
            ) : null,
        ].filter(Boolean);
        this.box.replaceChildren(
            el("summary", {},
                el("span", {class: "desk-setup-title", text: T.setup}),
                el("span", {class: "desk-setup-summary", text: this.summary()}),
            ),
            el("div", {class: "desk-setup-body"}, parts),
        );
        this.box.hidden = !parts.length;
    }

    summary() {
        const T = this.T;
        const also = this.lists.chosen.slice(1).map((l) => l.name);
        const gate = (this.config.gates || []).find((g) => g.identifier === this.prefs.gate);
        return [
            also.length ? fmt(T.also_summary, {lists: also.join(", ")}) : null,
            gate ? fmt(T.gate_summary, {gate: gate.name}) : null,
            this.config.badges ? fmt(T.badges_summary, {mode: T["badges_" + this.prefs.badges]}) : null,
        ].filter(Boolean).join(" · ");
    }

    chooseAlso() {
        const checked = Array.from(this.box.querySelectorAll(".desk-setup-lists input:checked"), (i) => parseInt(i.value, 10));
        // The order of the page's lists: the server asks them in the order sent.
        const ids = this.config.lists.map((l) => l.id).filter((id) => checked.includes(id));
        this.lists.alsoIds = ids;
        this.prefs.alsoLists = ids;
        this.refreshSummary();
        this.onChange("lists");
    }

    chooseGate(identifier) {
        this.prefs.gate = identifier;
        this.refreshSummary();
        this.onChange("gate");
    }

    chooseBadges(mode) {
        this.prefs.badges = mode;
        this.refreshSummary();
        this.onChange("badges");
    }

    refreshSummary() {
        const summary = this.box.querySelector(".desk-setup-summary");
        if (summary) {
            summary.textContent = this.summary();
        }
    }
}
