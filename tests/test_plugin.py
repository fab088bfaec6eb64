"""The plugin as pretix sees it: registered, enabled per event, translated, demo-able."""
import pytest
from django.core.management import call_command
from django.utils import translation
from pretix.base.models import Event, Order
from pretix.base.plugins import get_all_plugins

from pretix_desk.models import AutoCheckinRule


def test_registered_as_pretix_plugin():
    meta = {p.module: p for p in get_all_plugins()}["pretix_desk"]
    assert meta.category == "FEATURE"
    assert meta.version
    assert "2026.8" in meta.compatibility


@pytest.mark.django_db
def test_enabled_per_event(event, other_event):
    other_event.disable_plugin("pretix_desk")
    other_event.save()
    assert "pretix_desk" in event.get_plugins()
    assert "pretix_desk" not in other_event.get_plugins()


def test_german_catalog_is_used():
    with translation.override("de"):
        assert str(translation.gettext("Registration desk")) != "Registration desk"


@pytest.mark.django_db
def test_demo_command_is_idempotent(capsys):
    call_command("desk_demo", url="http://demo.example")
    call_command("desk_demo", url="http://demo.example")
    out = capsys.readouterr().out
    assert "admin@localhost / admin" in out
    assert "http://demo.example/control/event/demo/democon/desk/" in out
    event = Event.objects.get(slug="democon")
    assert "pretix_desk" in event.get_plugins()
    assert event.orders.count() == 20
    assert event.orders.filter(status=Order.STATUS_PAID).count() == 17
    assert AutoCheckinRule.objects.filter(event=event).count() == 1
