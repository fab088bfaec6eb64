/* The footer's counters: the chosen list's download (attendees, checked in, last sync) and
 * this event's queue (waiting for upload; the items failing, the parked items and the
 * conflicts shown above). They are read from the store each time, never counted along. */

export class Counters {
    /** desk: {store, queue, conflicts, lists, ui, uploads, sync, T}, read at each refresh */
    constructor(desk) {
        this.desk = desk;
    }

    /** Recount the chosen list. Calls while a count runs are coalesced into one more count
     * (a big list takes a moment to count, and every scan asks for it). */
    list(listId) {
        if (this.counting) {
            this.again = true;
            return this.counting;
        }
        this.counting = this.countList(listId).finally(() => {
            this.counting = null;
            if (this.again) {
                this.again = false;
                this.list(this.desk.lists.currentId);
            }
        });
        return this.counting;
    }

    async countList(listId) {
        const {store, lists, ui} = this.desk;
        if (!listId || listId !== lists.currentId) {
            return;
        }
        if (!store) {
            ui.setCounters({checkedIn: null, total: null, lastSync: null});
            return;
        }
        const [counts, meta] = await Promise.all([store.counts(listId), store.getMeta(listId)]);
        ui.setCounters(meta
            ? {...counts, lastSync: meta.last_sync}
            : {checkedIn: null, total: null, lastSync: null});
    }

    async queue() {
        const {queue, ui, uploads} = this.desk;
        if (!queue) {
            ui.setCounters({queued: 0});
            uploads.showFailing([], null);
            uploads.showParked([], null);
            return;
        }
        const {queued, failing, parked} = await queue.summary();
        ui.setCounters({queued});
        this.desk.report.noteQueue({queued, parked: parked.length, failing: failing.length});
        await this.learnIndexedNames([...failing, ...parked]);
        uploads.showFailing(failing, () => this.retryNow());
        uploads.showParked(parked, (item) => queue.dismiss(item.seq));
    }

    /** Queued items hold no names; where this page has not seen one, the search index of a
     * login that may view orders has it (into the page's memory only). */
    async learnIndexedNames(items) {
        const {store, names} = this.desk;
        for (const item of items) {
            if (item.owner === null || item.owner === undefined || names.of({nonce: item.nonce, position: item.owner})) {
                continue;
            }
            const person = store && store.getPerson ? await store.getPerson(item.list, item.owner).catch(() => null) : null;
            names.learn({position: item.owner, name: person && person.name});
        }
    }

    async conflicts() {
        const {conflicts, uploads} = this.desk;
        const shown = conflicts ? await conflicts.shown() : [];
        uploads.showConflicts(shown, (entry) => conflicts.dismiss(entry.key));
    }

    /** "Retry now" on the failing items: their wait ends, and a sync uploads them. */
    async retryNow() {
        const {queue, sync, ui, T} = this.desk;
        ui.note(T.retrying);
        if (queue) {
            await queue.retryNow();
        }
        await sync.now();
    }
}
