"""A device security profile for scanners that run only the registration desk."""
from django.utils.translation import gettext_lazy as _
from pretix.api.auth.devicesecurity import AllowListSecurityProfile

DESK_URL_NAMES = (
    ("POST", "api-v1:desk-scan"),
    ("GET", "api-v1:desk-lookup"),
    ("POST", "api-v1:desk-redeem"),
    ("POST", "api-v1:desk-redeem-annul"),
    ("GET", "api-v1:desk-preload"),
    ("GET", "api-v1:desk-search"),
    ("GET", "api-v1:desk-badge"),
)

# What a device needs to set itself up and pick its event and list, as in pretix's own
# scanner profiles; nothing that reads or changes orders outside the desk endpoints.
BOOT_URL_NAMES = (
    ("GET", "api-v1:version"),
    ("GET", "api-v1:device.info"),
    ("GET", "api-v1:device.eventselection"),
    ("POST", "api-v1:device.update"),
    ("POST", "api-v1:device.revoke"),
    ("POST", "api-v1:device.roll"),
    ("GET", "api-v1:idempotency.query"),
    ("GET", "api-v1:event-list"),
    ("GET", "api-v1:event-detail"),
    ("GET", "api-v1:subevent-list"),
    ("GET", "api-v1:subevent-detail"),
    ("GET", "api-v1:checkinlist-list"),
    ("GET", "api-v1:checkinlist-detail"),
)


class DeskSecurityProfile(AllowListSecurityProfile):
    identifier = "pretix_desk"
    verbose_name = _("Registration desk (pretix-desk): scan, look up, hand out add-ons")
    allowlist = BOOT_URL_NAMES + DESK_URL_NAMES
