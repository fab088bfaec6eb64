"""Check-in questions ("ask during check-in") in the desk's shapes, and answers checked by
pretix's own validation (``Question.clean_answer``) before anything is written.

pretix asks every check-in question of the ticket's product that has no answer yet; a
question that is not required may be answered with nothing. The desk shows them, sends
the answers with the scan, and pretix saves them on the position as it does for its own
apps.
"""
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pretix.base.models import Question, QuestionAnswer

#: Answers the desk cannot collect (a file needs an upload form of its own).
UNSUPPORTED_TYPES = (Question.TYPE_FILE,)
MAX_ANSWER_LENGTH = 10000
MAX_CHOICES = 200


class InvalidAnswers(Exception):
    """Answers pretix would not accept, per question id: a 400, and nothing is written."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def checkin_questions(*, event, item_ids=None):
    """The event's check-in questions, in pretix's order, with options and the products
    they belong to (one query each, whatever the number of questions)."""
    qs = Question.objects.filter(event=event, ask_during_checkin=True)
    if item_ids is not None:
        qs = qs.filter(items__in=item_ids).distinct()
    return list(qs.prefetch_related("options", "items").order_by("position", "pk"))


def questions_of_item(questions, item_id):
    return [q for q in questions if any(i.pk == item_id for i in q.items.all())]


def question_data(question):
    limits = {
        key: str(value) for key, value in (
            ("min", question.valid_number_min if question.type == Question.TYPE_NUMBER else None),
            ("max", question.valid_number_max if question.type == Question.TYPE_NUMBER else None),
            ("min", question.valid_date_min if question.type == Question.TYPE_DATE else None),
            ("max", question.valid_date_max if question.type == Question.TYPE_DATE else None),
            ("min_length", question.valid_string_length_min),
            ("max_length", question.valid_string_length_max),
        ) if value is not None
    }
    data = {
        "id": question.pk,
        "question": str(question.question),
        "type": question.type,
        "required": question.required,
        "help_text": str(question.help_text) or None,
        "options": [
            {"id": o.pk, "identifier": o.identifier, "answer": str(o.answer)} for o in question.options.all()
        ],
    }
    if limits:
        data["limits"] = limits
    if question.type in UNSUPPORTED_TYPES:
        data["unsupported"] = True
    return data


def clean_answers(raw, *, questions):
    """``{Question: value}`` as ``perform_checkin`` takes them, from ``{"<id>": answer}``.

    Raises ``InvalidAnswers`` for answers to questions this ticket is not asked, values of
    the wrong kind and anything ``Question.clean_answer`` refuses.
    """
    by_id = {str(q.pk): q for q in questions}
    given, errors = {}, {}
    for key, value in raw.items():
        question = by_id.get(key)
        if question is None:
            errors[key] = [_("This is not a check-in question of this ticket.")]
            continue
        problem = _shape_problem(question, value)
        if problem:
            errors[key] = [problem]
            continue
        try:
            given[question] = question.clean_answer(value)
        except ValidationError as e:
            errors[key] = [str(m) for m in e.messages]
    if errors:
        raise InvalidAnswers(errors)
    return given


def _shape_problem(question, value):
    """pretix's validation assumes the types its own forms send; anything else is refused
    here, so that no input can make it fail with an exception."""
    if question.type in UNSUPPORTED_TYPES:
        return _("This question cannot be answered at the desk.")
    if question.type == Question.TYPE_CHOICE_MULTIPLE:
        ok = isinstance(value, list) and len(value) <= MAX_CHOICES and all(
            isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
        )
    elif question.type == Question.TYPE_CHOICE:
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    elif question.type == Question.TYPE_BOOLEAN:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        return _("Invalid input type.")
    if isinstance(value, str) and (len(value) > MAX_ANSWER_LENGTH or "\x00" in value):
        return _("This answer is too long or contains invalid characters.")
    return None


def shown_answers_data(answers):
    """Answers to questions marked "show during check-in", for the attendee card."""
    return [
        {"question": str(a.question.question), "answer": str(a)}
        for a in answers
        if a.question.show_during_checkin
    ]


def shown_answers_queryset():
    return QuestionAnswer.objects.filter(question__show_during_checkin=True).select_related("question")
