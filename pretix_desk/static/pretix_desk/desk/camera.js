/* QR codes from the phone's or laptop's camera: the browser's BarcodeDetector where it
 * exists, else the vendored jsQR decoder on downscaled video frames. */

const FRAME_INTERVAL_MS = 150;
/** A code that stays in view is reported once; it counts as new after this long unseen. */
const GONE_AFTER_MS = 2500;
const MAX_DECODE_WIDTH = 640;

let jsQrPromise = null;

/** Load vendor/jsQR.js (a UMD script) once, as a classic script next to this module. */
function loadJsQr() {
    if (globalThis.jsQR) {
        return Promise.resolve(globalThis.jsQR);
    }
    if (!jsQrPromise) {
        jsQrPromise = new Promise((resolve, reject) => {
            const script = document.createElement("script");
            script.src = new URL("./vendor/jsQR.js", import.meta.url).href;
            script.onload = () => (globalThis.jsQR ? resolve(globalThis.jsQR) : reject(new Error("jsQR missing")));
            script.onerror = () => {
                jsQrPromise = null;
                reject(new Error("jsQR failed to load"));
            };
            document.head.append(script);
        });
    }
    return jsQrPromise;
}

async function makeDecoder() {
    if ("BarcodeDetector" in globalThis) {
        try {
            const formats = await globalThis.BarcodeDetector.getSupportedFormats();
            if (formats.includes("qr_code")) {
                const detector = new globalThis.BarcodeDetector({formats: ["qr_code"]});
                return async (video) => {
                    const codes = await detector.detect(video);
                    return codes.length ? codes[0].rawValue : null;
                };
            }
        } catch (e) {
            // fall through to jsQR
        }
    }
    const jsQR = await loadJsQr();
    const canvas = document.createElement("canvas");
    const ctx2d = canvas.getContext("2d", {willReadFrequently: true});
    return async (video) => {
        if (!video.videoWidth) {
            return null;
        }
        const scale = Math.min(1, MAX_DECODE_WIDTH / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        ctx2d.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = ctx2d.getImageData(0, 0, canvas.width, canvas.height);
        const found = jsQR(image.data, image.width, image.height, {inversionAttempts: "attemptBoth"});
        return found && found.data ? found.data : null;
    };
}

export class Camera {
    constructor(video, onCode) {
        this.video = video;
        this.onCode = onCode;
        this.stream = null;
        this.timer = null;
        this.lastCode = null;
        this.lastSeen = 0;
    }

    /** Whether a decoded code is news, rather than the same ticket still held up. */
    fresh(code, now = Date.now()) {
        const isNew = code !== this.lastCode || now - this.lastSeen > GONE_AFTER_MS;
        this.lastCode = code;
        this.lastSeen = now;
        return isNew;
    }

    get running() {
        return this.stream !== null;
    }

    async start() {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
            throw new Error("no camera API");
        }
        const decode = await makeDecoder();
        this.stream = await navigator.mediaDevices.getUserMedia({
            video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}},
            audio: false,
        });
        this.video.srcObject = this.stream;
        await this.video.play();
        const tick = async () => {
            if (!this.stream) {
                return;
            }
            try {
                const code = await decode(this.video);
                if (code && this.fresh(code)) {
                    this.onCode(code);
                }
            } catch (e) {
                // A frame that cannot be read is skipped.
            }
            if (this.stream) {
                this.timer = setTimeout(tick, FRAME_INTERVAL_MS);
            }
        };
        tick();
    }

    stop() {
        clearTimeout(this.timer);
        if (this.stream) {
            for (const track of this.stream.getTracks()) {
                track.stop();
            }
        }
        this.stream = null;
        this.video.srcObject = null;
    }
}

/** The page's Camera button: starts and stops the camera and tells what went wrong.
 * Returns the click handler. */
export function cameraButton({button, box, video, T, onCode, onError}) {
    let camera = null;
    return async () => {
        if (camera && camera.running) {
            camera.stop();
            box.hidden = true;
            button.setAttribute("aria-pressed", "false");
            button.textContent = T.camera_start;
            return;
        }
        camera = camera || new Camera(video, onCode);
        box.hidden = false;
        try {
            await camera.start();
            button.setAttribute("aria-pressed", "true");
            button.textContent = T.camera_stop;
            document.body.dataset.camera = "on";
        } catch (e) {
            box.hidden = true;
            camera.stop();
            onError(T.camera_unavailable);
        }
    };
}
