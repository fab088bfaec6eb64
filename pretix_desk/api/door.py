"""The door endpoint, ``desk_door/`` of an event: the door at a glance, and setting its
capacities (docs/door-api.rst)."""
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from pretix_desk.api.desk import MAX_ID, StrictCharField
from pretix_desk.desk.access import may_list_attendees
from pretix_desk.door.capacity import capacities_of_event, set_capacity
from pretix_desk.door.payload import door_payload
from pretix_desk.door.shared import shared_door_figures
from pretix_desk.enabled import require_desk


class DoorQuerySerializer(serializers.Serializer):
    list = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=50,
    )


class CapacitySerializer(serializers.Serializer):
    list = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    gate = StrictCharField(max_length=190, allow_null=True, required=False, default=None)
    capacity = serializers.IntegerField(min_value=1, max_value=10 ** 7, allow_null=True)

    def validate_list(self, value):
        checkin_list = self.context["event"].checkin_lists.filter(pk=value).first()
        if checkin_list is None:
            raise serializers.ValidationError(_("The event has no such check-in list."))
        return checkin_list

    def validate_gate(self, value):
        if value in (None, ""):
            return None
        gate = self.context["event"].organizer.gates.filter(identifier=value).first()
        if gate is None:
            raise serializers.ValidationError(_("The organizer has no gate with this identifier."))
        return gate


class DoorViewSet(viewsets.ViewSet):
    """One read of everything the door page shows, for all the event's check-in lists or
    those named by ``list``. Permission as pretix's check-in list status."""

    permission = ("event.orders:read", "event.orders:checkin")
    #: Setting a capacity: as changing orders (a check-in-only volunteer may not).
    write_permission = "event.orders:write"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        require_desk(request.event)

    def list(self, request, **kwargs):
        query = DoorQuerySerializer(data={"list": request.query_params.getlist("list")}
                                    if "list" in request.query_params else {})
        query.is_valid(raise_exception=True)
        lists = request.event.checkin_lists.order_by("name", "pk")
        wanted = query.validated_data.get("list")
        if wanted:
            lists = lists.filter(pk__in=wanted)
            if lists.count() != len(set(wanted)):
                raise NotFound(_("No such check-in list."))
        may_list = may_list_attendees(auth=request.auth, permissions=request.eventpermset)
        figures = shared_door_figures(request.event, lists, at=now())
        return Response(door_payload(figures, event=request.event, may_list=may_list))

    @action(detail=False, methods=["post"], url_path="capacity", url_name="capacity")
    def capacity(self, request, **kwargs):
        """Set (or with ``capacity: null`` remove) the capacity of a list, or of a list at
        one gate; answers the event's capacities."""
        serializer = CapacitySerializer(data=request.data, context={"event": request.event})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        set_capacity(checkin_list=data["list"], gate=data["gate"], capacity=data["capacity"],
                     user=request.user, auth=request.auth)
        return Response({"capacities": capacities_of_event(request.event)})
