"""The door page in the control panel (Check-in → Door): the door endpoint's figures,
refreshed in place (docs/door-api.rst)."""
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.translation import gettext
from django.views.generic import TemplateView
from pretix.control.permissions import EventPermissionRequiredMixin
from pretix.control.views import ChartContainingView

from pretix_desk.enabled import require_desk

#: Seconds between two refreshes of the page.
REFRESH_SECONDS = 5
#: As pretix's check-in list status: those who may view orders or check in.
DOOR_PERMISSION = ("event.orders:read", "event.orders:checkin")


def door_strings():
    return {
        "entries": gettext("Entries"),
        "exits": gettext("Exits"),
        "auto": gettext("Auto check-ins"),
        "updated": gettext("Updated at {time}"),
        "failed": gettext("The figures could not be refreshed; the page tries again."),
        "no_conflicts": gettext("No conflicts."),
        "forced": gettext("Checked in although refused (forced) at {time}"),
        "at_gate": gettext("at {gate}"),
        "by_device": gettext("by {device}"),
        "open_order": gettext("Open order {code}"),
        "ticket": gettext("Ticket #{id}"),
        "none": gettext("none"),
        "desk": gettext("Registration desks"),
        "web": gettext("pretix's web check-in and API"),
        "device": gettext("Devices (pretixSCAN)"),
        "no_gate": gettext("no gate"),
        "inside_at": gettext("{gate}: {n}"),
        "of_capacity": gettext("{inside} of {capacity}"),
        "full": gettext("full"),
        "whole_list": gettext("the whole list"),
        "capacity_of": gettext("{list}, {gate}: {capacity}"),
        "remove": gettext("Remove"),
        "no_capacities": gettext("No capacity is set: desks admit as many as the lists allow."),
        "capacity_failed": gettext("The capacity could not be saved: {error}"),
        "no_desks": gettext("No desk has reported in the last 12 hours."),
        "desk_online": gettext("online since {time}"),
        "desk_syncing": gettext("uploading since {time}"),
        "desk_unavailable": gettext("online without offline mode since {time}"),
        "desk_quiet": gettext("not heard from since {time} (offline or closed)"),
        "desk_was_offline": gettext("offline {from}–{until}"),
        "desk_offline_since": gettext("offline since {from}"),
        "desk_by": gettext("{desk} ({user})"),
    }


class DoorView(EventPermissionRequiredMixin, ChartContainingView, TemplateView):
    """A chart page as pretix's own (ChartContainingView: the CSP Raphael needs)."""

    permission = DOOR_PERMISSION
    template_name = "pretixplugins/pretix_desk/door/index.html"

    def dispatch(self, request, *args, **kwargs):
        require_desk(request.event)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        event = self.request.event
        ctx["door_config"] = {
            "api": reverse("api-v1:desk-door-list", kwargs={"organizer": event.organizer.slug, "event": event.slug}),
            "refresh_seconds": REFRESH_SECONDS,
            "locale": self.request.LANGUAGE_CODE,
            "timezone": str(event.timezone),
            "strings": door_strings(),
            "capacity_api": reverse("api-v1:desk-door-capacity", kwargs={
                "organizer": event.organizer.slug, "event": event.slug}),
            "may_set_capacity": self.request.user.has_event_permission(
                event.organizer, event, "event.orders:write", request=self.request),
            "csrf_token": get_token(self.request),
            "gates": [{"id": g.pk, "name": str(g.name), "identifier": g.identifier}
                      for g in event.organizer.gates.exclude(identifier="").order_by("name", "pk")],
        }
        return ctx
