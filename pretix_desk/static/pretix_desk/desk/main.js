/* The desk scanner page: builds the modules and wires them to each other and to the page's
 * controls. It decides nothing itself:
 *   connectivity.js  whether the server is reachable: the one state everybody reads
 *   actions.js       scan, hand out, search (the server, else offline.js and the queue);
 *                    checkin.js the scan itself, questions.js the check-in questions form,
 *                    badges.js badge printing
 *   lists.js, setup.js  the primary list, the lists it also scans for, gate and badge
 *                    settings (remembered in prefs.js)
 *   sync.js          queue upload and list download in the background
 *   storage.js       the offline store and queue (store.js, queue.js), or none
 *   privacy.js       log out, remove the download, another user's data; session.js
 *                    notices a login that ended elsewhere
 *   conflicts.js     what the uploads of offline answers collided with
 *   report.js        what this desk tells the door page about itself, with its syncs
 *   ui.js, cards.js, uploadview.js, counters.js  the view (names.js: the names this page
 *                    saw, never stored); scanner.js and camera.js the input
 * Configuration and translated strings come from JSON blocks the server renders. */

import {DeskActions} from "./actions.js";
import {Badges} from "./badges.js";
import {cameraButton} from "./camera.js";
import {DeskCards} from "./cards.js";
import {Connectivity} from "./connectivity.js";
import {Counters} from "./counters.js";
import {DeskLists} from "./lists.js";
import {SessionNames} from "./names.js";
import {Prefs} from "./prefs.js";
import {loggedOut, logout, removeDownloadsNow} from "./privacy.js";
import {QuestionForm} from "./questions.js";
import {DeskReporter} from "./report.js";
import {attachScanner} from "./scanner.js";
import {SessionWatch} from "./session.js";
import {DeskSetup} from "./setup.js";
import {beep, unlock} from "./sound.js";
import {OfflineMode} from "./storage.js";
import {Sync} from "./sync.js";
import {DeskUI} from "./ui.js";
import {UploadView} from "./uploadview.js";

const $ = (id) => document.getElementById(id);

function readJson(id) {
    return JSON.parse($(id).textContent);
}

function csrfToken(config) {
    const name = config.csrf_cookie + "=";
    for (const part of document.cookie.split(";")) {
        const cookie = part.trim();
        if (config.csrf_cookie && cookie.startsWith(name)) {
            return decodeURIComponent(cookie.slice(name.length));
        }
    }
    return config.csrf_token;
}

export class Desk {
    constructor(config, T) {
        this.config = config;
        this.T = T;
        this.store = null; // set by OfflineMode
        this.queue = null; // set by OfflineMode
        this.conflicts = null; // set by OfflineMode
        this.names = new SessionNames();
        this.ui = new DeskUI({T, locale: config.locale, timeZone: config.timezone});
        this.cards = new DeskCards(this.ui);
        this.uploads = new UploadView(this.ui, {
            names: this.names, listName: (listId) => (this.lists.get(listId) || {}).name || null,
        });
        this.counters = new Counters(this);
        this.prefs = new Prefs(config.storage_key);
        this.conn = new Connectivity({reachable: navigator.onLine !== false, capable: false});
        this.report = new DeskReporter({
            conn: this.conn, prefs: this.prefs, version: config.app_version + "+" + config.version.slice(0, 8),
        });
        this.session = new SessionWatch({
            url: config.urls.session, login: config.login,
            onEnded: () => loggedOut(this).then(() => this.refresh()),
            onOther: () => loggedOut(this, {otherUser: true}).then(() => this.refresh()),
            onBack: () => this.ui.banner(""),
        });
        this.lists = new DeskLists({
            lists: config.lists, reporter: this.session.watch(this.conn), csrfToken: () => csrfToken(config),
            status: this.report,
        });
        this.setup = new DeskSetup({
            box: $("desk-setup"), config, prefs: this.prefs, lists: this.lists, T,
            onChange: (what) => what === "lists" && this.sync.now(),
        });
        this.questions = new QuestionForm({
            box: $("desk-questions"), T, timeZone: config.timezone,
            // The form has the keyboard: a scanner fills its focused field, starts no scan.
            onOpen: () => this.scanner.hold(true),
            onClose: () => {
                this.scanner.hold(false);
                this.scanner.focus();
            },
        });
        this.badges = new Badges({
            enabled: config.badges, prefs: this.prefs, ui: this.ui, T,
            onPrinted: () => this.scanner.focus(),
        });
        this.actions = new DeskActions(this, {
            feedback: (kind) => this.feedback(kind),
            onLocalChange: (listId) => this.counters.list(listId),
            onQueued: () => this.conn.state !== "offline" && this.sync.now(),
        });
        this.sync = new Sync(this, {
            onListUpdated: (listId) => this.counters.list(listId),
            onAuthProblem: (status) => this.actions.noteAuth(status),
        });
        this.offline = new OfflineMode(this, {
            onReady: () => this.refresh().then(() => this.sync.now()),
            onQueueChange: () => this.counters.queue(),
            onConflictsChange: () => this.counters.conflicts(),
            onAccepted: (item, data) => this.actions.rememberAnswer(
                (data && data.list && data.list.id) || item.list,
                item.body.access_code ? {code: item.body.access_code} : {owner: item.owner}, data,
                {answers: item.body.answers}),
        });
    }

    async init() {
        const showConnectivity = () => this.ui.setConnectivity(this.conn.state, {capable: this.conn.capable});
        this.conn.subscribe(showConnectivity);
        showConnectivity();
        this.bindControls();
        await this.offline.open();
        if ("serviceWorker" in navigator && this.config.urls.service_worker) {
            navigator.serviceWorker.register(this.config.urls.service_worker).catch(() => {});
        }
        if (!this.lists.currentId && this.lists.size) {
            this.ui.showResult("idle", {title: this.T.choose_list, reason: this.T.choose_list_hint});
        }
        await this.refresh();
        this.scanner.focus();
        document.body.dataset.deskReady = "1";
        this.sync.now();
    }

    refresh() {
        return Promise.all([this.counters.list(this.lists.currentId), this.counters.queue(), this.counters.conflicts()]);
    }

    /** Upload the queue and refresh the download now (also for tests and the console). */
    syncNow() {
        return this.sync.now();
    }

    bindControls() {
        const select = $("desk-list");
        const stored = this.prefs.listId;
        if (this.lists.has(stored)) {
            this.lists.currentId = stored;
        } else if (this.lists.size === 1) {
            this.lists.currentId = this.config.lists[0].id;
        } else if (this.lists.size > 1) {
            select.prepend(new Option("—", "", true, true));
        }
        if (this.lists.currentId) {
            select.value = String(this.lists.currentId);
        }
        select.disabled = this.lists.size === 0;
        select.addEventListener("change", () => this.chooseList(parseInt(select.value, 10)));
        this.setup.render();

        this.setDirection(this.prefs.direction);
        $("desk-dir-entry").addEventListener("click", () => this.setDirection("entry"));
        $("desk-dir-exit").addEventListener("click", () => this.setDirection("exit"));
        $("desk-sound").checked = this.prefs.sound;
        $("desk-sound").addEventListener("change", (e) => (this.prefs.sound = e.target.checked));

        const input = $("desk-input");
        this.scanner = attachScanner(input, (text, how) => this.actions.onInput(text, how));
        $("desk-form").addEventListener("submit", (e) => {
            e.preventDefault();
            const text = input.value.trim();
            input.value = "";
            if (text) {
                this.actions.onInput(text, {viaScanner: false, enter: false, button: "check"});
            }
        });
        $("desk-search").addEventListener("click", () => {
            const text = input.value.trim();
            input.value = "";
            this.actions.search(text);
        });
        $("desk-camera").addEventListener("click", cameraButton({
            button: $("desk-camera"), box: $("desk-camera-box"), video: $("desk-video"), T: this.T,
            onCode: (code) => this.actions.scan(code, {source: "camera"}),
            onError: (text) => this.ui.note(text),
        }));
        $("desk-sync").addEventListener("click", () => {
            this.prefs.downloadsOff = false;
            this.sync.now();
        });
        $("desk-forget").addEventListener("click", async () => {
            await removeDownloadsNow(this);
            await this.counters.list(this.lists.currentId);
            this.ui.note(this.T.downloads_removed);
        });
        $("desk-logout").addEventListener("click", () => logout(this));
        document.addEventListener("pointerdown", unlock, {once: true});
        document.addEventListener("keydown", unlock, {once: true});
        this.conn.watch(window, {onBack: () => this.sync.now()});
    }

    chooseList(listId) {
        if (!this.lists.has(listId)) {
            return;
        }
        this.lists.currentId = listId;
        this.prefs.listId = listId;
        const placeholder = document.querySelector("#desk-list option[value='']");
        if (placeholder) {
            placeholder.remove();
        }
        $("desk-list").classList.remove("desk-attention");
        this.questions.cancel();
        this.setup.render();
        this.cards.hideCard();
        this.cards.hideResults();
        this.ui.showResult("idle", {title: this.T.ready, reason: this.T.ready_hint});
        this.ui.setCounters({checkedIn: null, total: null, lastSync: null});
        this.counters.list(listId);
        this.sync.now();
        this.scanner.focus();
    }

    setDirection(direction) {
        this.prefs.direction = direction;
        this.ui.setDirection(direction);
    }

    feedback(kind) {
        if (this.prefs.sound) {
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
}

if (document.getElementById("desk-config")) {
    const desk = new Desk(readJson("desk-config"), readJson("desk-strings"));
    window.pretixDesk = desk;
    desk.init();
}
