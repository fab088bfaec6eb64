"""The JSON shapes of the desk API contract, built from positions loaded with their state.

Plain dicts instead of DRF serializers: preload writes one of these per attendee while
streaming, and the shapes are fixed by the contract, not by a model.
"""
from .questions import question_data, shown_answers_data


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


def attendee_data(position, *, tz, last_entry_at=None):
    """An attendee; ``last_entry_at`` is the latest successful entry on the URL's list.
    ``checkin_texts`` and ``shown_answers`` are what pretix's apps show staff at the door
    (the order's, product's and variation's check-in texts; answers to questions marked
    "show during check-in", loaded as ``shown_answer_list``)."""
    return {
        "position_id": position.pk,
        "order": position.order.code,
        "order_status": position.order.status,
        "name": position.attendee_name_cached or None,
        "email": position.attendee_email or position.order.email or None,
        "company": position.company or None,
        "product": product_data(position.item),
        "variation": variation_data(position.variation),
        "subevent": subevent_data(position.subevent, tz),
        "require_attention": bool(
            position.order.checkin_attention or position.item.checkin_attention
            or (position.variation is not None and position.variation.checkin_attention)
        ),
        "checked_in": last_entry_at is not None,
        "checked_in_at": isoformat(last_entry_at, tz),
        "checkin_texts": [str(t) for t in position.checkin_texts],
        "shown_answers": shown_answers_data(getattr(position, "shown_answer_list", ())),
    }


def line_item_data(position, *, tz, redeemable, redeemed_at=None):
    return {
        "line_item_id": position.pk,
        "product": product_data(position.item),
        "variation": variation_data(position.variation),
        "redeemable": redeemable,
        "redeemed": redeemed_at is not None,
        "redeemed_at": isoformat(redeemed_at, tz),
    }


def line_items_data(position, addons, *, tz):
    """The attendee's own position first, then its add-ons (``redeemed_at`` annotated)."""
    return [line_item_data(position, tz=tz, redeemable=False)] + [
        line_item_data(a, tz=tz, redeemable=True, redeemed_at=a.redeemed_at) for a in addons
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
        "name": position.attendee_name_cached or None,
        "product": str(position.item.name),
    }
    if printable:
        data.update(printable)
    return data


def scan_payload(outcome, *, tz, badge=None):
    """The scan response body and its HTTP status."""
    body, status = _scan_body(outcome, tz=tz, badge=badge)
    if outcome.checkin_list is not None and status != 404:
        body["list"] = {"id": outcome.checkin_list.pk, "name": str(outcome.checkin_list.name)}
    return body, status


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
