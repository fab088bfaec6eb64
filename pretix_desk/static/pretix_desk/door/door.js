/* The door page (views/door.py): the door endpoint's figures (docs/door-api.rst), refreshed
 * every few seconds without a reload. The plots are drawn by Morris, which pretix's control
 * panel already ships; every figure a plot shows is in a table too, for keyboards and screen
 * readers. Data goes into the page as text only. */
(function () {
    "use strict";
    const config = JSON.parse(document.getElementById("door-config").textContent);
    const T = config.strings;
    const MINUTE = 60000;
    const RECENT_MINUTES = 120;
    const time = new Intl.DateTimeFormat(config.locale, {hour: "2-digit", minute: "2-digit", timeZone: config.timezone});
    const clock = new Intl.DateTimeFormat(config.locale, {
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: config.timezone,
    });
    const dayHour = new Intl.DateTimeFormat(config.locale, {
        weekday: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: config.timezone,
    });
    let recentPlot = null;
    let wholePlot = null;
    let refreshes = 0;

    function fmt(text, values) {
        return text.replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
    }

    function el(tag, attrs, ...children) {
        const node = document.createElement(tag);
        for (const [name, value] of Object.entries(attrs || {})) {
            if (name === "text") {
                node.textContent = value;
            } else if (value !== null && value !== undefined) {
                node.setAttribute(name, value);
            }
        }
        node.append(...children.filter((c) => c !== null && c !== undefined));
        return node;
    }

    function cell(value, attrs) {
        return el("td", {class: "text-right", ...attrs, text: String(value)});
    }

    /** The capacity of a list (gate null) or a list at a gate, or null. */
    function capacityOf(data, listId, gateId) {
        const found = data.capacities.find((c) => c.list === listId && c.gate === gateId);
        return found ? found.capacity : null;
    }

    function ofCapacity(inside, capacity) {
        if (capacity === null) {
            return String(inside);
        }
        const text = fmt(T.of_capacity, {inside, capacity});
        return inside >= capacity ? text + " (" + T.full + ")" : text;
    }

    function showLists(data) {
        const gates = new Map(data.gates.map((g) => [g.id, g.name]));
        for (const g of config.gates) {
            gates.set(g.id, g.name);
        }
        const byGate = (l) => {
            const rows = new Map(l.inside_by_gate.map((g) => [g.gate, g.inside]));
            for (const c of data.capacities) {
                if (c.list === l.id && c.gate !== null && !rows.has(c.gate)) {
                    rows.set(c.gate, 0);
                }
            }
            return Array.from(rows, ([gate, n]) => fmt(T.inside_at, {
                gate: gate === null ? T.no_gate : (gates.get(gate) || String(gate)),
                n: gate === null ? n : ofCapacity(n, capacityOf(data, l.id, gate)),
            })).join(" · ") || "–";
        };
        document.querySelector("#door-lists tbody").replaceChildren(...data.lists.map((l) => {
            const capacity = capacityOf(data, l.id, null);
            return el("tr", {"data-list": l.id, class: capacity !== null && l.inside >= capacity ? "danger" : null},
                el("th", {scope: "row", text: l.name}),
                cell(l.expected, {"data-field": "expected"}),
                cell(l.entered, {"data-field": "entered"}),
                cell(l.not_arrived, {"data-field": "not_arrived"}),
                cell(l.inside, {"data-field": "inside"}),
                el("td", {"data-field": "capacity", text: capacity === null ? "–" : ofCapacity(l.inside, capacity)}),
                el("td", {"data-field": "inside_by_gate", text: byGate(l)}),
                cell(l.rate_per_minute.toLocaleString(config.locale), {"data-field": "rate"}),
                el("td", {"data-field": "all_in_at", text: l.all_in_at ? time.format(new Date(l.all_in_at)) : "–"}),
            );
        }));
    }

    function showCapacities(data) {
        const lists = new Map(data.lists.map((l) => [l.id, l.name]));
        const gates = new Map(config.gates.map((g) => [g.id, g]));
        const list = document.getElementById("door-capacities");
        if (!data.capacities.length) {
            list.replaceChildren(el("li", {class: "text-muted", text: T.no_capacities}));
            return;
        }
        list.replaceChildren(...data.capacities.map((c) => {
            const gate = c.gate === null ? null : gates.get(c.gate);
            const item = el("li", {"data-capacity-list": c.list, "data-capacity-gate": c.gate === null ? "" : c.gate},
                el("span", {text: fmt(T.capacity_of, {
                    list: lists.get(c.list) || String(c.list), gate: gate ? gate.name : T.whole_list, capacity: c.capacity,
                }) + " "}));
            if (config.may_set_capacity) {
                const remove = el("button", {type: "button", class: "btn btn-link btn-xs", text: T.remove});
                remove.addEventListener("click", () => saveCapacity({
                    list: c.list, gate: gate ? gate.identifier : null, capacity: null,
                }));
                item.append(remove);
            }
            return item;
        }));
    }

    async function saveCapacity(body) {
        const status = document.getElementById("door-capacity-status");
        status.textContent = "";
        try {
            const response = await fetch(config.capacity_api, {
                method: "POST", credentials: "same-origin", body: JSON.stringify(body),
                headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": config.csrf_token},
            });
            if (!response.ok) {
                const data = await response.json().catch(() => ({}));
                const error = Object.values(data).flat().join(" ") || "HTTP " + response.status;
                status.textContent = fmt(T.capacity_failed, {error});
                return;
            }
            status.textContent = "";
            refreshNow();
        } catch (e) {
            status.textContent = fmt(T.capacity_failed, {error: String(e)});
        }
    }

    function setUpCapacityForm(data) {
        const form = document.getElementById("door-capacity-form");
        if (!config.may_set_capacity || !form.hidden) {
            return;
        }
        const lists = document.getElementById("door-capacity-list");
        lists.replaceChildren(...data.lists.map((l) => el("option", {value: l.id, text: l.name})));
        const gates = document.getElementById("door-capacity-gate");
        gates.replaceChildren(el("option", {value: "", text: T.whole_list}),
            ...config.gates.map((g) => el("option", {value: g.identifier, text: g.name})));
        form.addEventListener("submit", (event) => {
            event.preventDefault();
            saveCapacity({
                list: parseInt(lists.value, 10), gate: gates.value || null,
                capacity: parseInt(document.getElementById("door-capacity-value").value, 10),
            });
        });
        form.hidden = false;
    }

    function showDesks(data) {
        const lists = new Map(data.lists.map((l) => [l.id, l.name]));
        const body = document.querySelector("#door-desks tbody");
        if (!data.desks.length) {
            body.replaceChildren(el("tr", {}, el("td", {colspan: "10", class: "text-muted", text: T.no_desks})));
            return;
        }
        const at = (iso) => (iso ? time.format(new Date(iso)) : "–");
        body.replaceChildren(...data.desks.map((d) => {
            const name = d.desk.slice(0, 6);
            const since = d.state === "quiet" ? d.last_seen : d.state_since;
            const state = [fmt(T["desk_" + d.state] || d.state, {time: at(since)})];
            if (d.offline_from && d.offline_until) {
                state.push(fmt(T.desk_was_offline, {from: at(d.offline_from), until: at(d.offline_until)}));
            } else if (d.offline_from) {
                state.push(fmt(T.desk_offline_since, {from: at(d.offline_from)}));
            }
            return el("tr", {"data-desk": d.desk, "data-state": d.state, class: d.state === "quiet" ? "warning" : null},
                el("th", {scope: "row", text: d.user ? fmt(T.desk_by, {desk: name, user: d.user}) : name}),
                el("td", {text: lists.get(d.list) || "–"}),
                el("td", {text: d.gate || T.no_gate}),
                el("td", {"data-field": "state", text: state.join(" · ")}),
                el("td", {"data-field": "last_sync", text: at(d.last_sync)}),
                cell(d.queued, {"data-field": "queued"}),
                cell(d.parked, {"data-field": "parked"}),
                cell(d.failing, {"data-field": "failing", class: d.failing ? "text-right text-danger" : "text-right"}),
                cell(d.scans_per_minute.toLocaleString(config.locale), {"data-field": "scans_per_minute"}),
                el("td", {text: d.version}),
            );
        }));
    }

    /** The plots and the sources' table show all lists, or the one chosen above them. */
    function ofChosenList(rows) {
        const chosen = document.getElementById("door-plot-list").value;
        return chosen ? rows.filter((row) => String(row[1]) === chosen) : rows;
    }

    function setUpListChoice(data) {
        const select = document.getElementById("door-plot-list");
        if (select.options.length > 1 || data.lists.length < 2) {
            select.closest(".form-group").hidden = data.lists.length < 2;
            return;
        }
        select.append(...data.lists.map((l) => el("option", {value: l.id, text: l.name})));
        select.addEventListener("change", refreshNow);
    }

    /** Entries at the door, exits and auto check-ins per bucket (ms since the epoch). */
    function perBucket(rows) {
        const buckets = new Map();
        for (const [bucket, , , source, type, n] of rows) {
            const t = Date.parse(bucket);
            const b = buckets.get(t) || {t, entries: 0, exits: 0, auto: 0};
            if (source === "auto") {
                b.auto += n;
            } else if (type === "exit") {
                b.exits += n;
            } else {
                b.entries += n;
            }
            buckets.set(t, b);
        }
        return buckets;
    }

    /** Every minute of the last two hours, with zeros where nothing happened. */
    function recentSeries(rows, at) {
        const buckets = perBucket(rows);
        const last = Math.floor(Date.parse(at) / MINUTE) * MINUTE;
        const out = [];
        for (let t = last - (RECENT_MINUTES - 1) * MINUTE; t <= last; t += MINUTE) {
            out.push(buckets.get(t) || {t, entries: 0, exits: 0, auto: 0});
        }
        return out;
    }

    function showRecent(data) {
        const series = recentSeries(ofChosenList(data.recent.rows), data.at);
        if (!recentPlot) {
            recentPlot = new Morris.Line({
                element: "door-plot-recent", data: series, xkey: "t", ykeys: ["entries", "exits", "auto"],
                labels: [T.entries, T.exits, T.auto], lineColors: ["#50a167", "#3b1c4a", "#aaaaaa"],
                dateFormat: (x) => time.format(new Date(x)), xLabelFormat: (d) => time.format(d),
                pointSize: 0, smooth: false, resize: true, hideHover: "auto",
            });
        } else {
            recentPlot.setData(series);
        }
    }

    function showWhole(data) {
        const series = Array.from(perBucket(ofChosenList(data.whole.rows)).values()).sort((a, b) => a.t - b.t)
            .map((b) => ({...b, label: dayHour.format(new Date(b.t))}));
        const target = document.getElementById("door-plot-whole");
        if (!series.length) {
            target.replaceChildren(el("p", {class: "text-muted", text: T.none}));
            wholePlot = null;
            return;
        }
        if (!wholePlot) {
            target.replaceChildren();
            wholePlot = new Morris.Bar({
                element: "door-plot-whole", data: series, xkey: "label", ykeys: ["entries", "exits", "auto"],
                labels: [T.entries, T.exits, T.auto], barColors: ["#50a167", "#3b1c4a", "#aaaaaa"],
                resize: true, hideHover: "auto",
            });
        } else {
            wholePlot.setData(series);
        }
    }

    /** The last two hours by source and gate: the recent plot as a table. */
    function showSources(data) {
        const gates = new Map(data.gates.map((g) => [g.id, g.name]));
        const totals = new Map();
        for (const [, , gate, source, type, n] of ofChosenList(data.recent.rows)) {
            const key = source + "|" + (gate === null ? "" : gate);
            const t = totals.get(key) || {source, gate, entries: 0, exits: 0};
            t[type === "exit" ? "exits" : "entries"] += n;
            totals.set(key, t);
        }
        const rows = Array.from(totals.values()).sort((a, b) => (a.source + a.gate).localeCompare(b.source + b.gate));
        document.querySelector("#door-sources tbody").replaceChildren(...rows.map((t) => el("tr",
            {"data-source": t.source, "data-gate": t.gate === null ? "" : t.gate},
            el("td", {text: T[t.source] || t.source}),
            el("td", {text: t.gate === null ? T.no_gate : (gates.get(t.gate) || String(t.gate))}),
            cell(t.entries, {"data-field": "entries"}),
            cell(t.exits, {"data-field": "exits"}),
        )));
    }

    function showConflicts(conflicts) {
        const list = document.getElementById("door-conflicts");
        if (!conflicts.length) {
            list.replaceChildren(el("li", {class: "list-group-item text-muted", text: T.no_conflicts}));
            return;
        }
        list.replaceChildren(...conflicts.map((c) => {
            const where = [c.gate && fmt(T.at_gate, {gate: c.gate}), c.device && fmt(T.by_device, {device: c.device})];
            const text = [fmt(T.forced, {time: dayHour.format(new Date(c.datetime))}), ...where].filter(Boolean).join(" ");
            return el("li", {class: "list-group-item", "data-checkin": c.checkin_id, "data-list": c.list},
                el("span", {text: text + " · "}),
                c.order_url
                    ? el("a", {href: c.order_url, text: fmt(T.open_order, {code: c.order})})
                    : el("span", {text: fmt(T.ticket, {id: c.position_id})}),
            );
        }));
    }

    let timer = null;

    async function refresh() {
        const status = document.getElementById("door-status");
        clearTimeout(timer);
        try {
            const response = await fetch(config.api, {credentials: "same-origin", headers: {Accept: "application/json"}});
            if (!response.ok) {
                throw new Error("HTTP " + response.status);
            }
            const data = await response.json();
            setUpListChoice(data);
            showLists(data);
            showCapacities(data);
            setUpCapacityForm(data);
            showDesks(data);
            showSources(data);
            showConflicts(data.conflicts);
            showRecent(data);
            showWhole(data);
            status.textContent = fmt(T.updated, {time: clock.format(new Date(data.at))});
            refreshes += 1;
            document.body.dataset.doorRefreshed = String(refreshes);
        } catch (e) {
            console.error(e);
            status.textContent = T.failed;
        } finally {
            clearTimeout(timer);
            timer = setTimeout(refresh, config.refresh_seconds * 1000);
        }
    }

    /** After a change made here: show it now, not at the next tick. */
    function refreshNow() {
        refresh();
    }

    refresh();
}());
