/* The page's offline mode: opens the store, claims it for this login (another user's
 * download is deleted before anything is shown), creates the queue and the conflicts kept
 * from its uploads, and lets go when a newer
 * desk in another tab upgrades the database. It never makes the page wait: while another
 * tab blocks the upgrade, or without IndexedDB, the desk works online only and says so. */

import {CHANNEL_NAME as CONFLICTS_CHANNEL, Conflicts} from "./conflicts.js";
import {Sealer} from "./envelope.js";
import {claimForLogin} from "./privacy.js";
import {CHANNEL_NAME, SyncQueue} from "./queue.js";
import {prepareSigned} from "./signed.js";
import {DeskStore} from "./store.js";

/** Other tabs' changes show at once through a channel; without one, with this tab's next sync. */
function openChannel(name) {
    try {
        return new BroadcastChannel(name);
    } catch (e) {
        return null;
    }
}

export class OfflineMode {
    /**
     * @param desk     {config, T, conn, lists, ui, names, store, queue, conflicts}: store,
     *                 queue and conflicts are set here
     * @param onReady  function() once the store is usable (also when that comes late)
     * @param onAccepted  function(item, data) for each uploaded item
     * @param onQueueChange  function() when the queue changed (here or in another tab)
     * @param onConflictsChange  function() when the conflicts changed (here or in another tab)
     */
    constructor(desk, {onReady, onAccepted, onQueueChange, onConflictsChange}) {
        this.desk = desk;
        this.onReady = onReady;
        this.onAccepted = onAccepted;
        this.onQueueChange = onQueueChange;
        this.onConflictsChange = onConflictsChange;
    }

    async open() {
        const {ui, T} = this.desk;
        let blocked;
        const isBlocked = new Promise((resolve) => (blocked = resolve));
        const opening = DeskStore.open({
            onBlocked: () => {
                ui.banner(T.storage_blocked);
                blocked(null);
            },
            onVersionChange: (event) => this.closed(event),
        });
        const store = await Promise.race([opening, isBlocked]).catch(() => null);
        if (store) {
            await this.attach(store);
        } else {
            opening.then(async (late) => {
                await this.attach(late);
                ui.banner("");
                this.onReady();
            }).catch(() => {});
        }
    }

    async attach(store) {
        const desk = this.desk;
        try {
            await claimForLogin(store, desk.config.login);
        } catch (e) {
            store.close();
            return;
        }
        const event = desk.config.storage_key;
        desk.store = store;
        const queue = new SyncQueue({
            store, event, channel: openChannel(CHANNEL_NAME), names: desk.names,
            // what a queued item must not hold in clear is sealed to the event's key
            sealer: new Sealer(desk.config.upload_key, {unavailable: desk.T.cannot_seal}),
            apiFor: (item) => desk.lists.apiForItem(item),
            onChange: this.onQueueChange,
            onAccepted: this.onAccepted,
            onConflict: (item, data) => conflicts.fromUpload(item, data),
        });
        const conflicts = new Conflicts({
            store, event, channel: openChannel(CONFLICTS_CHANNEL), names: desk.names,
            uploaded: () => queue.uploaded(),
            onChange: this.onConflictsChange,
        });
        desk.queue = queue;
        desk.conflicts = conflicts;
        await desk.queue.adopt((listId) => desk.lists.baseOf(listId));
        desk.conn.setCapable(true);
        // A page reloaded offline gets no download to prepare the signed tickets' verifier
        // with: the kept heads do, so that the first signed scan does not wait for it.
        for (const list of desk.lists.chosen) {
            store.getMeta(list.id).then((meta) => meta && prepareSigned(meta.signed)).catch(() => {});
        }
    }

    /** Another tab upgrades (or deletes) the database: the store closed itself. */
    closed(event) {
        const desk = this.desk;
        desk.store = null;
        desk.queue = null;
        desk.conflicts = null;
        desk.conn.setCapable(false);
        this.onQueueChange();
        this.onConflictsChange();
        if (event.newVersion === null) {
            setTimeout(() => this.open().then(() => desk.store && this.onReady()), 200);
        } else {
            desk.ui.banner(desk.T.storage_upgraded, [{label: desk.T.reload, primary: true, onClick: () => location.reload()}]);
        }
    }
}
