"""Check-in questions ("ask during check-in") in the desk's shapes, and answers checked by
pretix's own validation (``Question.clean_answer``) before anything is written.

pretix asks every check-in question of the ticket's product that has no answer yet; a
question that is not required may be answered with nothing. The desk shows them, sends
the answers with the scan, and pretix saves them on the position as it does for its own
apps.
"""
import datetime
import logging
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pretix.base.models import Question, QuestionAnswer

logger = logging.getLogger(__name__)

#: Answers the desk cannot collect (a file needs an upload form of its own).
UNSUPPORTED_TYPES = (Question.TYPE_FILE,)
MAX_ANSWER_LENGTH = 10000
MAX_CHOICES = 200
MAX_ID = 2**31 - 1
#: Date-time answers the desk takes: any time zone can show them, and nobody arrives earlier
#: or later. The offline form gets them as the limits of every date-time question.
DATETIME_MIN = datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc)
DATETIME_MAX = datetime.datetime(2999, 12, 31, tzinfo=datetime.timezone.utc)


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


def _limits(question):
    """Every limit pretix's ``clean_answer`` checks, so that an offline desk never accepts
    an answer pretix refuses when the scan is uploaded."""
    if question.type == Question.TYPE_NUMBER:
        low, high = question.valid_number_min, question.valid_number_max
    elif question.type == Question.TYPE_DATE:
        low, high = question.valid_date_min, question.valid_date_max
    elif question.type == Question.TYPE_DATETIME:
        low = max(question.valid_datetime_min or DATETIME_MIN, DATETIME_MIN).isoformat()
        high = min(question.valid_datetime_max or DATETIME_MAX, DATETIME_MAX).isoformat()
    else:
        low = high = None
    return {
        key: str(value) for key, value in (
            ("min", low), ("max", high),
            ("min_length", question.valid_string_length_min),
            ("max_length", question.valid_string_length_max),
        ) if value is not None
    }


def question_data(question):
    limits = _limits(question)
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
            continue
        if not _renderable(question, given[question]):
            errors[key] = [_("Please choose a date between the years {first} and {last}.").format(
                first=DATETIME_MIN.year, last=DATETIME_MAX.year)]
    if errors:
        raise InvalidAnswers(errors)
    return given


def _shape_problem(question, value):
    """pretix's validation assumes the types its own forms send; anything else is refused
    here, so that no input can make it fail with an exception."""
    if question.type in UNSUPPORTED_TYPES:
        return _("This question cannot be answered at the desk.")
    if question.type == Question.TYPE_CHOICE_MULTIPLE:
        choices = value.split(",") if isinstance(value, str) else value
        ok = isinstance(choices, list) and len(choices) <= MAX_CHOICES and all(map(_is_choice, choices))
    elif question.type == Question.TYPE_CHOICE:
        ok = _is_choice(value)
    elif question.type == Question.TYPE_BOOLEAN:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        return _("Invalid input type.")
    texts = choices if question.type == Question.TYPE_CHOICE_MULTIPLE else [value]
    if any(isinstance(t, str) and not is_storable_text(t, max_length=MAX_ANSWER_LENGTH) for t in texts):
        return _("This answer is too long or contains invalid characters.")
    return None


def _is_choice(value):
    """An option id or identifier. pretix looks a string of digits up as an id, and
    ``int()`` refuses digits such as "²" that ``str.isdigit()`` accepts."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 < value <= MAX_ID
    return isinstance(value, str) and (value.isascii() or not value.isdigit())


def is_storable_text(text, *, max_length):
    """Text the database can store: not too long, no NUL, no lone surrogate (which JSON
    can carry and UTF-8 cannot)."""
    if len(text) > max_length or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _renderable(question, cleaned):
    """pretix renders a date-time answer in the event's time zone, through UTC: one that
    does not fit there would break every later display of the attendee."""
    if question.type != Question.TYPE_DATETIME or cleaned is None:
        return True
    try:
        utc = cleaned.astimezone(datetime.timezone.utc)
        cleaned.astimezone(ZoneInfo(question.event.settings.timezone))
    except (OverflowError, ValueError):
        return False
    return DATETIME_MIN <= utc <= DATETIME_MAX


def shown_answers_data(answers):
    """Answers to questions marked "show during check-in", for the attendee card."""
    return [
        {"question": str(a.question.question), "answer": answer_text(a)}
        for a in answers
        if a.question.show_during_checkin
    ]


def answer_text(answer, position_id=None):
    """An answer as pretix shows it (``QuestionAnswer.to_string``), or as stored where pretix
    cannot show it (a date-time beyond what its time zone conversion handles, written
    before the desk validated answers, or by another client): one bad answer must not take
    the attendee's card, or every desk's download, with it."""
    try:
        return str(answer)
    except Exception:
        logger.exception("Cannot show the answer to question %s of position %s", answer.question_id,
                         position_id or answer.orderposition_id)
        return answer.answer


def shown_answers_queryset():
    return QuestionAnswer.objects.filter(question__show_during_checkin=True).select_related("question")
