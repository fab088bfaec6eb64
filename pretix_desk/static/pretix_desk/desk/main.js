/* The desk scanner page: wires the scanner input, camera, API client, offline store and sync
 * queue to the UI. Configuration and translated strings come from JSON blocks that the
 * server renders into the page. */

import {DeskApi, NetworkError} from "./api.js";
import {Camera} from "./camera.js";
import {codeHash} from "./hash.js";
import {answerRedeemOffline, answerScanOffline, markCheckedIn, markRedeemed} from "./offline.js";
import {SyncQueue} from "./queue.js";
import {attachScanner} from "./scanner.js";
import {beep, unlock} from "./sound.js";
import {DeskStore} from "./store.js";
import {DeskUI} from "./ui.js";
import {Deduper, fmt, newNonce} from "./util.js";

const SYNC_INTERVAL_ONLINE_MS = 30000;
const SYNC_INTERVAL_OFFLINE_MS = 8000;
const REPEAT_WINDOW_MS = 3000;

function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
}

/** Text typed by a person that is clearly not a ticket code goes to search. */
export function looksLikeSearch(text) {
    return /[\s@]/.test(text) || text.length < 16;
}

export class Desk {
    constructor(config, T) {
        this.config = config;
        this.T = T;
        this.ui = new DeskUI({T, locale: config.locale, timeZone: config.timezone});
        this.lists = new Map(config.lists.map((l) => [l.id, l]));
        this.apis = new Map();
        this.dedupe = new Deduper(REPEAT_WINDOW_MS);
        this.online = navigator.onLine !== false;
        this.store = null;
        this.queue = null;
        this.listId = null;
        this.direction = "entry";
        this.counts = {checkedIn: null, total: null};
        this.syncTimer = null;
        this.syncing = null;
        this.soundOn = true;
    }

    key(name) {
        return this.config.storage_key + ":" + name;
    }

    api(listId) {
        if (!this.apis.has(listId)) {
            this.apis.set(listId, new DeskApi({base: this.lists.get(listId).api, csrfToken: () => this.csrfToken()}));
        }
        return this.apis.get(listId);
    }

    csrfToken() {
        const name = this.config.csrf_cookie + "=";
        for (const part of document.cookie.split(";")) {
            const cookie = part.trim();
            if (this.config.csrf_cookie && cookie.startsWith(name)) {
                return decodeURIComponent(cookie.slice(name.length));
            }
        }
        return this.config.csrf_token;
    }

    get list() {
        return this.lists.get(this.listId) || null;
    }

    async init() {
        const $ = (id) => document.getElementById(id);
        try {
            this.store = await DeskStore.open();
        } catch (e) {
            this.store = null; // no IndexedDB (private mode): online only
        }
        if (this.store) {
            this.queue = new SyncQueue({
                store: this.store,
                apiFor: (id) => this.api(id),
                onChange: () => this.refreshQueue(),
                onAccepted: (item, data) => this.rememberServerAnswer(item.list, item.body.access_code, data),
            });
        }

        // List choice, remembered per event.
        const select = $("desk-list");
        const stored = parseInt(localStorage.getItem(this.key("list")) || "", 10);
        if (this.lists.has(stored)) {
            this.listId = stored;
        } else if (this.lists.size === 1) {
            this.listId = this.config.lists[0].id;
        } else if (this.lists.size > 1) {
            select.prepend(new Option("—", "", true, true));
        }
        if (this.listId) {
            select.value = String(this.listId);
        }
        select.disabled = this.lists.size === 0;
        select.addEventListener("change", () => this.chooseList(parseInt(select.value, 10)));

        // Entry / exit.
        this.setDirection(localStorage.getItem(this.key("direction")) === "exit" ? "exit" : "entry");
        $("desk-dir-entry").addEventListener("click", () => this.setDirection("entry"));
        $("desk-dir-exit").addEventListener("click", () => this.setDirection("exit"));

        this.soundOn = localStorage.getItem(this.key("sound")) !== "off";
        $("desk-sound").checked = this.soundOn;
        $("desk-sound").addEventListener("change", (e) => {
            this.soundOn = e.target.checked;
            localStorage.setItem(this.key("sound"), this.soundOn ? "on" : "off");
        });

        const input = $("desk-input");
        this.scanner = attachScanner(input, (text, how) => this.onInput(text, how));
        $("desk-form").addEventListener("submit", (e) => {
            e.preventDefault();
            const text = input.value.trim();
            input.value = "";
            if (text) {
                this.onInput(text, {viaScanner: false, enter: false, button: "check"});
            }
        });
        $("desk-search").addEventListener("click", () => {
            const text = input.value.trim();
            input.value = "";
            this.search(text);
        });
        $("desk-camera").addEventListener("click", () => this.toggleCamera());
        $("desk-sync").addEventListener("click", () => this.syncNow());
        document.addEventListener("pointerdown", unlock, {once: true});
        document.addEventListener("keydown", unlock, {once: true});
        // Refocus the input whenever the page comes back, so the next scan needs no click.
        window.addEventListener("focus", () => this.scanner.focus());
        document.addEventListener("click", (e) => {
            if (!e.target.closest("select, input, textarea, a")) {
                setTimeout(() => this.scanner.focus(), 0);
            }
        });

        window.addEventListener("online", () => {
            this.setOnline(true);
            this.syncNow();
        });
        window.addEventListener("offline", () => this.setOnline(false));
        this.ui.setOnline(this.online);

        if ("serviceWorker" in navigator && this.config.urls.service_worker) {
            navigator.serviceWorker.register(this.config.urls.service_worker).catch(() => {});
        }

        if (this.listId) {
            await this.loadCounts();
        } else if (this.lists.size) {
            this.ui.showResult("idle", {title: this.T.choose_list, reason: this.T.choose_list_hint});
        }
        await this.refreshQueue();
        this.scanner.focus();
        document.body.dataset.deskReady = "1";
        this.syncNow();
    }

    chooseList(listId) {
        if (!this.lists.has(listId)) {
            return;
        }
        this.listId = listId;
        localStorage.setItem(this.key("list"), String(listId));
        const placeholder = document.querySelector("#desk-list option[value='']");
        if (placeholder) {
            placeholder.remove();
        }
        this.ui.hideCard();
        this.ui.hideResults();
        this.ui.showResult("idle", {title: this.T.ready, reason: this.T.ready_hint});
        this.counts = {checkedIn: null, total: null};
        this.loadCounts();
        this.syncNow();
        this.scanner.focus();
    }

    setDirection(direction) {
        this.direction = direction;
        localStorage.setItem(this.key("direction"), direction);
        for (const dir of ["entry", "exit"]) {
            const button = document.getElementById("desk-dir-" + dir);
            button.classList.toggle("active", dir === direction);
            button.setAttribute("aria-pressed", dir === direction ? "true" : "false");
        }
        document.body.classList.toggle("desk--exit", direction === "exit");
    }

    setOnline(online) {
        if (online === this.online) {
            return;
        }
        this.online = online;
        this.ui.setOnline(online);
        this.scheduleSync();
    }

    /** After a network failure, requests wait for the background sync to find the server. */
    canTryNetwork() {
        return this.online && navigator.onLine !== false;
    }

    // ---- counters and sync -------------------------------------------------------------

    async loadCounts() {
        if (!this.store || !this.listId) {
            return;
        }
        const [counts, meta] = await Promise.all([this.store.counts(this.listId), this.store.getMeta(this.listId)]);
        this.counts = meta ? counts : {checkedIn: null, total: null};
        this.ui.setCounters({...this.counts, lastSync: meta ? meta.last_sync : null});
        if (meta) {
            document.body.dataset.lastSync = meta.last_sync;
        }
    }

    async refreshQueue() {
        if (!this.queue) {
            return;
        }
        const all = await this.store.queueAll();
        const pending = all.filter((i) => i.state === "pending");
        const refused = all.filter((i) => i.state === "refused");
        this.ui.setCounters({queued: pending.length});
        document.body.dataset.queued = String(pending.length);
        this.ui.showRefused(refused, (item) => this.queue.dismiss(item.seq));
    }

    scheduleSync() {
        clearTimeout(this.syncTimer);
        this.syncTimer = setTimeout(() => this.syncNow(), this.online ? SYNC_INTERVAL_ONLINE_MS : SYNC_INTERVAL_OFFLINE_MS);
    }

    /** Upload the queue, then refresh the preload. Each step runs even if the other fails. */
    syncNow() {
        if (!this.syncing) {
            this.syncing = this._sync().finally(() => {
                this.syncing = null;
                this.scheduleSync();
            });
        }
        return this.syncing;
    }

    async _sync() {
        if (!this.store || navigator.onLine === false) {
            this.setOnline(false);
            return;
        }
        try {
            const result = await this.queue.flush();
            if (result.accepted && this.online === false) {
                this.setOnline(true);
            }
            if (result.authFailed) {
                this.ui.note(this.T.session_expired);
            }
        } catch (e) {
            // An unexpected error must not keep the preload from refreshing.
        }
        if (this.listId) {
            await this.preload(this.listId);
        }
    }

    async preload(listId) {
        const meta = await this.store.getMeta(listId);
        let response;
        try {
            response = await this.api(listId).preload(meta ? {since: meta.sync_token, etag: meta.etag} : {});
            if (meta && response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 403) {
                // The sync token is no longer accepted: start over with a full preload.
                response = await this.api(listId).preload({});
                return this.applyPreload(listId, null, response);
            }
        } catch (e) {
            if (e instanceof NetworkError) {
                this.setOnline(false);
                return;
            }
            throw e;
        }
        this.setOnline(true);
        return this.applyPreload(listId, meta, response);
    }

    async applyPreload(listId, meta, response) {
        const now = new Date().toISOString();
        if (response.status === 304 && meta) {
            await this.store.putMeta({...meta, last_sync: now});
        } else if (response.status === 200 && response.data) {
            const data = response.data;
            const newMeta = {
                salt: data.salt,
                sync_token: data.sync_token,
                etag: response.headers.get("ETag"),
                last_sync: now,
            };
            const records = (data.attendees || []).map((r) => ({
                code_hash: r.code_hash, attendee: r.attendee, line_items: r.line_items || [],
            }));
            if (meta && meta.salt === data.salt && meta.sync_token) {
                await this.store.mergeList(listId, records, data.removed || [], newMeta);
            } else {
                await this.store.replaceList(listId, records, newMeta);
            }
        } else {
            if (response.status === 401 || response.status === 403) {
                this.ui.note(response.status === 403 ? this.T.forbidden : this.T.session_expired);
            }
            return;
        }
        if (listId === this.listId) {
            await this.loadCounts();
        }
    }

    /** Keep the local copy of an attendee in step with what the server just said. */
    async rememberServerAnswer(listId, code, data) {
        if (!this.store || !data || !data.attendee || !code) {
            return;
        }
        const meta = await this.store.getMeta(listId);
        if (!meta) {
            return;
        }
        const hash = await codeHash(meta.salt, code);
        const existing = await this.store.getAttendee(listId, hash);
        const wasIn = !!(existing && existing.attendee && existing.attendee.checked_in);
        if (data.status === "error" && data.reason !== "already_redeemed") {
            // Refused for good (unpaid, canceled, blocked, ...): never admit it offline.
            if (existing) {
                await this.store.deleteAttendee(listId, hash);
                await this.loadCounts();
            }
            return;
        }
        if (!existing && data.status !== "ok") {
            return; // only admissible tickets belong in the offline copy
        }
        const record = {
            list: listId,
            code_hash: hash,
            attendee: data.attendee,
            line_items: data.line_items || (existing ? existing.line_items : []),
        };
        if (data.line_item && existing) {
            record.line_items = existing.line_items.map((li) => (li.line_item_id === data.line_item.line_item_id ? data.line_item : li));
        }
        await this.store.putAttendee(record);
        if (listId === this.listId && this.counts.total !== null) {
            if (!existing) {
                this.counts.total += 1;
            }
            if (!wasIn && data.attendee.checked_in) {
                this.counts.checkedIn += 1;
            }
            this.ui.setCounters(this.counts);
        }
    }

    // ---- scanning ----------------------------------------------------------------------

    onInput(text, {viaScanner, button}) {
        if (!this.list) {
            this.ui.note(this.T.choose_list_hint);
            document.getElementById("desk-list").focus();
            return;
        }
        if (viaScanner) {
            this.scan(text, {source: "scanner"});
        } else if (button !== "check" && looksLikeSearch(text)) {
            this.search(text);
        } else {
            this.scan(text, {source: "manual"});
        }
    }

    async scan(code, {source}) {
        const list = this.list;
        if (!list) {
            return;
        }
        if (source !== "manual" && !this.dedupe.accept(code)) {
            this.ui.note(this.T.repeat_ignored);
            return;
        }
        this.dedupe.accept(code);
        const body = {access_code: code, type: this.direction, nonce: newNonce()};
        const startedAt = new Date().toISOString();
        this.ui.hideResults();
        this.ui.showResult("working", {title: this.T.working});
        if (this.canTryNetwork()) {
            try {
                const response = await this.api(list.id).scan(body);
                if (response.status === 401 || response.status === 403) {
                    this.ui.note(response.status === 403 ? this.T.forbidden : this.T.session_expired);
                } else {
                    this.showScanAnswer(code, response.data || {}, {status: response.status});
                    if (response.data && response.data.attendee) {
                        this.rememberServerAnswer(list.id, code, response.data);
                    }
                    return;
                }
            } catch (e) {
                if (!(e instanceof NetworkError)) {
                    throw e;
                }
                this.setOnline(false);
            }
        }
        // Offline answer. A scan whose request timed out keeps its nonce: if the server did
        // record it, the upload is recognised and nothing counts twice.
        await this.scanOffline(list, code, {...body, datetime: startedAt});
    }

    async scanOffline(list, code, body) {
        const meta = this.store ? await this.store.getMeta(list.id) : null;
        let record = null;
        let hash = null;
        if (meta) {
            hash = await codeHash(meta.salt, code);
            record = await this.store.getAttendee(list.id, hash);
        }
        const queued = this.queue ? (await this.queue.pending()).filter((q) => q.list === list.id && q.code_hash === hash) : [];
        const answer = answerScanOffline({record, queued, type: body.type, list});
        if (answer.status === "ok") {
            await this.queue.add({
                kind: "scan", list: list.id, body, codeHash: hash,
                label: {name: record.attendee.name, product: this.ui.productLabel(record.attendee)},
            });
            if (body.type === "entry" && !record.attendee.checked_in) {
                await this.store.putAttendee(markCheckedIn(record, body.datetime));
                if (this.counts.checkedIn !== null) {
                    this.counts.checkedIn += 1;
                    this.ui.setCounters(this.counts);
                }
            }
            this.showScanAnswer(code, {status: "ok", attendee: record.attendee, line_items: record.line_items}, {offline: true});
        } else {
            const attendee = record ? {...record.attendee, checked_in_at: answer.checked_in_at || record.attendee.checked_in_at} : null;
            this.showScanAnswer(code, {status: "error", reason: answer.reason, attendee, line_items: record && record.line_items}, {offline: true});
        }
    }

    showScanAnswer(code, data, {offline = false} = {}) {
        const T = this.T;
        this.shownCode = code;
        const attendee = data.attendee || null;
        const common = {
            name: attendee ? attendee.name : "",
            product: this.ui.productLabel(attendee),
            attention: !!(attendee && attendee.require_attention),
        };
        if (data.status === "ok") {
            const type = (data.checkin && data.checkin.type) || this.direction;
            const title = offline ? T.ok_offline : (type === "exit" ? T.ok_exit : T.ok_entry);
            this.ui.showResult("ok", {...common, title, reason: ""});
            this.feedback(common.attention ? "warn" : "ok");
        } else {
            const reason = data.reason || "error";
            const state = reason === "already_redeemed" ? "warn" : "error";
            let text = this.ui.reasonText(reason, {checkedInAt: attendee && attendee.checked_in_at, offline});
            if (data.reason_explanation) {
                text += ": " + data.reason_explanation;
            }
            this.ui.showResult(state, {...common, title: text, reason: offline ? T.offline : ""});
            this.feedback(state);
        }
        if (attendee && !data.line_items && !offline && this.canTryNetwork()) {
            this.completeCard(code, attendee);
        }
        if (attendee) {
            this.ui.showCard({
                attendee: data.status === "ok" && this.direction === "entry"
                    ? {...attendee, checked_in: true, checked_in_at: attendee.checked_in_at || (data.checkin && data.checkin.datetime) || new Date().toISOString()}
                    : attendee,
                lineItems: data.line_items || [],
                offline,
                onHandOut: (li) => this.handOut(code, attendee, li),
            });
        } else {
            this.ui.hideCard();
        }
        this.scanner.focus();
    }

    /** A refused scan's answer has no line items: fetch them, so add-ons can still be
     * handed out to someone who is already inside. */
    async completeCard(code, attendee) {
        const list = this.list;
        try {
            const response = await this.api(list.id).lookup(code);
            const card = document.getElementById("desk-card");
            if (response.status === 200 && response.data && this.shownCode === code && !card.hidden) {
                this.ui.showCard({
                    attendee: response.data.attendee,
                    lineItems: response.data.line_items || [],
                    onHandOut: (li) => this.handOut(code, response.data.attendee, li),
                });
            }
        } catch (e) {
            // The card without add-ons is still right.
        }
    }

    feedback(kind) {
        if (this.soundOn) {
            beep(kind);
        }
        if (navigator.vibrate) {
            try {
                navigator.vibrate(kind === "ok" ? 80 : [120, 60, 120]);
            } catch (e) {
                // ignore
            }
        }
    }

    // ---- add-ons -----------------------------------------------------------------------

    async handOut(code, attendee, lineItem) {
        const list = this.list;
        const body = {access_code: code, line_item_id: lineItem.line_item_id, nonce: newNonce()};
        const startedAt = new Date().toISOString();
        const label = {name: attendee.name, product: lineItem.product && lineItem.product.name};
        if (this.canTryNetwork()) {
            try {
                const response = await this.api(list.id).redeem(body);
                if (response.status === 201) {
                    this.markHandedOut(lineItem.line_item_id, (response.data.redemption || {}).datetime || startedAt);
                    this.rememberServerAnswer(list.id, code, response.data);
                    this.feedback("ok");
                } else if (response.status === 401 || response.status === 403) {
                    this.ui.note(response.status === 403 ? this.T.forbidden : this.T.session_expired);
                } else {
                    const data = response.data || {};
                    if (data.reason === "already_redeemed") {
                        this.markHandedOut(lineItem.line_item_id, data.redeemed_at);
                        this.ui.note(fmt(this.T.handed_out_at, {time: this.ui.time(data.redeemed_at)}));
                        this.feedback("warn");
                    } else {
                        this.ui.note(this.ui.reasonText(data.reason || "error"));
                        this.feedback("error");
                    }
                }
                this.scanner.focus();
                return;
            } catch (e) {
                if (!(e instanceof NetworkError)) {
                    throw e;
                }
                this.setOnline(false);
            }
        }
        const meta = this.store ? await this.store.getMeta(list.id) : null;
        const hash = meta ? await codeHash(meta.salt, code) : null;
        const record = hash ? await this.store.getAttendee(list.id, hash) : null;
        const queued = this.queue ? (await this.queue.pending()).filter((q) => q.list === list.id && q.code_hash === hash) : [];
        const answer = answerRedeemOffline({record, lineItemId: lineItem.line_item_id, queued});
        if (answer.status === "redeemed") {
            const fullBody = {...body, datetime: startedAt};
            await this.queue.add({kind: "redeem", list: list.id, body: fullBody, codeHash: hash, label});
            await this.store.putAttendee(markRedeemed(record, lineItem.line_item_id, startedAt));
            this.markHandedOut(lineItem.line_item_id, startedAt);
            this.feedback("ok");
        } else {
            this.ui.note(answer.reason === "already_redeemed"
                ? fmt(this.T.handed_out_at, {time: this.ui.time(answer.redeemed_at)})
                : this.ui.reasonText(answer.reason, {offline: true}));
            this.feedback(answer.reason === "already_redeemed" ? "warn" : "error");
        }
        this.scanner.focus();
    }

    markHandedOut(lineItemId, at) {
        const row = document.querySelector(`#desk-card li[data-line-item="${CSS.escape(String(lineItemId))}"]`);
        if (!row) {
            return;
        }
        row.classList.add("desk-addon--done");
        const button = row.querySelector("button");
        const done = document.createElement("span");
        done.className = "desk-handed";
        done.textContent = at ? fmt(this.T.handed_out_at, {time: this.ui.time(at)}) : this.T.handed_out;
        if (button) {
            button.replaceWith(done);
        }
    }

    // ---- search ------------------------------------------------------------------------

    async search(query) {
        const list = this.list;
        if (!list) {
            this.ui.note(this.T.choose_list_hint);
            return;
        }
        if (query.length < 3) {
            this.ui.note(this.T.search_short);
            return;
        }
        const onCheckIn = (hit) => this.scan(hit.access_code, {source: "manual"});
        if (this.canTryNetwork()) {
            try {
                const response = await this.api(list.id).search(query);
                if (response.status === 200) {
                    const raw = Array.isArray(response.data) ? response.data : (response.data.results || []);
                    const hits = raw.map((r) => (r.attendee ? r : {attendee: r, access_code: r.access_code}));
                    this.ui.showResults(hits, {onCheckIn});
                } else {
                    this.ui.note((response.data && (response.data.detail || response.data.q)) || this.T.reason_error);
                }
                return;
            } catch (e) {
                if (!(e instanceof NetworkError)) {
                    throw e;
                }
                this.setOnline(false);
            }
        }
        const records = this.store ? await this.store.search(list.id, query) : [];
        this.ui.showResults(records.map((r) => ({attendee: r.attendee, access_code: null})), {onCheckIn, offline: true});
    }

    // ---- camera ------------------------------------------------------------------------

    async toggleCamera() {
        const button = document.getElementById("desk-camera");
        const box = document.getElementById("desk-camera-box");
        if (this.camera && this.camera.running) {
            this.camera.stop();
            box.hidden = true;
            button.setAttribute("aria-pressed", "false");
            button.textContent = this.T.camera_start;
            return;
        }
        this.camera = this.camera || new Camera(document.getElementById("desk-video"), (code) => {
            if (this.list) {
                this.scan(code, {source: "camera"});
            }
        });
        box.hidden = false;
        try {
            await this.camera.start();
            button.setAttribute("aria-pressed", "true");
            button.textContent = this.T.camera_stop;
            document.body.dataset.camera = "on";
        } catch (e) {
            box.hidden = true;
            this.camera.stop();
            this.ui.note(this.T.camera_unavailable);
        }
    }
}

if (document.getElementById("desk-config")) {
    const desk = new Desk(readJson("desk-config"), readJson("desk-strings"));
    window.pretixDesk = desk;
    desk.init();
}
