"""Generated data for the stack: an organizer with an API token, an event with N paid
attendees (each a ticket with a T-shirt add-on), and small events for order benchmarks with
five auto check-in rules (none, pretix's bundled plugin, pretix-desk).

Attendees are written with ``bulk_create`` in batches (100,000 attendees take about a
minute on two cores), not through pretix's order logic: the benchmark measures check-in, not
ordering. Each order is paid, each position has pretix's usual 32-character secret, and the
sealing masters of all codes are derived (as the background task leaves them; about three
milliseconds per code and core).

Runs wherever Django is set up with the stack's settings (``Stack.configure_django()`` or
``Stack.call("tests.stack.seed:seed", ...)``); every function returns plain JSON data.
"""
import base64
import os
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils.timezone import now
from django_scopes import scopes_disabled

BATCH = 2000
PLUGINS_DESK = "pretix_desk"
PLUGINS_BUNDLED = "pretix.plugins.autocheckin"


def random_secret():
    """32 characters of [a-z2-7], as long as pretix's default ticket secrets."""
    return base64.b32encode(os.urandom(20)).decode().lower()


def seed_organizer(slug="bench"):
    from pretix.base.models import Organizer, Team

    with scopes_disabled():
        organizer = Organizer.objects.create(name="Benchmark organizer", slug=slug)
        organizer.sales_channels.get_or_create(identifier="web", defaults={"label": "Online shop", "type": "web"})
        team = Team.objects.create(organizer=organizer, name="Benchmark", all_events=True,
                                   all_event_permissions=True, all_organizer_permissions=True)
        token = team.tokens.create(name="benchmark").token
    return {"organizer": organizer.slug, "token": token}


def checkin_only_token(organizer):
    """A token of a team that may only check in: it downloads sealed records only."""
    from pretix.base.models import Team

    team = Team.objects.create(organizer=organizer, name="Door", all_events=True,
                               limit_event_permissions={"event.orders:checkin": True})
    return team.tokens.create(name="door").token


def _event(organizer, slug, plugins):
    from pretix.base.models import (
        CheckinList, Event, Item, ItemAddOn, ItemCategory, Quota,
    )

    event = Event.objects.create(
        organizer=organizer, name="Benchmark " + slug, slug=slug, date_from=now() + timedelta(days=3),
        plugins=plugins, live=True, currency="EUR",
    )
    merch = ItemCategory.objects.create(event=event, name="Merchandise", is_addon=True)
    ticket = Item.objects.create(event=event, name="Ticket", default_price=Decimal("10"), admission=True)
    shirt = Item.objects.create(event=event, name="T-shirt", default_price=Decimal("5"), category=merch)
    workshop = Item.objects.create(event=event, name="Workshop", default_price=Decimal("20"), admission=True)
    ItemAddOn.objects.create(base_item=ticket, addon_category=merch, min_count=0, max_count=1)
    quota = Quota.objects.create(event=event, name="All", size=None)
    quota.items.add(ticket, shirt, workshop)
    main = CheckinList.objects.create(event=event, name="Main", all_products=False)
    main.limit_products.add(ticket)
    # pretix's way of handing out an add-on: a list of the add-on product that accepts the
    # parent ticket's code
    merch_list = CheckinList.objects.create(event=event, name="Merch", all_products=False, addon_match=True)
    merch_list.limit_products.add(shirt)
    return event, {"ticket": ticket, "shirt": shirt, "workshop": workshop, "main": main, "merch": merch_list}


def seed_attendees(event, objs, attendees, *, code_prefix="B", age=timedelta(days=1)):
    """N paid orders of a ticket with a T-shirt add-on, placed ``age`` ago (the day before
    the doors open: an incremental sync then sees only what changed at the door)."""
    from pretix.base.models import Order, OrderPosition

    organizer = event.organizer
    channel = organizer.sales_channels.get(identifier="web")
    created = now() - age
    for start in range(0, attendees, BATCH):
        with transaction.atomic():
            orders = Order.objects.bulk_create([
                Order(event=event, organizer=organizer, code="{}{:07d}".format(code_prefix, i), status=Order.STATUS_PAID,
                      email="a{}@example.org".format(i), datetime=created, expires=created + timedelta(days=1),
                      total=Decimal("15"), sales_channel=channel, locale="en", secret=random_secret()[:16])
                for i in range(start, min(start + BATCH, attendees))
            ])
            parents = OrderPosition.objects.bulk_create([
                OrderPosition(order=o, organizer=organizer, positionid=1, item=objs["ticket"], price=Decimal("10"),
                              tax_rate=Decimal("0"), tax_value=Decimal("0"),
                              attendee_name_cached="Attendee {}".format(o.code),
                              attendee_name_parts={"full_name": "Attendee {}".format(o.code)},
                              secret=random_secret(), web_secret=random_secret(),
                              pseudonymization_id=random_secret()[:16].upper())
                for o in orders
            ])
            OrderPosition.objects.bulk_create([
                OrderPosition(order_id=p.order_id, organizer=organizer, positionid=2, item=objs["shirt"],
                              price=Decimal("5"), tax_rate=Decimal("0"), tax_value=Decimal("0"), addon_to=p,
                              secret=random_secret(), web_secret=random_secret(),
                              pseudonymization_id=random_secret()[:16].upper())
                for p in parents
            ])
    # bulk_create stamps last_modified (auto_now) with the current time
    Order.objects.filter(event=event).update(last_modified=created)


def seed_rules(event, objs, model):
    """Five rules of which three apply to an order of a ticket with a T-shirt add-on."""
    web = event.organizer.sales_channels.get(identifier="web")
    every = model.objects.create(event=event, list=objs["main"], mode="placed")
    shirts = model.objects.create(event=event, list=objs["merch"], mode="placed", all_products=False)
    shirts.limit_products.add(objs["shirt"])
    online = model.objects.create(event=event, list=None, mode="paid", all_sales_channels=False)
    online.limit_sales_channels.add(web)
    model.objects.create(event=event, list=objs["main"], mode="paid", all_payment_methods=False,
                         limit_payment_methods=["banktransfer"])
    workshop = model.objects.create(event=event, list=objs["main"], mode="placed", all_products=False)
    workshop.limit_products.add(objs["workshop"])
    return [every.pk, shirts.pk, online.pk]


def _ids(event, objs):
    return {"event": event.slug, **{k: v.pk for k, v in objs.items()}}


def seed(*, attendees, organizer="bench", order_events=True, seal=True):
    """Everything the benchmark needs; returns slugs, ids and the API token. ``seal``: derive
    every code's sealing master (minutes at 100,000; only what reads the preload needs it)."""
    from pretix.base.models import Organizer
    from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

    from pretix_desk.desk.sealing import derive_missing
    from pretix_desk.models import AutoCheckinRule as DeskRule

    out = seed_organizer(organizer)
    with scopes_disabled():
        org = Organizer.objects.get(slug=organizer)
        event, objs = _event(org, "attendees", PLUGINS_DESK)
        seed_attendees(event, objs, attendees)
        if seal:
            # What the background derivation leaves after orders come in: every code's master kept.
            derive_missing(event)
        out["attendees"] = _ids(event, objs)
        out["token_checkin"] = checkin_only_token(org)
        if order_events:
            for name, plugins, model in (("orders-none", "", None),
                                         ("orders-bundled", PLUGINS_BUNDLED, BundledRule),
                                         ("orders-desk", PLUGINS_DESK, DeskRule)):
                ev, o = _event(org, name, plugins)
                out[name] = _ids(ev, o)
                if model:
                    seed_rules(ev, o, model)
    analyze()
    return out


def analyze():
    """Planner statistics for the new rows, as autovacuum would gather them a little later
    in production: without them PostgreSQL guesses one row per table and can pick plans
    that take seconds."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def secrets_of(event_slug, organizer="bench", *, limit=None):
    """The tickets' secrets (parent positions), in order of creation."""
    from pretix.base.models import OrderPosition

    with scopes_disabled():
        qs = (OrderPosition.objects.filter(order__event__slug=event_slug, order__event__organizer__slug=organizer,
                                           addon_to__isnull=True)
              .order_by("pk").values_list("secret", flat=True))
        return list(qs[:limit] if limit else qs)
