/* Check-in questions at the door. pretix asks them before it checks a ticket in ("ask
 * during check-in"); the server names them in an "incomplete" answer, or offline the
 * record's "ask" step does (definitions from the preload head). This form only collects the
 * answers: the caller sends them with the same scan (online) or queues them (offline), and
 * pretix validates them. Made for a desk: big yes/no and choice buttons, keyboard first (Tab
 * moves, Enter submits, Escape cancels); while it is open a scanner fills the focused field
 * (the caller holds the scanner's redirect). Only textContent is used for data. */

import {el} from "./util.js";

/** pretix's question types the form shows as an <input>, and its type. */
const INPUT_TYPES = {N: "number", S: "text", TEL: "tel", CC: "text", D: "date", H: "time", W: "datetime-local"};

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
export function localProblem(question, value, field, T) {
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
    return null;
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

function fieldControl(question, {value}) {
    const limits = question.limits || {};
    const common = {
        id: `desk-q-${question.id}`, name: "q" + question.id, required: !!question.required,
        "aria-describedby": `desk-q-${question.id}-error`, autocomplete: "off",
        minlength: limits.min_length, maxlength: limits.max_length,
    };
    if (question.type === "T") {
        const area = el("textarea", {...common, rows: "3"});
        area.value = value || "";
        return area;
    }
    const type = INPUT_TYPES[question.type] || "text";
    const attrs = {...common, type};
    if (type === "number") {
        Object.assign(attrs, {step: "any", inputmode: "decimal", min: limits.min, max: limits.max});
    } else if (type === "date") {
        Object.assign(attrs, {min: limits.min, max: limits.max});
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
     * @param onOpen   function() when the form takes the keyboard (hold the scanner)
     * @param onClose  function() when it gives it back
     */
    constructor({box, T, onOpen = () => {}, onClose = () => {}}) {
        this.box = box;
        this.T = T;
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
            : fieldControl(q, {value});
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
            const problem = localProblem(q, value, field instanceof HTMLElement ? field : null, this.T);
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
