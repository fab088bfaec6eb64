"""Small functions for ``Stack.call``: they run in a fresh process with the stack's settings."""


def celery_roundtrip(timeout=60):
    """Send a task through the broker and wait for its result through the result backend:
    proves that a Celery worker serves the stack's queues."""
    from pretix.celery_app import app

    return app.send_task("celery.accumulate", args=(1, 2)).get(timeout=timeout)


def successful_checkins(list_id):
    from pretix.base.models import Checkin

    return Checkin.objects.filter(list_id=list_id).count()


def checkins_per_position(list_id):
    """{position_id: successful check-ins} on a list (failed ones left out)."""
    from django.db.models import Count
    from pretix.base.models import Checkin

    rows = (Checkin.all.filter(list_id=list_id, successful=True).values("position_id")
            .annotate(n=Count("id")).values_list("position_id", "n"))
    return {str(p): n for p, n in rows}


def tickets_with_addons(event_slug, organizer):
    """[[secret, add-on position id], ...] of an event's tickets, in order of creation."""
    from pretix.base.models import OrderPosition

    parents = (OrderPosition.objects.filter(order__event__slug=event_slug, order__event__organizer__slug=organizer,
                                            addon_to__isnull=True).order_by("pk"))
    return [[p.secret, p.addons.order_by("pk").values_list("pk", flat=True).first()] for p in parents]


def redemptions(organizer):
    """{line item id: [redemptions not annulled, 'pretix_desk.redeemed' log entries]} of
    every add-on of the organizer that has either."""
    from pretix.base.models import LogEntry

    from pretix_desk.models import Redemption

    out = {}
    for r in Redemption.objects.filter(position__order__event__organizer__slug=organizer, annulled__isnull=True):
        out.setdefault(str(r.position_id), [0, 0])[0] += 1
    for entry in LogEntry.objects.filter(action_type="pretix_desk.redeemed", event__organizer__slug=organizer):
        out.setdefault(str(entry.parsed_data["line_item"]), [0, 0])[1] += 1
    return out


def seed_pending_with_paid_rule(organizer, orders):
    """An event of the organizer (seed.seed_organizer) with ``orders`` pending orders of a
    ticket, list *Main* including pending orders, and a pretix-desk rule that checks tickets
    in on *Main* when their order is paid. Returns ids, order codes and secrets."""
    from pretix.base.models import Order, OrderPosition, Organizer

    from pretix_desk.models import AutoCheckinRule
    from tests.stack import seed

    org = Organizer.objects.get(slug=organizer)
    event, objs = seed._event(org, "paid-race", seed.PLUGINS_DESK)
    objs["main"].include_pending = True
    objs["main"].save()
    AutoCheckinRule.objects.create(event=event, list=objs["main"], mode="paid")
    seed.seed_attendees(event, objs, orders, code_prefix="P")
    Order.objects.filter(event=event).update(status=Order.STATUS_PENDING)
    out = seed._ids(event, objs)
    out["orders"] = [[p.order.code, p.secret] for p in OrderPosition.objects.filter(
        order__event=event, addon_to__isnull=True).select_related("order").order_by("order__code")]
    return out


def order_state(event_slug, organizer, code):
    """[order status, successful check-ins of its positions, 'pretix.event.order.paid' log entries]."""
    from pretix.base.models import Checkin, LogEntry, Order

    order = Order.objects.get(event__slug=event_slug, event__organizer__slug=organizer, code=code)
    return [order.status, Checkin.all.filter(position__order=order, successful=True).count(),
            LogEntry.objects.filter(action_type="pretix.event.order.paid", object_id=order.pk).count()]
