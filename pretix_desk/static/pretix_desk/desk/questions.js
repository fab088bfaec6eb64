/* Check-in questions at the door. pretix asks them before it checks a ticket in ("ask
 * during check-in"); the server names them in an "incomplete" answer, or offline the
 * record's "ask" step does (definitions from the preload head). This form only collects the
 * answers: the caller sends them with the same scan (online) or queues them (offline), and
 * pretix validates them; the question's limits (lengths, numbers, dates and date-times in
 * the event's time zone) are held here first, so nothing admitted offline is refused later. Made for a desk: big yes/no and choice buttons, keyboard first (Tab
 * moves, Enter submits, Escape cancels); while it is open a scanner fills the focused field
 * (the caller holds the scanner's redirect). Only textContent is used for data. */

import {el, fmt} from "./util.js";

/** pretix's question types the form shows as an <input>, and its type. */
const INPUT_TYPES = {N: "number", S: "text", TEL: "tel", CC: "text", D: "date", H: "time", W: "datetime-local"};

/** The years a date or date-time answer may name. A date field lets staff type year 9999 or
 * 275760; pretix would store it, and a date-time that far out breaks where it is converted
 * between time zones, so the server refuses it: refuse it here first. */
export const YEARS = {min: 1900, max: 2999};
/** The server refuses longer answers (pretix_desk/desk/questions.py). */
export const MAX_ANSWER_LENGTH = 10000;

/** An instant (ISO 8601 with offset) as the wall time of a time zone, "YYYY-MM-DDTHH:MM:SS":
 * what a datetime-local field holds, which pretix reads in the event's time zone. */
export function wallTime(iso, timeZone) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) {
        return null;
    }
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", {
        timeZone: timeZone || undefined, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    for (const part of format.formatToParts(date)) {
        parts[part.type] = part.value;
    }
    return `${parts.year.padStart(4, "0")}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

/** A decimal string as [digits as BigInt, decimal places], or null for anything else (an
 * exponent): pretix compares numbers as Decimals, a float would round "10.0000000000000001". */
function decimal(text) {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(String(text).trim());
    if (!m || !(m[2] || m[3])) {
        return null;
    }
    const fraction = m[3] || "";
    return [BigInt(m[1] + (m[2] || "0") + fraction), fraction.length];
}

/** -1, 0 or 1 as a < b, for number answers and limits. */
export function compareNumbers(a, b) {
    const x = decimal(a);
    const y = decimal(b);
    if (!x || !y) {
        const diff = Number(a) - Number(b);
        return diff < 0 ? -1 : (diff > 0 ? 1 : 0);
    }
    const places = Math.max(x[1], y[1]);
    const left = x[0] * 10n ** BigInt(places - x[1]);
    const right = y[0] * 10n ** BigInt(places - y[1]);
    return left < right ? -1 : (left > right ? 1 : 0);
}

/** A question's limits in the form the answer takes: numbers as sent; dates "YYYY-MM-DD"
 * and date-times as wall times of the event's time zone, both within YEARS; lengths as
 * numbers (at most the server's). Keys left out where nothing limits. */
export function answerLimits(question, timeZone) {
    const limits = question.limits || {};
    const out = {};
    if (question.type === "N") {
        out.min = limits.min;
        out.max = limits.max;
    } else if (question.type === "D") {
        const min = `${YEARS.min}-01-01`;
        const max = `${YEARS.max}-12-31`;
        out.min = limits.min && limits.min > min ? limits.min : min;
        out.max = limits.max && limits.max < max ? limits.max : max;
    } else if (question.type === "W") {
        const min = `${YEARS.min}-01-01T00:00:00`;
        const max = `${YEARS.max}-12-31T23:59:59`;
        const wallMin = limits.min ? wallTime(limits.min, timeZone) : null;
        const wallMax = limits.max ? wallTime(limits.max, timeZone) : null;
        out.min = wallMin && wallMin > min ? wallMin : min;
        out.max = wallMax && wallMax < max ? wallMax : max;
    }
    out.maxLength = Math.min(MAX_ANSWER_LENGTH, limits.max_length !== undefined ? Number(limits.max_length) : Infinity);
    if (limits.min_length !== undefined) {
        out.minLength = Number(limits.min_length);
    }
    return out;
}

/** A wall time as a datetime-local field's bound: whole minutes (the field's step), the
 * minimum rounded up and the maximum down, so that every minute the field allows is allowed. */
function minuteBound(wall, up) {
    const minute = wall.slice(0, 16);
    if (!up || wall.slice(16) === ":00") {
        return minute;
    }
    const next = new Date(Date.parse(minute + ":00Z") + 60000).toISOString();
    return next.slice(0, 16);
}

/** The attributes of a field that hold the limits in the browser (its own messages). */
function limitAttrs(question, timeZone) {
    const limits = answerLimits(question, timeZone);
    const attrs = {minlength: limits.minLength, maxlength: limits.maxLength};
    if (question.type === "W") {
        attrs.min = minuteBound(limits.min, true);
        attrs.max = minuteBound(limits.max, false);
    } else if (question.type === "N" || question.type === "D") {
        attrs.min = limits.min;
        attrs.max = limits.max;
    }
    return attrs;
}

/** Why an answer is outside the question's limits, or null. Checked here and not only by
 * the browser's field constraints: an answer given offline is admitted at once, so it must
 * never be one the server refuses at upload. */
export function limitProblem(question, value, {T, timeZone = null} = {}) {
    if (typeof value !== "string" || value === "") {
        return null;
    }
    const limits = answerLimits(question, timeZone);
    const length = [...value].length; // pretix counts characters, not UTF-16 units
    if (limits.maxLength !== undefined && length > limits.maxLength) {
        return fmt(T.answer_max_length, {n: limits.maxLength});
    }
    if (limits.minLength !== undefined && length < limits.minLength) {
        return fmt(T.answer_min_length, {n: limits.minLength});
    }
    if (question.type === "N") {
        if (limits.min !== undefined && limits.min !== null && compareNumbers(value, limits.min) < 0) {
            return fmt(T.answer_min, {min: limits.min});
        }
        if (limits.max !== undefined && limits.max !== null && compareNumbers(value, limits.max) > 0) {
            return fmt(T.answer_max, {max: limits.max});
        }
    } else if (question.type === "D" || question.type === "W") {
        const year = /^(\d{4})-\d\d-\d\d/.exec(value);
        if (!year || Number(year[1]) < YEARS.min || Number(year[1]) > YEARS.max) {
            return fmt(T.answer_year, YEARS);
        }
        // a datetime-local value may leave out the seconds: "T10:00" is "T10:00:00"
        const given = question.type === "W" && value.length === 16 ? value + ":00" : value;
        const shown = (bound) => bound.replace("T", " ").slice(0, 16);
        if (given < limits.min) {
            return fmt(T.answer_min, {min: shown(limits.min)});
        }
        if (given > limits.max) {
            return fmt(T.answer_max, {max: shown(limits.max)});
        }
    }
    return null;
}

/** Questions the desk cannot collect (file uploads): the ticket must be checked in with pretix. */
export function unsupportedOf(questions) {
    return (questions || []).filter((q) => q.unsupported || q.type === "F");
}

/** The answer of one question as the scan's "answers" take it, from the form's controls. */
export function readAnswer(question, form) {
    const name = "q" + question.id;
    if (question.type === "B") {
        const checked = form.querySelector(`input[name="${name}"]:checked`);
        return checked ? checked.value === "true" : false;
    }
    if (question.type === "C") {
        const checked = form.querySelector(`input[name="${name}"]:checked`);
        return checked ? Number(checked.value) : "";
    }
    if (question.type === "M") {
        return Array.from(form.querySelectorAll(`input[name="${name}"]:checked`), (c) => Number(c.value));
    }
    const field = form.elements.namedItem(name);
    return field ? field.value.trim() : "";
}

/** Why an answer cannot be sent, before the server is asked: nothing given for a required
 * question (a required yes/no must be "yes", as pretix requires), or what the browser says
 * about the field's constraints (pretix's limits). null when it can be sent. */
export function localProblem(question, value, field, T, timeZone = null) {
    if (question.required) {
        if (question.type === "B" && value !== true) {
            return T.answer_yes_required;
        }
        if (value === "" || value === false || (Array.isArray(value) && !value.length)) {
            return T.answer_required;
        }
    }
    if (field && field.checkValidity && !field.checkValidity()) {
        return field.validationMessage || T.answer_invalid;
    }
    return limitProblem(question, value, {T, timeZone});
}

function choiceControls(question, {multiple, value, T}) {
    const name = "q" + question.id;
    const choices = question.type === "B"
        ? [{id: "true", answer: T.yes}, {id: "false", answer: T.no}]
        : (question.options || []).map((o) => ({id: String(o.id), answer: o.answer}));
    const chosen = (v) => (Array.isArray(value) ? value.map(String).includes(v) : value !== undefined && String(value) === v);
    return el("div", {class: "desk-q-choices" + (question.type === "B" ? " desk-q-choices--yesno" : "")},
        choices.map((c) => el("label", {class: "desk-q-choice"},
            el("input", {
                type: multiple ? "checkbox" : "radio", name, value: c.id,
                checked: chosen(c.id), "aria-describedby": `desk-q-${question.id}-error`,
                // one of a required group must be chosen (said by screen readers; checked here)
                required: !multiple && !!question.required,
            }),
            el("span", {text: c.answer}),
        )),
    );
}

function fieldControl(question, {value, timeZone}) {
    const {min, max, minlength, maxlength} = limitAttrs(question, timeZone);
    const common = {
        id: `desk-q-${question.id}`, name: "q" + question.id, required: !!question.required,
        "aria-describedby": `desk-q-${question.id}-error`, autocomplete: "off", minlength, maxlength,
    };
    if (question.type === "T") {
        const area = el("textarea", {...common, rows: "3"});
        area.value = value || "";
        return area;
    }
    const type = INPUT_TYPES[question.type] || "text";
    const attrs = {...common, type};
    if (type === "number") {
        Object.assign(attrs, {step: "any", inputmode: "decimal", min, max});
    } else if (type === "date" || type === "datetime-local") {
        Object.assign(attrs, {min, max});
    } else if (question.type === "CC") {
        Object.assign(attrs, {pattern: "[A-Za-z]{2}", maxlength: "2", autocapitalize: "characters", spellcheck: "false"});
    } else if (type === "text") {
        Object.assign(attrs, {spellcheck: "false", autocapitalize: "off"});
    }
    const input = el("input", attrs);
    input.value = value === undefined || value === null ? "" : String(value);
    return input;
}

export class QuestionForm {
    /**
     * @param box      the element the form is shown in
     * @param T        the page's strings
     * @param timeZone the event's time zone: pretix reads a date-time answer in it
     * @param onOpen   function() when the form takes the keyboard (hold the scanner)
     * @param onClose  function() when it gives it back
     */
    constructor({box, T, timeZone = null, onOpen = () => {}, onClose = () => {}}) {
        this.box = box;
        this.T = T;
        this.timeZone = timeZone;
        this.onOpen = onOpen;
        this.onClose = onClose;
        this.pending = null;
    }

    get isOpen() {
        return this.pending !== null;
    }

    /**
     * @param questions  [{id, question, type, required, help_text, options, limits}]
     * @param values     answers given before, by question id (kept when the server refused one)
     * @param errors     the server's messages, {"<id>": ["…"]}
     * @returns a Promise of the answers ({"<id>": value}), or null when staff cancel
     */
    ask({questions, values = {}, errors = {}}) {
        this.finish(null);
        return new Promise((resolve) => {
            this.pending = resolve;
            this.render(questions, values, errors || {});
            this.onOpen();
            this.focusFirst(errors || {});
        });
    }

    /** Close the form as if staff cancelled it (another list was chosen, ...). */
    cancel() {
        this.finish(null);
    }

    finish(answers) {
        const resolve = this.pending;
        if (!resolve) {
            return;
        }
        this.pending = null;
        this.box.hidden = true;
        this.box.replaceChildren();
        this.onClose();
        resolve(answers);
    }

    render(questions, values, errors) {
        const T = this.T;
        const known = new Set(questions.map((q) => String(q.id)));
        const other = Object.entries(errors).filter(([id]) => !known.has(id)).flatMap(([, m]) => m);
        const form = el("form", {class: "desk-q-form", novalidate: true, "aria-label": T.questions_title},
            el("p", {class: "desk-q-hint", text: T.questions_hint}),
            other.length ? el("p", {class: "desk-q-error desk-q-error--all", role: "alert", text: other.join(" ")}) : null,
            questions.map((q) => this.renderQuestion(q, values[String(q.id)], errors[String(q.id)])),
            el("div", {class: "desk-q-actions"},
                el("button", {type: "submit", class: "desk-btn desk-btn--primary desk-q-submit"}, T.questions_submit),
                el("button", {type: "button", class: "desk-btn desk-q-cancel", onclick: () => this.finish(null)}, T.cancel),
            ),
        );
        form.addEventListener("submit", (e) => {
            e.preventDefault();
            this.submit(form, questions);
        });
        form.addEventListener("keydown", (e) => this.onKey(e, form));
        this.form = form;
        this.box.replaceChildren(form);
        this.box.hidden = false;
    }

    renderQuestion(q, value, errors) {
        const T = this.T;
        const grouped = ["B", "C", "M"].includes(q.type);
        const label = [
            el("span", {text: q.question}),
            q.required ? el("span", {class: "desk-q-required", title: T.required, text: " *"}) : null,
        ];
        const control = grouped
            ? choiceControls(q, {multiple: q.type === "M", value, T})
            : fieldControl(q, {value, timeZone: this.timeZone});
        const error = el("p", {
            class: "desk-q-error", id: `desk-q-${q.id}-error`, role: "alert",
            text: (errors || []).join(" "),
        });
        const help = q.help_text ? el("p", {class: "desk-q-help", text: q.help_text}) : null;
        const attrs = {class: "desk-q", "data-question": String(q.id), "data-type": q.type, "data-invalid": errors && errors.length ? "1" : null};
        return grouped
            ? el("fieldset", attrs, el("legend", {class: "desk-q-label"}, label), help, control, error)
            : el("div", attrs, el("label", {class: "desk-q-label", for: `desk-q-${q.id}`}, label), help, control, error);
    }

    /** Enter submits (also from a yes/no or choice button, where browsers would not), Ctrl+Enter
     * from a text area; Escape cancels. */
    onKey(e, form) {
        if (e.key === "Escape") {
            e.preventDefault();
            this.finish(null);
        } else if (e.key === "Enter" && e.target.tagName === "INPUT") {
            e.preventDefault();
            form.requestSubmit();
        } else if (e.key === "Enter" && e.target.tagName === "TEXTAREA" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            form.requestSubmit();
        }
    }

    focusFirst(errors) {
        const blocks = Array.from(this.box.querySelectorAll(".desk-q"));
        const block = blocks.find((b) => errors[b.dataset.question]) || blocks[0];
        if (!block) {
            return;
        }
        const target = block.querySelector("input:checked") || block.querySelector("input, textarea");
        if (target) {
            target.focus({preventScroll: false});
        }
    }

    submit(form, questions) {
        const answers = {};
        let firstBad = null;
        for (const q of questions) {
            const block = form.querySelector(`.desk-q[data-question="${q.id}"]`);
            const field = form.elements.namedItem("q" + q.id);
            const value = readAnswer(q, form);
            const problem = localProblem(q, value, field instanceof HTMLElement ? field : null, this.T, this.timeZone);
            block.querySelector(".desk-q-error").textContent = problem || "";
            if (problem) {
                block.dataset.invalid = "1";
                firstBad = firstBad || block;
            } else {
                delete block.dataset.invalid;
            }
            answers[String(q.id)] = value;
        }
        if (firstBad) {
            const target = firstBad.querySelector("input:checked") || firstBad.querySelector("input, textarea");
            if (target) {
                target.focus();
            }
            return;
        }
        this.finish(answers);
    }
}
