"""Import an event's rules of pretix's bundled automated check-in plugin into pretix-desk.

    python -m pretix desk_import_autocheckin ORGANIZER EVENT

Safe to run again: rules imported before are skipped. Prints what it did.
"""
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope, scopes_disabled
from pretix.base.models import Event

from pretix_desk.importer import CREATED, describe_import, import_bundled_rules


class Command(BaseCommand):
    help = ("Import an event's rules of pretix's bundled automated check-in plugin into "
            "pretix-desk rules (rules imported before are skipped).")

    def add_arguments(self, parser):
        parser.add_argument("organizer", help="the organizer's short form (slug)")
        parser.add_argument("event", help="the event's short form (slug)")

    def handle(self, *args, organizer, event, **options):
        with scopes_disabled():
            ev = Event.objects.select_related("organizer").filter(
                organizer__slug=organizer, slug=event,
            ).first()
        if ev is None:
            raise CommandError(f"No event {organizer}/{event}.")
        with scope(organizer=ev.organizer):
            outcomes = import_bundled_rules(event=ev)
        for line in describe_import(outcomes):
            self.stdout.write(line)
        for o in outcomes:
            if o.status == CREATED:
                self.stdout.write(f"  bundled rule #{o.bundled_rule} -> pretix-desk rule #{o.rule}")
        plugins = ev.get_plugins()
        if "pretix_desk" not in plugins:
            self.stdout.write(self.style.WARNING(
                "pretix-desk is not enabled for this event: its rules take effect once it is."
            ))
        elif outcomes and "pretix.plugins.autocheckin" in plugins:
            self.stdout.write(
                "pretix-desk now runs these rules; pretix's automated check-in plugin can be "
                "switched off for this event."
            )
