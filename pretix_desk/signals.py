"""Signal wiring only: receivers hand the real work to plain functions elsewhere."""
import functools
import logging

from django.apps import apps
from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from pretix.api.signals import register_device_security_profile
from pretix.base.signals import (
    checkin_created, event_copy_data, is_app_active, item_copy_data, order_changed,
    order_gracefully_delete, order_paid, order_placed, order_reactivated,
)
from pretix.control.signals import nav_event, order_info
from pretix.plugins.autocheckin import signals as bundled_signals

from . import logdisplay  # NOQA: logdisplay registers log texts
from .autocheckin import copying, triggers
from .desk.devices import DeskSecurityProfile
from .desk.order_view import order_redemptions_html
from .desk.scan import checkin_created_during_scan
from .desk.sync import remember_deleted_order
from .models import AutoCheckinRule

logger = logging.getLogger(__name__)

# --- auto check-in rules: pretix's plugin signals reach these only on events that enable
# pretix_desk; the two in place of the bundled plugin's only on events that enable that ---


@receiver(order_placed, dispatch_uid="pretix_desk_autocheckin_placed")
def autocheckin_order_placed(sender, order, **kwargs):
    triggers.placed(order)


@receiver(order_paid, dispatch_uid="pretix_desk_autocheckin_paid")
def autocheckin_order_paid(sender, order, **kwargs):
    triggers.paid(order)


@receiver(order_changed, dispatch_uid="pretix_desk_autocheckin_changed")
def autocheckin_order_changed(sender, order, **kwargs):
    triggers.changed(order)


@receiver(order_reactivated, dispatch_uid="pretix_desk_autocheckin_reactivated")
def autocheckin_order_reactivated(sender, order, **kwargs):
    triggers.reactivated(order)


def _in_place_of_bundled(signal, original, dispatch_uid, mode):
    """Where both plugins are active, run the bundled plugin's rules for ``mode`` through
    ours (``triggers.bundled``), never through its own receiver, which checks a ticket
    scanned at the door in a second time. Elsewhere its receiver runs as always.

    The replacement keeps the bundled receiver's module (``functools.wraps``), so pretix
    calls it exactly where it called the original: on events with the bundled plugin.
    """
    if not signal.disconnect(dispatch_uid=dispatch_uid):
        # A pretix that names it otherwise: leave it be rather than run the rules twice
        # (tests/test_rules_checkin.py then fails).
        logger.warning("pretix's bundled auto check-in receiver %r not found", dispatch_uid)
        return

    @functools.wraps(original)
    def in_place_of_bundled(sender, order, **kwargs):
        if is_app_active(sender, apps.get_app_config("pretix_desk")):
            return triggers.bundled(order, mode)
        return original(sender=sender, order=order, **kwargs)

    signal.connect(in_place_of_bundled, dispatch_uid=dispatch_uid, weak=False)


_in_place_of_bundled(order_placed, bundled_signals.order_placed_receiver, "autocheckin_order_placed",
                     AutoCheckinRule.MODE_PLACED)
_in_place_of_bundled(order_paid, bundled_signals.order_paid_receiver, "autocheckin_order_paid",
                     AutoCheckinRule.MODE_PAID)


@receiver(event_copy_data, dispatch_uid="pretix_desk_rules_event_copy")
def autocheckin_event_copy(sender, other, item_map, variation_map, checkin_list_map, **kwargs):
    copying.copy_event_rules(source=other, target=sender, item_map=item_map,
                             variation_map=variation_map, checkin_list_map=checkin_list_map)


@receiver(item_copy_data, dispatch_uid="pretix_desk_rules_item_copy")
def autocheckin_item_copy(sender, source, target, **kwargs):
    copying.copy_item_rules(source=source, target=target)


# --- the desk ---


@receiver(register_device_security_profile, dispatch_uid="pretix_desk_device_profile")
def desk_device_profile(sender, **kwargs):
    return DeskSecurityProfile()


@receiver(checkin_created, dispatch_uid="pretix_desk_scan_checkin_created")
def desk_checkin_created(sender, checkin, **kwargs):
    checkin_created_during_scan(checkin)


@receiver(order_gracefully_delete, dispatch_uid="pretix_desk_order_deleted")
def desk_order_deleted(sender, order, **kwargs):
    remember_deleted_order(order)


@receiver(order_info, dispatch_uid="pretix_desk_order_redemptions")
def desk_order_redemptions(sender, order, request, **kwargs):
    return order_redemptions_html(order=order, request=request)


# --- navigation: the plugin's pages hang under the event's check-in lists ---


def _nav_entry(request, *, label, url_name, active, **extra):
    kw = {"organizer": request.organizer.slug, "event": request.event.slug}
    return {
        "label": label,
        "url": reverse(f"plugins:pretix_desk:{url_name}", kwargs=kw),
        "parent": reverse("control:event.orders.checkinlists", kwargs=kw),
        "active": active,
        **extra,
    }


@receiver(nav_event, dispatch_uid="pretix_desk_nav")
def desk_navigation(sender, request, **kwargs):
    match = request.resolver_match
    url_name = (match.url_name or "") if match and match.namespace == "plugins:pretix_desk" else ""
    entries = []
    if request.user.has_event_permission(
        request.organizer, request.event, ("event.orders:checkin", "event.orders:write"),
        request=request,
    ):
        entries.append(_nav_entry(
            request, label=_("Registration desk"), url_name="desk",
            active=url_name == "desk", external=True, icon="qrcode",
        ))
    if request.user.has_event_permission(
        request.organizer, request.event, ("event.orders:read", "event.orders:checkin"), request=request,
    ):
        entries.append(_nav_entry(
            request, label=_("Door"), url_name="door", active=url_name == "door", icon="area-chart",
        ))
    if request.user.has_event_permission(
        request.organizer, request.event, "event.settings.general:write", request=request
    ):
        entries.append(_nav_entry(
            request, label=_("Auto check-in rules"), url_name="rules",
            active=url_name.startswith("rules"),
        ))
    return entries
