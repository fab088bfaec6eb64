"""The JSON shapes of the desk API contract, built from positions loaded with their state.

Plain dicts instead of DRF serializers: preload writes one of these per attendee while
streaming, and the shapes are fixed by the contract, not by a model. The builders read
positions by attribute only, so preload hands them light rows with the same attributes
(``preload.py``) and a ``Rendered`` cache instead of model instances.
"""
from types import SimpleNamespace

from pretix.base.models import QuestionAnswer

from .questions import answer_text, question_data, shown_answers_data


def isoformat(dt, tz):
    return dt.astimezone(tz).isoformat() if dt else None


def product_data(item):
    return {"id": item.pk, "name": str(item.name)}


def variation_data(variation):
    if variation is None:
        return None
    return {"id": variation.pk, "name": str(variation.value)}


def subevent_data(subevent, tz):
    if subevent is None:
        return None
    return {
        "id": subevent.pk,
        "name": str(subevent.name),
        "date_from": isoformat(subevent.date_from, tz),
    }


class Uncached:
    """The parts of a record that come from the product, variation, date and questions,
    rendered anew for each position: right for the few positions of a scan or lookup."""

    @staticmethod
    def product(item):
        return product_data(item)

    @staticmethod
    def variation(variation):
        return variation_data(variation)

    @staticmethod
    def subevent(subevent, tz):
        return subevent_data(subevent, tz)

    @staticmethod
    def checkin_texts(position):
        return [str(t) for t in position.checkin_texts]

    @staticmethod
    def shown_answers(position):
        return shown_answers_data(getattr(position, "shown_answer_list", ()))


UNCACHED = Uncached()


class Rendered(Uncached):
    """The same parts rendered once per product, variation, date and question for a whole
    preload: their names are LazyI18nStrings, whose ``str()`` costs more than all the
    rest of a record. Valid for one language and one event, as long as the preload runs.

    Records share the cached dicts; they are only encoded, never changed.
    """

    def __init__(self, *, event):
        self._event = event
        self._products = {}
        self._variations = {None: None}
        self._subevents = {None: None}
        self._texts = {}
        self._questions = {}
        self._position = None

    # Keyed by ``id``, the field: ``pk`` is a property, and these run once per line item.

    def product(self, item):
        data = self._products.get(item.id)
        if data is None:
            data = self._products[item.id] = product_data(item)
        return data

    def variation(self, variation):
        key = variation and variation.id
        if key not in self._variations:
            self._variations[key] = variation_data(variation)
        return self._variations[key]

    def subevent(self, subevent, tz):
        key = subevent and subevent.id
        if key not in self._subevents:
            self._subevents[key] = subevent_data(subevent, tz)
        return self._subevents[key]

    def checkin_texts(self, position):
        """pretix's ``OrderPosition.checkin_texts``: the order's text, then the variation's
        and the product's, the last two looked up once per product and variation."""
        variation = position.variation
        key = (position.item.id, variation and variation.id)
        texts = self._texts.get(key)
        if texts is None:
            texts = self._texts[key] = [
                t for t in (variation and variation.checkin_text, position.item.checkin_text) if t
            ]
        order_text = position.order.checkin_text
        return [order_text, *texts] if order_text else list(texts)

    def shown_answers(self, position):
        """``shown_answers_data`` for answers with ``question`` and ``answer`` (model
        instances or rows): the question's text once per question, each answer rendered by
        pretix's ``QuestionAnswer.to_string`` on one unsaved answer per question."""
        shown = []
        for a in getattr(position, "shown_answer_list", ()):
            question = a.question
            if not question.show_during_checkin:
                continue
            text, renderer = self._question(question)
            renderer.answer = a.answer
            shown.append({"question": text, "answer": answer_text(renderer, position.pk)})
        return shown

    def _question(self, question):
        found = self._questions.get(question.pk)
        if found is None:
            renderer = QuestionAnswer(question=question)
            # ``to_string`` shows date and time answers in the time zone of the position's
            # event, read through ``orderposition.order.event.settings``: read once here.
            QuestionAnswer.orderposition.field.set_cached_value(renderer, self._answer_position())
            found = self._questions[question.pk] = (str(question.question), renderer)
        return found

    def _answer_position(self):
        if self._position is None:
            settings = SimpleNamespace(timezone=self._event.settings.timezone)
            self._position = SimpleNamespace(order=SimpleNamespace(event=SimpleNamespace(settings=settings)))
        return self._position


def attendee_name(position):
    """The name pretix's check-in API shows: read with the position (``display_name``,
    see ``positions.display_name``), else worked out the same way from the model."""
    try:
        return position.display_name or None
    except AttributeError:  # a model instance loaded without the desk's state
        name = position.attendee_name_cached
        if not name and position.addon_to_id:
            name = position.addon_to.attendee_name_cached
        if not name:
            address = getattr(position.order, "invoice_address", None)
            name = address.name_cached if address else None
        return name or None


def attendee_data(position, *, tz, last_entry_at=None, rendered=UNCACHED):
    """An attendee; ``last_entry_at`` is the latest successful entry on the URL's list.
    ``checkin_texts`` and ``shown_answers`` are what pretix's apps show staff at the door
    (the order's, product's and variation's check-in texts; answers to questions marked
    "show during check-in", loaded as ``shown_answer_list``)."""
    order = position.order
    item = position.item
    variation = position.variation
    # Keys that repeat from record to record first, those that differ last: in a preload
    # of thousands, gzip then matches one long run per record instead of many short ones.
    return {
        "product": rendered.product(item),
        "variation": rendered.variation(variation),
        "subevent": rendered.subevent(position.subevent, tz),
        "company": position.company or None,
        "require_attention": bool(
            order.checkin_attention or item.checkin_attention
            or (variation is not None and variation.checkin_attention)
        ),
        "checked_in": last_entry_at is not None,
        "checked_in_at": isoformat(last_entry_at, tz),
        "checkin_texts": rendered.checkin_texts(position),
        "shown_answers": rendered.shown_answers(position),
        "order_status": order.status,
        "position_id": position.pk,
        "order": order.code,
        "name": attendee_name(position),
        "email": position.attendee_email or order.email or None,
    }


def line_item_data(position, *, tz, redeemable, redeemed_at=None, rendered=UNCACHED):
    return {  # (the id last, as in ``attendee_data``)
        "product": rendered.product(position.item),
        "variation": rendered.variation(position.variation),
        "redeemable": redeemable,
        "redeemed": redeemed_at is not None,
        "redeemed_at": isoformat(redeemed_at, tz),
        "line_item_id": position.pk,
    }


def line_items_data(position, addons, *, tz, rendered=UNCACHED):
    """The attendee's own position first, then its add-ons (``redeemed_at`` annotated)."""
    return [line_item_data(position, tz=tz, redeemable=False, rendered=rendered)] + [
        line_item_data(a, tz=tz, redeemable=True, redeemed_at=a.redeemed_at, rendered=rendered) for a in addons
    ]


def checkin_data(checkin, *, tz):
    return {
        "id": checkin.pk,
        "datetime": isoformat(checkin.datetime, tz),
        "type": checkin.type,
        "successful": checkin.successful,
    }


def badge_data(position, *, printable=None):
    """``printable`` (``{"layout": {"id", "name"}, "url"}``) only where pretix's badges
    plugin is active and a layout applies to the position."""
    data = {
        "name": attendee_name(position),
        "product": str(position.item.name),
    }
    if printable:
        data.update(printable)
    return data


def scan_payload(outcome, *, tz, badge=None, override=None, uploaded=False):
    """The scan response body and its HTTP status. ``override``: what staff may choose after
    a refusal (``verdict.override_for``), in the body of a refusal; ``uploaded``: an offline
    answer uploaded, which is ``201`` once recorded, whatever pretix made of it."""
    body, status = _scan_body(outcome, tz=tz, badge=badge)
    if uploaded and outcome.recorded:
        status = 201
    elif status == 400 and body["status"] == "error":
        body["override"] = override
    if outcome.checkin_list is not None and status != 404:
        body["list"] = {"id": outcome.checkin_list.pk, "name": str(outcome.checkin_list.name)}
    if outcome.recorded:
        body["offline"] = {
            "recorded": outcome.recorded,
            "conflict": outcome.conflict and conflict_data(outcome.conflict, tz=tz),
        }
    return body, status


def conflict_data(conflict, *, tz):
    """An offline admission pretix did not take as an ordinary check-in (``uploads``)."""
    return {
        "position_id": conflict.position_id,
        "reason": conflict.reason,
        "reason_explanation": str(conflict.explanation) if conflict.explanation else None,
        "checkin": conflict.checkin and door_checkin_data(conflict.checkin, tz=tz),
        "others": [door_checkin_data(c, tz=tz) for c in conflict.others],
    }


def door_checkin_data(checkin, *, tz):
    """A check-in as a conflict shows it: when, where, by which device, and its nonce, by
    which a desk recognises its own."""
    return {
        "id": checkin.pk,
        "datetime": isoformat(checkin.datetime, tz),
        "type": checkin.type,
        "forced": checkin.forced,
        "gate": str(checkin.gate.name) if checkin.gate_id else None,
        "device": str(checkin.device.name) if checkin.device_id else None,
        "nonce": checkin.nonce,
    }


def _scan_body(outcome, *, tz, badge):
    if outcome.status == "invalid":
        return {"status": "error", "reason": outcome.reason}, 404
    attendee = attendee_data(outcome.position, tz=tz, last_entry_at=outcome.last_entry_at)
    if outcome.status == "ok":
        return {
            "status": "ok",
            "checkin": {
                "id": outcome.checkin.pk,
                "datetime": isoformat(outcome.checkin.datetime, tz),
                "type": outcome.checkin.type,
            },
            "attendee": attendee,
            "line_items": line_items_data(outcome.position, outcome.line_items, tz=tz),
            "badge": badge_data(outcome.position, printable=badge),
        }, 201
    if outcome.status == "incomplete":
        return {
            "status": "incomplete",
            "reason": outcome.reason,
            "questions": [question_data(q) for q in outcome.questions],
            "attendee": attendee,
        }, 400
    return {
        "status": "error",
        "reason": outcome.reason,
        "reason_explanation": outcome.explanation,
        "attendee": attendee,
    }, 400


def lookup_payload(outcome, *, tz, badge=None):
    return {
        "attendee": attendee_data(outcome.position, tz=tz, last_entry_at=outcome.last_entry_at),
        "badge": badge_data(outcome.position, printable=badge),
        "line_items": line_items_data(outcome.position, outcome.line_items, tz=tz),
        "checkins": [checkin_data(c, tz=tz) for c in outcome.checkins],
        "can_check_in": outcome.can_check_in,
        "questions": outcome.questions,
        "reason": outcome.reason,
        "reason_explanation": outcome.explanation,
    }


def redeem_payload(outcome, *, tz):
    """Redeem and annul response bodies and their HTTP status."""
    if outcome.status == "invalid":
        return {"status": "error", "reason": "invalid"}, 404
    if outcome.status == "error" and outcome.reason == "already_redeemed":
        return {
            "status": "error",
            "reason": outcome.reason,
            "redeemed_at": isoformat(outcome.redemption.datetime if outcome.redemption else None, tz),
        }, 409
    if outcome.status == "error":
        return {"status": "error", "reason": outcome.reason}, 400
    body = {
        "status": outcome.status,
        "redemption": {
            "id": outcome.redemption.pk,
            "datetime": isoformat(outcome.redemption.datetime, tz),
        },
        "line_item": line_item_data(
            outcome.line_item, tz=tz, redeemable=True, redeemed_at=outcome.line_item.redeemed_at,
        ),
        "attendee": attendee_data(outcome.position, tz=tz, last_entry_at=outcome.position.last_entry_at),
    }
    if outcome.status == "annulled":
        body["redemption"]["annulled"] = isoformat(outcome.redemption.annulled, tz)
        return body, 200
    return body, 201


def search_payload(positions, *, tz):
    return {
        "count": len(positions),
        "results": [
            {
                "access_code": p.secret,
                "attendee": attendee_data(p, tz=tz, last_entry_at=p.last_entry_at),
            }
            for p in positions
        ],
    }
