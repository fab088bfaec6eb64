/* Beeps made with WebAudio: no sound files to download or cache. One high beep for yes,
 * two for "look again", a low buzz for no. */

let ctx = null;

function context() {
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Ctx) {
        return null;
    }
    if (!ctx) {
        ctx = new Ctx();
    }
    if (ctx.state === "suspended") {
        ctx.resume().catch(() => {});
    }
    return ctx;
}

function tone(ac, {freq, start, duration, type = "sine", volume = 0.25}) {
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    osc.type = type;
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(volume, ac.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.001, ac.currentTime + start + duration);
    osc.connect(gain).connect(ac.destination);
    osc.start(ac.currentTime + start);
    osc.stop(ac.currentTime + start + duration + 0.02);
}

const PATTERNS = {
    ok: [{freq: 1046, start: 0, duration: 0.15}],
    warn: [{freq: 740, start: 0, duration: 0.12}, {freq: 740, start: 0.18, duration: 0.12}],
    error: [{freq: 196, start: 0, duration: 0.45, type: "square", volume: 0.15}],
};

export function beep(kind) {
    try {
        const ac = context();
        if (!ac) {
            return;
        }
        for (const t of PATTERNS[kind] || PATTERNS.error) {
            tone(ac, t);
        }
    } catch (e) {
        // No sound is better than a broken desk.
    }
}

/** Browsers only allow audio after a user gesture: call this from one. */
export function unlock() {
    context();
}
