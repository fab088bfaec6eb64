/* The desk's settings in localStorage, per event (the page's storage key): the chosen list
 * and the lists it also scans for, the gate, the direction, the sound, badge printing, and
 * whether the list download was switched off on this device.
 * Without localStorage (some private windows) the settings last until the page closes. */

export const BADGE_MODES = ["auto", "button", "off"];

export class Prefs {
    constructor(storageKey, storage = globalThis.localStorage) {
        this.prefix = storageKey + ":";
        this.storage = storage;
        this.memory = new Map();
    }

    get(name) {
        try {
            return this.storage.getItem(this.prefix + name);
        } catch (e) {
            return this.memory.has(name) ? this.memory.get(name) : null;
        }
    }

    set(name, value) {
        this.memory.set(name, value);
        try {
            if (value === null) {
                this.storage.removeItem(this.prefix + name);
            } else {
                this.storage.setItem(this.prefix + name, value);
            }
        } catch (e) {
            // kept in memory
        }
    }

    get listId() {
        return parseInt(this.get("list") || "", 10);
    }

    set listId(id) {
        this.set("list", String(id));
    }

    /** The lists this desk also scans for, after the chosen one, in order. */
    get alsoLists() {
        return (this.get("also") || "").split(",").map((v) => parseInt(v, 10)).filter((id) => id > 0);
    }

    set alsoLists(ids) {
        this.set("also", ids.length ? ids.join(",") : null);
    }

    /** The identifier of the gate this desk stands at, or "" for none. */
    get gate() {
        return this.get("gate") || "";
    }

    set gate(identifier) {
        this.set("gate", identifier || null);
    }

    /** Badge printing: "auto" (on each check-in), "button" (on request) or "off". */
    get badges() {
        const mode = this.get("badges");
        return BADGE_MODES.includes(mode) ? mode : "button";
    }

    set badges(mode) {
        this.set("badges", BADGE_MODES.includes(mode) ? mode : null);
    }

    get direction() {
        return this.get("direction") === "exit" ? "exit" : "entry";
    }

    set direction(direction) {
        this.set("direction", direction);
    }

    get sound() {
        return this.get("sound") !== "off";
    }

    set sound(on) {
        this.set("sound", on ? "on" : "off");
    }

    /** "Remove the downloaded list from this device" also stops downloading it again, until
     * someone presses "Sync now". */
    get downloadsOff() {
        return this.get("downloads") === "off";
    }

    set downloadsOff(off) {
        this.set("downloads", off ? "off" : null);
    }
}
