/* Keyboard-wedge scanners type the code faster than any human and may or may not press
 * Enter at the end. This module keeps the code input focused so that no click is needed,
 * and submits a burst of fast keystrokes by itself once the scanner pauses. */

/** Keystrokes this close together (ms) come from a scanner, not a person. */
export const SCANNER_MAX_GAP = 50;
/** A burst ends after this much silence (ms). */
export const BURST_IDLE = 120;
/** Shorter bursts are not codes (e.g. someone holding a key). */
export const MIN_BURST_LENGTH = 8;

/** Tracks keystroke timing of one input; pure logic, no DOM. */
export class BurstDetector {
    constructor({maxGap = SCANNER_MAX_GAP, minLength = MIN_BURST_LENGTH} = {}) {
        this.maxGap = maxGap;
        this.minLength = minLength;
        this.reset();
    }

    reset() {
        this.fast = 0;
        this.slow = 0;
        this.last = null;
    }

    key(at) {
        if (this.last !== null && at - this.last <= this.maxGap) {
            this.fast += 1;
        } else if (this.last !== null) {
            this.slow += 1;
        }
        this.last = at;
    }

    /** Whether what was typed so far looks like one scanner burst. */
    isScannerBurst(length) {
        // A busy computer may delay a few keystrokes of a scanner; a person is never this fast.
        return length >= this.minLength && this.fast >= length - 1 - Math.floor(length / 5) && this.slow <= Math.max(1, Math.floor(length / 5));
    }
}

/** Where typed characters belong to the focused element: text fields only. A focused select,
 * checkbox or button would swallow a scan (or a select would switch the list by type-ahead),
 * so their keys go to the code input. */
const TEXT_INPUTS = new Set(["text", "search", "email", "number", "password", "tel", "url"]);

function isEditable(target) {
    if (!target || !target.tagName) {
        return false;
    }
    const tag = target.tagName.toLowerCase();
    if (tag === "input") {
        return TEXT_INPUTS.has((target.type || "text").toLowerCase());
    }
    return tag === "textarea" || !!target.isContentEditable;
}

/**
 * @param input     the code input element
 * @param onSubmit  function(text, {viaScanner: bool, enter: bool})
 */
export function attachScanner(input, onSubmit, {idle = BURST_IDLE} = {}) {
    const detector = new BurstDetector();
    let idleTimer = null;
    // While a form of the page has the keyboard (check-in questions), keys stay where the
    // focus is: a scanner then fills the focused field and starts no scan.
    let held = false;

    const submit = (enter) => {
        clearTimeout(idleTimer);
        const text = input.value.trim();
        const viaScanner = detector.isScannerBurst(input.value.length);
        detector.reset();
        if (!text) {
            return;
        }
        input.value = "";
        onSubmit(text, {viaScanner, enter});
    };

    input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") {
            e.preventDefault();
            submit(true);
            return;
        }
        if (e.key.length === 1) {
            if (input.value === "") {
                detector.reset();
            }
            detector.key(e.timeStamp || performance.now());
        }
    });
    input.addEventListener("input", () => {
        clearTimeout(idleTimer);
        if (!input.value) {
            detector.reset();
            return;
        }
        idleTimer = setTimeout(() => {
            if (detector.isScannerBurst(input.value.length)) {
                submit(false);
            }
        }, idle);
    });

    // Characters typed into a focused text field (a check-in question's) stay there and
    // are no scan: once they pause as a burst would, body[data-scanner-ignored] counts them.
    // What the browser tests wait for, instead of a pause, to show that keys started no scan.
    let ignored = 0;
    let ignoredTimer = null;
    const leftAlone = () => {
        clearTimeout(ignoredTimer);
        ignoredTimer = setTimeout(() => {
            ignored += 1;
            document.body.dataset.scannerIgnored = String(ignored);
        }, idle);
    };

    // Keys typed while something else has focus (a button, the page) go to the input.
    document.addEventListener("keydown", (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || e.target === input) {
            return;
        }
        if (isEditable(e.target)) {
            if (e.key.length === 1) {
                leftAlone();
            }
            return;
        }
        if (held) {
            return;
        }
        if (e.key === " " && e.target !== document.body) {
            return; // space activates the focused button
        }
        if (e.key.length === 1) {
            input.focus();
            input.value += e.key;
            detector.key(e.timeStamp || performance.now());
            input.dispatchEvent(new Event("input"));
            e.preventDefault();
        } else if (e.key === "Enter" && input.value && e.target === document.body) {
            e.preventDefault();
            submit(true);
        }
    });

    // After any control was used (a button, a checkbox, a list picked in the drop-down), the
    // next scan must reach the input: focus goes back to it.
    const refocus = () => setTimeout(() => {
        if (!held && !isEditable(document.activeElement)) {
            input.focus({preventScroll: true});
        }
    }, 0);
    document.addEventListener("click", (e) => {
        // Not on a select: that click opens it. Its "change" brings the focus back.
        if (e.target.closest && !e.target.closest("select")) {
            refocus();
        }
    });
    document.addEventListener("change", (e) => {
        if (e.target !== input) {
            refocus();
        }
    });
    window.addEventListener("focus", refocus);

    return {
        focus() {
            if (!held && document.activeElement !== input && !isEditable(document.activeElement)) {
                input.focus({preventScroll: true});
            }
        },
        reset() {
            detector.reset();
        },
        /** on: keys stay with the focused element (no redirect, no refocus), and the code
         * input is disabled; off: back to scanning. */
        hold(on) {
            held = !!on;
            clearTimeout(idleTimer);
            detector.reset();
            input.value = "";
            input.disabled = held;
        },
    };
}
