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

    function showLists(data) {
        const gates = new Map(data.gates.map((g) => [g.id, g.name]));
        const byGate = (l) => l.inside_by_gate.map((g) => fmt(T.inside_at, {
            gate: g.gate === null ? T.no_gate : (gates.get(g.gate) || String(g.gate)), n: g.inside,
        })).join(" · ") || "–";
        document.querySelector("#door-lists tbody").replaceChildren(...data.lists.map((l) => el("tr", {"data-list": l.id},
            el("th", {scope: "row", text: l.name}),
            cell(l.expected, {"data-field": "expected"}),
            cell(l.entered, {"data-field": "entered"}),
            cell(l.not_arrived, {"data-field": "not_arrived"}),
            cell(l.inside, {"data-field": "inside"}),
            el("td", {"data-field": "inside_by_gate", text: byGate(l)}),
            cell(l.rate_per_minute.toLocaleString(config.locale), {"data-field": "rate"}),
            el("td", {"data-field": "all_in_at", text: l.all_in_at ? time.format(new Date(l.all_in_at)) : "–"}),
        )));
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
        const series = recentSeries(data.recent.rows, data.at);
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
        const series = Array.from(perBucket(data.whole.rows).values()).sort((a, b) => a.t - b.t)
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
        for (const [, , gate, source, type, n] of data.recent.rows) {
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

    async function refresh() {
        const status = document.getElementById("door-status");
        try {
            const response = await fetch(config.api, {credentials: "same-origin", headers: {Accept: "application/json"}});
            if (!response.ok) {
                throw new Error("HTTP " + response.status);
            }
            const data = await response.json();
            showLists(data);
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
            setTimeout(refresh, config.refresh_seconds * 1000);
        }
    }

    refresh();
}());
