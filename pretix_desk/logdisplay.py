"""How pretix_desk's log entries read in the control panel (rules; the desk's order
entries live in ``desk/logdisplay.py``). Importing registers them."""
from django.utils.translation import gettext_lazy as _
from pretix.base.logentrytypes import EventLogEntryType, log_entry_types

from .models import AutoCheckinRule


@log_entry_types.new_from_dict({
    "pretix_desk.rule.added": _("The auto check-in rule has been created."),
    "pretix_desk.rule.changed": _("The auto check-in rule has been changed."),
    "pretix_desk.rule.deleted": _("The auto check-in rule has been deleted."),
})
class AutoCheckinRuleLogEntryType(EventLogEntryType):
    object_type = AutoCheckinRule
    content_type = AutoCheckinRule
    object_link_wrapper = _("Auto check-in rule {val}")
    object_link_viewname = "plugins:pretix_desk:rules.edit"
    object_link_argname = "rule"

    def object_link_display_name(self, rule):
        return f"#{rule.pk}"
