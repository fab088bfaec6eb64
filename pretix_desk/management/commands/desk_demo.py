"""Fills an empty pretix with a demo organizer and event for trying pretix-desk.

Idempotent: running it again leaves existing demo data alone and prints the logins.
"""
import datetime
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix.base.models import (
    CheckinList, Event, Item, ItemCategory, Order, OrderPayment, OrderPosition,
    Organizer, Question, Team, User,
)

from pretix_desk.models import AutoCheckinRule

PEOPLE = [
    "Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson",
    "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth", "Margaret Hamilton",
    "Dennis Ritchie", "Frances Allen", "Ken Thompson", "Radia Perlman",
    "John McCarthy", "Hedy Lamarr", "Tim Berners-Lee", "Annie Easley",
    "Linus Torvalds", "Shafi Goldwasser", "Guido van Rossum", "Sophie Wilson",
]


class Command(BaseCommand):
    help = ("Create a demo organizer and event that sells like a shop (quotas, bank transfer), "
            "with two check-in lists, a check-in question and text, badges, orders and logins.")

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--signed", action="store_true",
                            help="a second demo event whose tickets have pretix's signed codes (pretix_sig1), "
                                 "which desks verify offline even when sold after their download")

    @scopes_disabled()
    def handle(self, *args, url, signed=False, **options):
        with transaction.atomic():
            user, token = self._logins()
            event, clist = self._event()
            if signed:
                event, clist = self._event(signed=True)
        base = url.rstrip("/")
        o, e = event.organizer.slug, event.slug
        self.stdout.write(
            "\n".join([
                "",
                "pretix-desk demo is ready:",
                f"  control panel  {base}/control/  (login: admin@localhost / admin)",
                f"  shop           {base}/{o}/{e}/",
                f"  desk page      {base}/control/event/{o}/{e}/desk/",
                f"  rules          {base}/control/event/{o}/{e}/desk/rules/",
                f"  API token      {token}",
                f"  rules API      {base}/api/v1/organizers/{o}/events/{e}/auto_checkin_rules/",
                f"  desk API       {base}/api/v1/organizers/{o}/events/{e}/checkinlists/{clist.pk}/desk/",
                "  try:  curl -H 'Authorization: Token {}' {}/api/v1/organizers/{}/events/{}/checkinlists/{}/desk/search/?q=ada".format(
                    token, base, o, e, clist.pk),
                "  ticket codes:  " + " ".join(
                    OrderPosition.objects.filter(
                        order__event=event, order__status=Order.STATUS_PAID,
                        item__admission=True,
                    ).order_by("id").values_list("secret", flat=True)[:3]
                ),
                "",
            ])
        )

    def _logins(self):
        user = User.objects.filter(email="admin@localhost").first()
        if not user:
            user = User.objects.create_user("admin@localhost", "admin")
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        organizer, _ = Organizer.objects.get_or_create(
            slug="demo", defaults={"name": "Demo Organizer"}
        )
        # Bank transfer is an organizer-and-event plugin: without the organizer, the event
        # would not offer it, and the demo rule's payment method would never occur.
        organizer.enable_plugin("pretix.plugins.banktransfer")
        organizer.save(update_fields=["plugins"])
        team, created = Team.objects.get_or_create(
            organizer=organizer,
            name="Administrators",
            defaults=dict(
                all_events=True, all_event_permissions=True,
                all_organizer_permissions=True,
            ),
        )
        team.members.add(user)
        token = team.tokens.filter(name="demo").first() or team.tokens.create(name="demo")
        return user, token.token

    def _event(self, signed=False):
        organizer = Organizer.objects.get(slug="demo")
        slug = "democon-signed" if signed else "democon"
        event = Event.objects.filter(organizer=organizer, slug=slug).first()
        if event:
            return event, event.checkin_lists.order_by("pk").first()
        event = Event.objects.create(
            organizer=organizer,
            name="DemoCon 2026 (signed codes)" if signed else "DemoCon 2026",
            slug=slug,
            date_from=now() + datetime.timedelta(days=1),
            date_to=now() + datetime.timedelta(days=3),
            currency="EUR",
            live=True,
            plugins="pretix_desk,pretix.plugins.banktransfer,pretix.plugins.paypal2,"
                    "pretix.plugins.ticketoutputpdf",
        )
        event.enable_plugin("pretix.plugins.badges")  # makes the default badge layout
        event.save(update_fields=["plugins"])
        event.settings.payment_banktransfer__enabled = True
        event.settings.payment_banktransfer_bank_details_type = "other"
        event.settings.payment_banktransfer_bank_details = "Demo Bank, account 12345678"
        event.settings.locales = ["en", "de"]
        event.settings.attendee_names_asked = True
        if signed:
            # set before the first ticket: every code is then signed (docs/offline.rst)
            event.settings.ticket_secret_generator = "pretix_sig1"
        tickets = ItemCategory.objects.create(event=event, name="Tickets")
        extras = ItemCategory.objects.create(event=event, name="Extras", is_addon=True)
        ticket = Item.objects.create(
            event=event, category=tickets, name="Conference ticket",
            default_price=Decimal("250.00"), admission=True,
        )
        speaker = Item.objects.create(
            event=event, category=tickets, name="Speaker ticket",
            default_price=Decimal("0.00"), admission=True,
            checkin_text="Speaker: hand out the green lanyard",
        )
        shirt = Item.objects.create(
            event=event, category=extras, name="T-shirt",
            default_price=Decimal("20.00"), admission=False,
        )
        sizes = [shirt.variations.create(value=v) for v in ("S", "M", "L")]
        lunch = Item.objects.create(
            event=event, category=extras, name="Lunch voucher",
            default_price=Decimal("12.00"), admission=False,
        )
        ticket.addons.create(addon_category=extras, min_count=0, max_count=2)
        quota = event.quotas.create(name="Everything", size=500)
        quota.items.set([ticket, speaker, shirt, lunch])
        quota.variations.set(sizes)
        # Unpaid tickets are refused at the door, with "check in anyway" for staff.
        clist = CheckinList.objects.create(event=event, name="Main entrance", all_products=False,
                                           include_pending=True)
        clist.limit_products.set([ticket, speaker])
        # The lunch counter scans the conference ticket and checks its lunch voucher in.
        lunch_list = CheckinList.objects.create(event=event, name="Lunch counter", all_products=False,
                                                addon_match=True)
        lunch_list.limit_products.set([lunch])
        release = Question.objects.create(
            event=event, question="Has the speaker signed the recording release?",
            type=Question.TYPE_BOOLEAN, required=True, ask_during_checkin=True,
        )
        release.items.add(speaker)
        rule = AutoCheckinRule.objects.create(event=event, list=clist, all_products=False)
        rule.limit_products.add(speaker)

        web = organizer.sales_channels.get(identifier="web")
        for i, name in enumerate(PEOPLE):
            status = Order.STATUS_PAID
            if i in (5, 13):
                status = Order.STATUS_PENDING
            elif i == 17:
                status = Order.STATUS_CANCELED
            email = name.lower().replace(" ", ".") + "@example.org"
            order = Order.objects.create(
                event=event, status=status, email=email, locale="en",
                datetime=now() - datetime.timedelta(days=30 - i),
                expires=now() + datetime.timedelta(days=5),
                total=Decimal("0.00"), sales_channel=web,
            )
            item = speaker if i % 7 == 3 else ticket
            parent = OrderPosition.objects.create(
                order=order, positionid=1, item=item, price=item.default_price,
                attendee_name_parts={"full_name": name}, attendee_email=email,
                canceled=status == Order.STATUS_CANCELED,
            )
            extras_bought = []
            if i % 2 == 0:
                extras_bought.append((shirt, sizes[i % 3]))
            if i % 3 == 0:
                extras_bought.append((lunch, None))
            for n, (extra, variation) in enumerate(extras_bought):
                OrderPosition.objects.create(
                    order=order, positionid=n + 2, item=extra, variation=variation,
                    price=extra.default_price, addon_to=parent,
                    canceled=status == Order.STATUS_CANCELED,
                )
            order.total = sum(p.price for p in order.all_positions.all())
            order.save(update_fields=["total"])
            order.create_transactions()
            if status == Order.STATUS_PAID and order.total:
                order.payments.create(
                    provider="banktransfer", amount=order.total,
                    state=OrderPayment.PAYMENT_STATE_CONFIRMED, payment_date=now(),
                )
        return event, clist
