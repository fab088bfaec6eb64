/* A download read as it arrives. The server writes its preload as one line for the head,
 * one line per record and one for the rest (desk/preload.py), which is still one JSON
 * document. Each record is parsed while the next bytes are on their way, so that the list
 * is stored moments after the last byte (it took seconds after it at 100,000 attendees).
 * It does not lower the heap: V8's JSON.parse keeps a long string as a slice of the text
 * it came from, so each line lives as long as its record (docs/benchmarks.rst, "The desk
 * page"). A body without those lines (an error, another server) is parsed whole. */

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
 * would have given (end). */
export class LineDocument {
    constructor() {
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
        this.attendees.push(JSON.parse(text.endsWith(",") ? text.slice(0, -1) : text));
    }

    /** The document; throws IncompleteDocument for a cut-off one, SyntaxError for one that
     * is no JSON (both as JSON.parse of the whole would). */
    end() {
        if (this.lined !== true) {
            return JSON.parse(this.whole.join("") + this.rest);
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

/** The JSON document of a response's body, parsed line by line as it streams. */
export async function readDocument(response) {
    if (!response.body || typeof response.body.getReader !== "function") {
        const text = await response.text();
        return text ? JSON.parse(text) : null;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const document = new LineDocument();
    let empty = true;
    for (;;) {
        const {done, value} = await reader.read();
        if (done) {
            break;
        }
        empty = empty && !value.length;
        document.push(decoder.decode(value, {stream: true}));
    }
    document.push(decoder.decode());
    return empty ? null : document.end();
}
