"""The door figures as the door endpoint answers them (docs/door-api.rst)."""
from django.urls import reverse

from pretix_desk.desk.serialization import isoformat


def _rows(rows, tz):
    return [[isoformat(bucket, tz), list_id, gate_id, source, kind, n]
            for bucket, list_id, gate_id, source, kind, n in rows]


def _conflict(conflict, *, event, tz, may_list):
    return {
        "checkin_id": conflict.checkin_id,
        "list": conflict.list_id,
        "position_id": conflict.position_id,
        "datetime": isoformat(conflict.datetime, tz),
        "type": conflict.type,
        "gate": conflict.gate,
        "device": conflict.device,
        # pretix's flag: the client asked to force (an offline upload, or "check in anyway")
        "force_sent": conflict.force_sent,
        "order": conflict.order_code if may_list else None,
        "order_url": reverse("control:event.order", kwargs={
            "organizer": event.organizer.slug, "event": event.slug, "code": conflict.order_code,
        }) if may_list else None,
    }


def _desk(status, *, tz, may_list):
    r = status.report
    return {
        "desk": r.desk,
        "user": r.user.email if r.user and may_list else None,
        "list": r.checkin_list_id,
        "gate": r.gate.name if r.gate else None,
        "version": r.version,
        # what the desk said, or "quiet": not heard from for a while (offline or closed)
        "state": status.state,
        "state_since": isoformat(r.state_since, tz),
        "last_seen": isoformat(r.last_seen, tz),
        "last_sync": isoformat(r.last_sync, tz),
        "offline_from": isoformat(r.offline_from, tz),
        "offline_until": isoformat(r.offline_until, tz),
        "queued": r.queued,
        "parked": r.parked,
        "failing": r.failing,
        "scans_5min": r.scans_5min,
        "scans_per_minute": round(status.scans_per_minute, 1),
    }


def door_payload(figures, *, event, may_list):
    """``may_list``: order codes (and links) of the conflicts only for those who may list
    attendees, as pretix draws the line (desk/access.py)."""
    tz = event.timezone
    return {
        "at": isoformat(figures.at, tz),
        "lists": [{
            "id": f.list_id,
            "name": f.name,
            "subevent": f.subevent_id,
            "expected": f.expected,
            "entered": f.entered,
            "not_arrived": f.not_arrived,
            "inside": f.inside,
            "inside_by_gate": [{"gate": gate, "inside": n} for gate, n in
                               sorted(f.inside_by_gate.items(), key=lambda item: item[0] or 0)],
            "rate_per_minute": round(f.rate_per_minute, 2),
            "all_in_at": isoformat(f.all_in_at, tz) if f.all_in_at else None,
        } for f in figures.lists],
        "gates": [{"id": pk, "name": str(name)} for pk, name in sorted(figures.gates.items())],
        "columns": ["bucket", "list", "gate", "source", "type", "count"],
        "recent": {"bucket": "minute", "rows": _rows(figures.recent, tz)},
        "whole": {"bucket": "hour", "rows": _rows(figures.whole, tz)},
        "conflicts": [_conflict(c, event=event, tz=tz, may_list=may_list) for c in figures.conflicts],
        "desks": [_desk(d, tz=tz, may_list=may_list) for d in figures.desks],
        "capacities": [{"list": list_id, "gate": gate_id, "capacity": n} for list_id, gate_id, n in figures.capacities],
    }
