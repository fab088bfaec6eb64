/* A download read as it arrives. The server writes its preload as one line for the head,
 * one line per record and one for the rest (desk/preload.py), which is still one JSON
 * document. Each record is parsed, and made ready for the store (each), while the next
 * bytes are on their way, so that the list is stored soon after the last byte. What is
 * kept of a record must not hold on to its line: V8's JSON.parse keeps a long string as a
 * slice of the text it came from (detached; docs/benchmarks.rst, "8 December: storing a download").
 * A body without those lines (an error, another server) is parsed whole. */

const HEAD_END = ',"attendees":[';

/** The body is not the whole document the server sent: the download fails and is asked for
 * again, as a connection dropped while it streamed. */
export class IncompleteDocument extends Error {
    constructor(message) {
        super(message);
        this.name = "IncompleteDocument";
    }
}

/** Takes the document's text in pieces of any size (push) and gives the object JSON.parse
 * would have given (end). each: what to keep of each record instead of the record (called
 * as its line arrives, so that the work is done while the next bytes are on their way and
 * the parsed record is garbage at once). */
export class LineDocument {
    constructor({each = null} = {}) {
        this.each = each;
        this.rest = "";
        this.head = null;
        this.tail = null;
        this.attendees = [];
        /** null until the first line is known: true when the body has the preload's lines */
        this.lined = null;
        this.whole = [];
    }

    push(text) {
        if (this.lined === false) {
            this.whole.push(text);
            return;
        }
        const buffered = this.rest + text;
        let start = 0;
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
            this.line(buffered.slice(start, newline));
            if (this.lined === false) {
                this.whole.push(buffered);
                this.rest = "";
                return;
            }
            start = newline + 1;
            newline = buffered.indexOf("\n", start);
        }
        this.rest = buffered.slice(start);
    }

    line(text) {
        if (this.lined === null) {
            this.lined = text.endsWith(HEAD_END);
            if (this.lined) {
                this.head = JSON.parse(text.slice(0, -HEAD_END.length) + "}");
            }
            return;
        }
        if (!text.trim()) {
            return;
        }
        if (this.tail !== null) {
            throw new IncompleteDocument("a line after the end of the document");
        }
        if (text.startsWith("],")) {
            this.tail = JSON.parse("{" + text.slice(2));
            return;
        }
        const record = JSON.parse(text.endsWith(",") ? text.slice(0, -1) : text);
        this.attendees.push(this.each ? this.each(record) : record);
    }

    /** The document; throws IncompleteDocument for a cut-off one, SyntaxError for one that
     * is no JSON (both as JSON.parse of the whole would). */
    end() {
        if (this.lined !== true) {
            const whole = JSON.parse(this.whole.join("") + this.rest);
            if (this.each && whole && Array.isArray(whole.attendees)) {
                whole.attendees = whole.attendees.map(this.each);
            }
            return whole;
        }
        if (this.rest.trim()) {
            this.line(this.rest);
            this.rest = "";
        }
        if (this.tail === null) {
            throw new IncompleteDocument("the download ends before its last line");
        }
        if (typeof this.tail.count === "number" && this.tail.count !== this.attendees.length) {
            throw new IncompleteDocument("the download has " + this.attendees.length + " of "
                                         + this.tail.count + " records");
        }
        return {...this.head, attendees: this.attendees, ...this.tail};
    }
}

/** The JSON document of a response's body, parsed line by line as it streams; each: as
 * for LineDocument. */
export async function readDocument(response, {each = null} = {}) {
    if (!response.body || typeof response.body.getReader !== "function") {
        const text = await response.text();
        if (!text) {
            return null;
        }
        const document = new LineDocument({each});
        document.push(text);
        return document.end();
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const document = new LineDocument({each});
    let empty = true;
    for (;;) {
        const {done, value} = await reader.read();
        if (done) {
            break;
        }
        if (empty) {
            mark("desk:download-first-bytes");
        }
        empty = empty && !value.length;
        document.push(decoder.decode(value, {stream: true}));
    }
    document.push(decoder.decode());
    mark("desk:download-read");
    return empty ? null : document.end();
}

/** A string of a parsed download that does not keep the download's text alive: V8 keeps a
 * parsed string as a slice of the text it came from, so one string kept per record would
 * keep every piece of the download (docs/benchmarks.rst, "8 December: storing a download"). */
export function detached(value) {
    return typeof value === "string" ? JSON.parse(JSON.stringify(value)) : value;
}

/** A point on the browser's performance timeline (DevTools, scripts/benchmark browser): where
 * a download's time goes, at no cost worth naming. */
export function mark(name) {
    if (typeof performance !== "undefined" && performance.mark) {
        performance.mark(name);
    }
}
