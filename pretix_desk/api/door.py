"""GET /api/v1/organizers/{o}/events/{e}/desk_door/: the door at a glance (docs/door-api.rst)."""
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from pretix_desk.api.desk import MAX_ID
from pretix_desk.desk.access import may_list_attendees
from pretix_desk.door.payload import door_payload
from pretix_desk.door.shared import shared_door_figures


class DoorQuerySerializer(serializers.Serializer):
    list = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=50,
    )


class DoorViewSet(viewsets.ViewSet):
    """One read of everything the door page shows, for all the event's check-in lists or
    those named by ``list``. Permission as pretix's check-in list status."""

    permission = ("event.orders:read", "event.orders:checkin")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if "pretix_desk" not in request.event.get_plugins():
            raise NotFound(_("The registration desk is not enabled for this event."))

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
