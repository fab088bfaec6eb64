"""The plugin's tables: its auto check-in rules, the desk's hand-outs, and what desks and
the door keep beside pretix's own data."""
import builtins

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager
from pretix.base.models import (
    CheckinList, Device, Event, Gate, Item, ItemVariation, LoggedModel, OrderPosition,
    SalesChannel,
)


class AutoCheckinRule(LoggedModel):
    """One "check these tickets in when the order is placed/paid" rule of an event."""

    MODE_PLACED = "placed"
    MODE_PAID = "paid"
    MODE_CHOICES = (
        (MODE_PLACED, _("After the order was placed")),
        (MODE_PAID, _("After the order was paid")),
    )

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="pretix_desk_rules"
    )
    # Named "list" by the API contract; the field shadows the builtin inside this class
    # body, so defaults below use builtins.list.
    list = models.ForeignKey(
        CheckinList,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pretix_desk_rules",
        verbose_name=_("Check-in list"),
        help_text=_(
            "If you leave this empty, the ticket is checked in on every list that "
            "admits its product."
        ),
    )
    mode = models.CharField(
        max_length=20,
        choices=MODE_CHOICES,
        default=MODE_PLACED,
        verbose_name=_("When"),
    )
    all_sales_channels = models.BooleanField(
        default=True, verbose_name=_("All sales channels")
    )
    limit_sales_channels = models.ManyToManyField(
        SalesChannel,
        blank=True,
        related_name="pretix_desk_rules",
        verbose_name=_("Sales channels"),
    )
    all_products = models.BooleanField(
        default=True, verbose_name=_("All products and variations")
    )
    limit_products = models.ManyToManyField(
        Item, blank=True, related_name="pretix_desk_rules", verbose_name=_("Products")
    )
    limit_variations = models.ManyToManyField(
        ItemVariation,
        blank=True,
        related_name="pretix_desk_rules",
        verbose_name=_("Variations"),
    )
    all_payment_methods = models.BooleanField(
        default=True, verbose_name=_("All payment methods")
    )
    limit_payment_methods = models.JSONField(
        default=builtins.list,
        blank=True,
        verbose_name=_("Payment methods"),
    )
    # The id of the rule of pretix's bundled automated check-in plugin this one was
    # imported from: a second import skips it even if this rule was edited since. A
    # plain number, not a foreign key: neither plugin's data depends on the other's.
    imported_from = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(
                condition=~Q(mode="placed") | Q(all_payment_methods=True),
                name="pretix_desk_rule_placed_all_payments",
            ),
        ]

    def __str__(self):
        return f"AutoCheckinRule #{self.pk}"


class Redemption(models.Model):
    """An add-on or bundled product handed out at the desk.

    A line item may be redeemed at most once while not annulled; the partial unique
    constraint makes two desks racing for the same item end with exactly one winner.
    Annulled redemptions stay as history.
    """

    position = models.ForeignKey(
        OrderPosition, on_delete=models.CASCADE, related_name="pretix_desk_redemptions"
    )
    checkin_list = models.ForeignKey(
        CheckinList,
        on_delete=models.SET_NULL,
        null=True,
        related_name="pretix_desk_redemptions",
    )
    datetime = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    nonce = models.CharField(max_length=190, null=True, blank=True)
    annulled = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-datetime", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["position"],
                condition=Q(annulled__isnull=True),
                name="pretix_desk_redeem_once",
            ),
            models.UniqueConstraint(
                fields=["position", "nonce"],
                condition=Q(nonce__isnull=False),
                name="pretix_desk_redeem_nonce",
            ),
        ]


class DeletedSecret(models.Model):
    """The code of a ticket whose order pretix deleted (only test mode orders can be).

    Nothing else is left of such a ticket, so without this row a desk's offline copy would
    keep admitting it and an unchanged-sync check could not see the deletion.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    secret = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ScopedManager(organizer="event__organizer")


class SealKey(models.Model):
    """The derived master secret of a ticket's code (``desk.sealing``), kept because its
    derivation is slow on purpose. ``secret_digest`` says which code it belongs to: a
    regenerated secret makes it stale."""

    position = models.OneToOneField(
        OrderPosition, on_delete=models.CASCADE, primary_key=True, related_name="pretix_desk_seal",
    )
    secret_digest = models.CharField(max_length=16)
    master = models.BinaryField(max_length=32)

    objects = ScopedManager(organizer="position__order__event__organizer")


class DeskReport(models.Model):
    """What a desk page last said about itself (``door/reports.py``), one row per desk and
    event: the door page shows every desk from these, and those gone quiet as such.

    The desk sends its report with the list syncs it makes anyway; times are the server's,
    the desk's own clock corrected by the difference it reported."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    desk = models.CharField(max_length=40)
    checkin_list = models.ForeignKey(CheckinList, on_delete=models.SET_NULL, null=True, related_name="+")
    gate = models.ForeignKey(Gate, on_delete=models.SET_NULL, null=True, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
    )
    version = models.CharField(max_length=40)
    state = models.CharField(max_length=20)
    state_since = models.DateTimeField(null=True)
    last_sync = models.DateTimeField(null=True)
    offline_from = models.DateTimeField(null=True)
    offline_until = models.DateTimeField(null=True)
    queued = models.PositiveIntegerField(default=0)
    parked = models.PositiveIntegerField(default=0)
    failing = models.PositiveIntegerField(default=0)
    scans_5min = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    objects = ScopedManager(organizer="event__organizer")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "desk"], name="pretix_desk_report_once"),
        ]


class DoorCapacity(models.Model):
    """How many may be inside on a check-in list, or on a list at one gate ("this room holds
    800"): desks refuse entries beyond it (``door/capacity.py``). Inside is pretix's own
    count; the row is what concurrent entries lock, so two desks never both take the last
    place."""

    checkin_list = models.ForeignKey(CheckinList, on_delete=models.CASCADE, related_name="+")
    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, null=True, related_name="+")
    capacity = models.PositiveIntegerField()

    objects = ScopedManager(organizer="checkin_list__event__organizer")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["checkin_list", "gate"], name="pretix_desk_capacity_gate_once"),
            models.UniqueConstraint(fields=["checkin_list"], condition=Q(gate__isnull=True),
                                    name="pretix_desk_capacity_list_once"),
        ]
