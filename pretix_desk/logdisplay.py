"""How pretix_desk's log entries read in the control panel: the rules', the desk's in an
order's log, and the door's capacities. Importing registers them."""
from django.utils.translation import gettext_lazy as _
from pretix.base.logentrytypes import (
    EventLogEntryType, OrderLogEntryType, log_entry_types,
)
from pretix.base.models import CheckinList

from .apply import describe
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


@log_entry_types.new()
class AutoCheckinRuleAppliedLogEntryType(AutoCheckinRuleLogEntryType):
    action_type = "pretix_desk.rule.applied"

    def display(self, logentry, data):
        # The numbers are in the data; the sentence is built in the reader's language.
        return _("The auto check-in rule has been applied to existing orders. {result}").format(
            result=describe({**data, "dry_run": False}),
        )


@log_entry_types.new()
class AutoCheckinRuleImportedLogEntryType(AutoCheckinRuleLogEntryType):
    action_type = "pretix_desk.rule.imported"

    def display(self, logentry, data):
        return _(
            "The auto check-in rule has been imported from rule #{source} of pretix's "
            "bundled automated check-in plugin."
        ).format(source=data.get("bundled_rule", "?"))


@log_entry_types.new()
class DoorCapacityLogEntryType(EventLogEntryType):
    action_type = "pretix_desk.door.capacity"
    object_type = CheckinList
    object_link_wrapper = _("Check-in list {val}")
    object_link_viewname = "control:event.orders.checkinlists.show"
    object_link_argname = "list"

    def object_link_display_name(self, checkin_list):
        return str(checkin_list.name)

    def display(self, logentry, data):
        gate, capacity = data.get("gate_name"), data.get("capacity")
        if capacity is None:
            return (_("The capacity at gate {gate} has been removed.").format(gate=gate) if gate
                    else _("The capacity of the check-in list has been removed."))
        if gate:
            return _("The capacity at gate {gate} has been set to {capacity}.").format(gate=gate, capacity=capacity)
        return _("The capacity of the check-in list has been set to {capacity}.").format(capacity=capacity)


@log_entry_types.new_from_dict({
    "pretix_desk.redeemed": _(
        "Position #{line_item_positionid} ({product}) was handed out at the registration "
        "desk (check-in list \"{list_name}\")."
    ),
    "pretix_desk.redemption.annulled": _(
        "The hand-out of position #{line_item_positionid} ({product}) at the registration "
        "desk was undone."
    ),
})
class DeskOrderLogEntryType(OrderLogEntryType):
    pass
