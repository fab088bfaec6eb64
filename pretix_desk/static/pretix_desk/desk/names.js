/* Who is who, as this page learnt it since it was opened. Queued items and conflicts are
 * stored without names (docs/offline.rst, "Sealed records"); the page shows a name beside
 * them only while it knows it from this session (the scan that queued the item, the server's
 * answer to its upload). After a reload they show product, time and list instead. Nothing
 * here is ever stored. */

const key = (value) => (value === null || value === undefined ? null : String(value));

export class SessionNames {
    constructor() {
        this.byNonce = new Map();
        this.byPosition = new Map();
    }

    /** A name seen for a queued item (its nonce) and/or a position. */
    learn({nonce = null, position = null, name}) {
        if (!name) {
            return;
        }
        if (key(nonce)) {
            this.byNonce.set(key(nonce), name);
        }
        if (key(position)) {
            this.byPosition.set(key(position), name);
        }
    }

    /** An attendee as a server answer shows it ({position_id, name, ...}). */
    learnAttendee(attendee, nonce = null) {
        if (attendee) {
            this.learn({nonce, position: attendee.position_id, name: attendee.name});
        }
    }

    of({nonce = null, position = null}) {
        return (key(nonce) && this.byNonce.get(key(nonce))) || (key(position) && this.byPosition.get(key(position))) || null;
    }

    /** Logged out: the page forgets whom it saw. */
    forget() {
        this.byNonce.clear();
        this.byPosition.clear();
    }
}
