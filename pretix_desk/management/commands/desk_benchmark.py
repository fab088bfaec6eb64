"""Compare the desk API with pretix's own check-in endpoints on generated data.

    python -m pretix desk_benchmark --attendees 20000

Creates a throwaway organizer and event, measures queries and wall time of the desk's scan,
lookup and preload next to pretix's ``checkinrpc/redeem`` and the paginated
``checkinlists/{id}/positions/`` download, prints a table, and rolls everything back.
"""
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.crypto import get_random_string
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import (
    CheckinList, Event, Item, Order, OrderPosition, Organizer, Team,
)
from rest_framework.test import APIClient


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Measure the desk API against pretix's check-in API on generated data (rolled back)."

    def add_arguments(self, parser):
        parser.add_argument("--attendees", type=int, default=2000)
        parser.add_argument("--page-limit", type=int, default=0,
                            help="Stop pretix's paginated download after this many pages (0: all).")

    def handle(self, *args, attendees, page_limit, **options):
        with scopes_disabled():
            try:
                with transaction.atomic():
                    self._run(attendees=attendees, page_limit=page_limit)
                    raise Rollback()
            except Rollback:
                pass

    def _run(self, *, attendees, page_limit):
        event, clist, client = self._setup(attendees)
        kw = {"organizer": event.organizer.slug, "event": event.slug, "list": clist.pk}
        positions = list(OrderPosition.objects.filter(order__event=event, addon_to__isnull=True)
                         .order_by("pk").values_list("secret", flat=True)[:4])
        rows = []

        def measure(label, fn):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = fn()
                if getattr(response, "streaming", False):
                    size = sum(len(chunk) for chunk in response.streaming_content)
                else:
                    size = len(response.content)
                elapsed = time.perf_counter() - start
            rows.append((label, response.status_code, len(ctx.captured_queries), elapsed * 1000, size))
            return response

        scan_url = reverse("api-v1:desk-scan", kwargs=kw)
        rpc_url = reverse("api-v1:checkinrpc.redeem", kwargs={"organizer": event.organizer.slug})
        # Warm-up, so one-off caches (content types, settings) do not count for either side.
        client.post(scan_url, {"access_code": positions[3]}, format="json")
        client.post(rpc_url, {"secret": positions[3], "lists": [clist.pk]}, format="json")

        measure("desk scan (ok)", lambda: client.post(scan_url, {"access_code": positions[0]}, format="json"))
        measure("desk scan (already used)", lambda: client.post(scan_url, {"access_code": positions[0]}, format="json"))
        measure("pretix checkinrpc/redeem (ok)", lambda: client.post(
            rpc_url, {"secret": positions[1], "lists": [clist.pk]}, format="json"))
        measure("pretix checkinrpc/redeem (already used)", lambda: client.post(
            rpc_url, {"secret": positions[1], "lists": [clist.pk]}, format="json"))
        measure("desk lookup", lambda: client.get(
            reverse("api-v1:desk-lookup", kwargs={**kw, "code": positions[2]})))
        measure("desk preload (streamed, all)", lambda: client.get(reverse("api-v1:desk-preload", kwargs=kw)))

        url = reverse("api-v1:checkinlistpos-list", kwargs=kw)
        pages = queries = size = 0
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            while url and (not page_limit or pages < page_limit):
                response = client.get(url)
                data = response.json()
                size += len(response.content)
                pages += 1
                url = data["next"]
        queries = len(ctx.captured_queries)
        rows.append((f"pretix positions/ ({pages} pages)", response.status_code, queries,
                     (time.perf_counter() - start) * 1000, size))

        self.stdout.write(f"{attendees} attendees, each with one add-on, database {connection.vendor}\n")
        self.stdout.write(f"{'request':<42} {'status':>6} {'queries':>8} {'ms':>10} {'bytes':>11}")
        for label, status, n, ms, b in rows:
            self.stdout.write(f"{label:<42} {status:>6} {n:>8} {ms:>10.1f} {b:>11}")

    def _setup(self, attendees):
        suffix = uuid.uuid4().hex[:8]
        organizer = Organizer.objects.create(name="Benchmark", slug=f"bench-{suffix}")
        event = Event.objects.create(
            organizer=organizer, name="Benchmark", slug="bench", date_from=now() + timedelta(days=3),
            plugins="pretix_desk", live=True,
        )
        ticket = Item.objects.create(event=event, name="Ticket", default_price=Decimal("10"), admission=True)
        shirt = Item.objects.create(event=event, name="T-shirt", default_price=Decimal("5"))
        clist = CheckinList.objects.create(event=event, name="Main", all_products=False)
        clist.limit_products.add(ticket)
        channel = organizer.sales_channels.get(identifier="web")
        batch = 1000
        for start in range(0, attendees, batch):
            orders = Order.objects.bulk_create([
                Order(event=event, organizer=organizer, code=f"B{i:07d}", status=Order.STATUS_PAID, email=f"a{i}@example.org",
                      datetime=now(), expires=now() + timedelta(days=1), total=Decimal("15"),
                      sales_channel=channel, locale="en", secret=get_random_string(16))
                for i in range(start, min(start + batch, attendees))
            ])
            parents = OrderPosition.objects.bulk_create([
                OrderPosition(order=o, organizer=organizer, positionid=1, item=ticket, price=Decimal("10"),
                              tax_rate=Decimal("0"), tax_value=Decimal("0"),
                              attendee_name_cached=f"Attendee {o.code}",
                              attendee_name_parts={"full_name": f"Attendee {o.code}"},
                              secret=get_random_string(32), pseudonymization_id=get_random_string(16))
                for o in orders
            ])
            OrderPosition.objects.bulk_create([
                OrderPosition(order_id=p.order_id, organizer=organizer, positionid=2, item=shirt,
                              price=Decimal("5"), tax_rate=Decimal("0"), tax_value=Decimal("0"), addon_to=p,
                              secret=get_random_string(32), pseudonymization_id=get_random_string(16))
                for p in parents
            ])
        team = Team.objects.create(organizer=organizer, name="Bench", all_events=True, all_event_permissions=True)
        client = APIClient(SERVER_NAME=urlparse(settings.SITE_URL).hostname or "localhost")
        client.credentials(HTTP_AUTHORIZATION="Token " + team.tokens.create(name="bench").token)
        return event, clist, client
