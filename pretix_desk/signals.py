"""Signal wiring only: receivers hand the real work to plain functions elsewhere."""
from django.dispatch import receiver  # NOQA

# --- auto check-in rules: order_placed/order_paid, copy data, log display, navigation ---
from django.urls import reverse as _reverse  # NOQA
from django.utils.translation import gettext_lazy as _lazy  # NOQA
from pretix.base.logentrytypes import (  # NOQA
    EventLogEntryType, log_entry_types,
)
from pretix.base.signals import (  # NOQA
    event_copy_data, item_copy_data, order_paid, order_placed,
)
from pretix.control.signals import nav_event  # NOQA

from pretix_desk import autocheckin  # NOQA
from pretix_desk.models import AutoCheckinRule  # NOQA


@receiver(order_placed, dispatch_uid="pretix_desk_autocheckin_placed")
def autocheckin_order_placed(sender, order, **kwargs):
    autocheckin.auto_checkin(order=order, mode=AutoCheckinRule.MODE_PLACED)


@receiver(order_paid, dispatch_uid="pretix_desk_autocheckin_paid")
def autocheckin_order_paid(sender, order, **kwargs):
    autocheckin.auto_checkin(order=order, mode=AutoCheckinRule.MODE_PAID)


@receiver(event_copy_data, dispatch_uid="pretix_desk_rules_event_copy")
def autocheckin_event_copy(sender, other, item_map, variation_map, checkin_list_map, **kwargs):
    autocheckin.copy_event_rules(source=other, target=sender, item_map=item_map,
                                 variation_map=variation_map, checkin_list_map=checkin_list_map)


@receiver(item_copy_data, dispatch_uid="pretix_desk_rules_item_copy")
def autocheckin_item_copy(sender, source, target, **kwargs):
    autocheckin.copy_item_rules(source=source, target=target)


@log_entry_types.new_from_dict({
    "pretix_desk.rule.added": _lazy("The auto check-in rule has been created."),
    "pretix_desk.rule.changed": _lazy("The auto check-in rule has been changed."),
    "pretix_desk.rule.deleted": _lazy("The auto check-in rule has been deleted."),
})
class AutoCheckinRuleLogEntryType(EventLogEntryType):
    object_type = AutoCheckinRule
    content_type = AutoCheckinRule
    object_link_wrapper = _lazy("Auto check-in rule {val}")
    object_link_viewname = "plugins:pretix_desk:rules.edit"
    object_link_argname = "rule"

    def object_link_display_name(self, rule):
        return f"#{rule.pk}"


@receiver(nav_event, dispatch_uid="pretix_desk_nav_rules")
def autocheckin_nav_entry(sender, request, **kwargs):
    if not request.user.has_event_permission(
        request.organizer, request.event, "event.settings.general:write", request=request
    ):
        return []
    kw = {"organizer": request.organizer.slug, "event": request.event.slug}
    match = request.resolver_match
    return [{
        "label": _lazy("Auto check-in rules"),
        "url": _reverse("plugins:pretix_desk:rules", kwargs=kw),
        "parent": _reverse("control:event.orders.checkinlists", kwargs=kw),
        "active": bool(match) and match.namespace == "plugins:pretix_desk"
        and (match.url_name or "").startswith("rules"),
    }]

# --- desk API: log display, order view, device security profile ---
from pretix.api.signals import register_device_security_profile  # NOQA
from pretix.base.signals import checkin_created  # NOQA
from pretix.control.signals import order_info  # NOQA

from pretix_desk.desk import logdisplay  # NOQA  (registers the order log texts)


@receiver(register_device_security_profile, dispatch_uid="pretix_desk_device_profile")
def desk_device_profile(sender, **kwargs):
    from pretix_desk.desk.devices import DeskSecurityProfile

    return DeskSecurityProfile()


@receiver(checkin_created, dispatch_uid="pretix_desk_scan_checkin_created")
def desk_checkin_created(sender, checkin, **kwargs):
    from pretix_desk.desk.scan import checkin_created_during_scan

    checkin_created_during_scan(checkin)


@receiver(order_info, dispatch_uid="pretix_desk_order_redemptions")
def desk_order_redemptions(sender, order, request, **kwargs):
    from pretix_desk.desk.order_view import order_redemptions_html

    return order_redemptions_html(order=order, request=request)


# --- desk scanner page: navigation ---
from pretix.control.signals import nav_event  # NOQA


@receiver(nav_event, dispatch_uid="pretix_desk_nav_desk")
def desk_nav_entry(sender, request, **kwargs):
    from django.urls import reverse
    from django.utils.translation import gettext_lazy

    if not request.user.has_event_permission(
        request.organizer, request.event, ("event.orders:checkin", "event.orders:write"), request=request
    ):
        return []
    kwargs = {"organizer": request.organizer.slug, "event": request.event.slug}
    match = request.resolver_match
    return [{
        "label": gettext_lazy("Registration desk"),
        "url": reverse("plugins:pretix_desk:desk", kwargs=kwargs),
        "parent": reverse("control:event.orders.checkinlists", kwargs=kwargs),
        "external": True,
        "icon": "qrcode",
        "active": bool(match) and match.namespace == "plugins:pretix_desk" and match.url_name == "desk",
    }]
