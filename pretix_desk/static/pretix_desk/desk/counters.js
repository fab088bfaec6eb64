/* The footer's counters: the chosen list's download (attendees, checked in, last sync) and
 * this event's queue (waiting for upload, and the parked items shown above). They are read
 * from the store each time, never counted along. */

export class Counters {
    /** desk: {store, queue, lists, ui, cards}, read at each refresh */
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
        const {queue, ui, cards} = this.desk;
        if (!queue) {
            ui.setCounters({queued: 0});
            cards.showParked([], null);
            return;
        }
        const mine = await queue.mine();
        ui.setCounters({queued: mine.filter((i) => i.state === "pending").length});
        cards.showParked(mine.filter((i) => i.state !== "pending"), (item) => queue.dismiss(item.seq));
    }
}
