"""Capacities at the door ("this room holds 800"): an entry that would put one more inside
than a list, or a list at one gate, holds is refused as full; exits free places.

Inside is pretix's own count (``positions_inside_query``); by gate, those whose last entry
was there. The capacity's row is locked for the rest of the scan, so entries at a full
door are serialized and two desks never both take the last place. The count runs on
entries at lists with a capacity only: a capacity is meant for rooms, and costs a count
per entry (docs/door-api.rst).
"""
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext
from pretix.base.models import CheckinList
from pretix.helpers import OF_SELF

from pretix_desk.door.figures import last_entry_gate
from pretix_desk.models import DoorCapacity

REASON = "capacity"


def inside_count(checkin_list, gate=None):
    inside = checkin_list.positions_inside_query()
    if gate is not None:
        inside = inside.annotate(entry_gate=last_entry_gate(checkin_list.pk)).filter(entry_gate=gate.pk)
    return inside.count()


def full_refusal(*, checkin_list, gate, position):
    """Why an entry of ``position`` at ``gate`` (or none) on ``checkin_list`` would be one
    too many, or None. Locks the capacities that apply until the transaction ends."""
    applies = Q(gate__isnull=True) | Q(gate=gate) if gate is not None else Q(gate__isnull=True)
    capacities = list(
        DoorCapacity.objects.select_for_update(of=OF_SELF).filter(applies, checkin_list=checkin_list)
        .select_related("gate").order_by("pk")
    )
    if not capacities or checkin_list.positions_inside_query().filter(pk=position.pk).exists():
        return None  # no capacity, or already inside (a second entry takes no place)
    for capacity in capacities:
        inside = inside_count(checkin_list, capacity.gate)
        if inside >= capacity.capacity:
            if capacity.gate is not None:
                return gettext("Full: {inside} of {capacity} inside through {gate}.").format(
                    inside=inside, capacity=capacity.capacity, gate=capacity.gate.name)
            return gettext("Full: {inside} of {capacity} inside.").format(inside=inside, capacity=capacity.capacity)
    return None


def capacities_of(checkin_list):
    """The capacities of a list as the preload ships them: an offline desk to which one
    applies says it cannot verify it."""
    return [
        {"gate": identifier or None, "capacity": n}
        for identifier, n in DoorCapacity.objects.filter(checkin_list=checkin_list)
        .order_by("gate__identifier").values_list("gate__identifier", "capacity")
    ]


def capacities_of_event(event):
    return [
        {"list": list_id, "gate": identifier or None, "capacity": n}
        for list_id, identifier, n in DoorCapacity.objects.filter(checkin_list__event=event)
        .order_by("checkin_list_id", "gate__identifier").values_list("checkin_list_id", "gate__identifier", "capacity")
    ]


def set_capacity(*, checkin_list, gate, capacity, user=None, auth=None):
    """Set the capacity of ``checkin_list`` (at ``gate``, or for the whole list), or remove
    it (``capacity`` None); logged on the list as pretix logs its changes."""
    with transaction.atomic():
        # one edit of a list's capacities at a time: two managers setting the first one
        # must not both insert it
        list(CheckinList.objects.select_for_update(of=OF_SELF).filter(pk=checkin_list.pk).values_list("pk"))
        if capacity is None:
            DoorCapacity.objects.filter(checkin_list=checkin_list, gate=gate).delete()
        else:
            DoorCapacity.objects.update_or_create(checkin_list=checkin_list, gate=gate,
                                                  defaults={"capacity": capacity})
        checkin_list.log_action("pretix_desk.door.capacity", data={
            "gate": gate.identifier if gate else None, "gate_name": gate.name if gate else None,
            "capacity": capacity,
        }, user=user, auth=auth)
