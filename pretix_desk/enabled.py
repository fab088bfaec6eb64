"""Whether pretix-desk is on for an event. pretix does not gate a plugin's control panel
pages or API routes by the event's choice of plugins, so every entry point asks here."""
from django.http import Http404
from django.utils.translation import gettext

PLUGIN = "pretix_desk"


def desk_enabled(event):
    return PLUGIN in event.get_plugins()


def require_desk(event):
    """Raise a 404 (which pretix's API answers as such too) unless the plugin is on."""
    if not desk_enabled(event):
        raise Http404(gettext("The plugin pretix-desk is not enabled for this event."))
