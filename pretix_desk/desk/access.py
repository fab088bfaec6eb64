"""Who may list attendees: pretix's line for bulk personal data, drawn once for the desk."""
from pretix.base.models import Device


def may_list_attendees(*, auth, permissions) -> bool:
    """Whether the caller may download names, e-mails and answers of everyone on a list.

    pretix gives lists of attendees (``checkinlists/{id}/positions/``, ``checkinrpc/search``
    without a search) only to those who may view orders (``event.orders:read``); those who
    may only check in find the one person in front of them. The desk draws the same line,
    and puts devices on the check-in side: a scanning device's token lives on a door
    laptop or phone, and pretix gives every device read access to orders.
    """
    return not isinstance(auth, Device) and "event.orders:read" in permissions
