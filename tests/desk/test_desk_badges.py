"""Badges at the desk: which layout applies (as pretix's badges plugin decides) and the PDF
from pretix's own renderer; nothing of it without the badges plugin."""
from io import BytesIO

import pytest
from pretix.base.services.export import ExportError
from pretix.plugins.badges.models import BadgeItem, BadgeLayout
from pypdf import PdfReader

from pretix_desk.desk.badges import badge_layout, render_badge

from .conftest import desk_url, scan
from .test_desk_permissions import device_client


@pytest.fixture
def badges(event):
    event.enable_plugin("pretix.plugins.badges")
    event.save()
    layout = BadgeLayout.objects.get(event=event, default=True)  # the plugin makes one
    layout.name = "Attendee"
    layout.save()
    return layout


def badge_url(clist, position):
    return desk_url(clist, "badge", position=position.pk)


@pytest.mark.django_db
def test_without_badges_plugin_no_badge_appears(client, clist, position):
    r = scan(client, clist, access_code=position.secret)
    assert r.data["badge"] == {"name": "Ada Lovelace", "product": "Ticket"}
    assert client.get(badge_url(clist, position)).status_code == 404


@pytest.mark.django_db
def test_scan_says_which_layout_and_the_pdf_is_pretix_s(client, clist, position, badges):
    r = scan(client, clist, access_code=position.secret)
    assert r.status_code == 201
    assert r.data["badge"]["layout"] == {"id": badges.pk, "name": "Attendee"}
    assert r.data["badge"]["url"] == badge_url(clist, position)
    lookup = client.get(desk_url(clist, "lookup", code=position.secret)).data
    assert lookup["badge"]["url"] == badge_url(clist, position)

    pdf = client.get(r.data["badge"]["url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = PdfReader(BytesIO(pdf.content)).pages[0].extract_text()
    assert "Ada Lovelace" in text  # pretix's default layout prints the attendee name


@pytest.mark.django_db
def test_layout_choice_matches_pretix_s_renderer(event, ticket, tshirt, order, position, addon, badges):
    special = BadgeLayout.objects.create(event=event, name="Shirt layout")
    cases = {
        "default layout": lambda: None,
        "own layout": lambda: BadgeItem.objects.update_or_create(item=ticket, defaults={"layout": special}),
        "no badge": lambda: BadgeItem.objects.update_or_create(item=ticket, defaults={"layout": None}),
        "no default": lambda: (BadgeItem.objects.all().delete(), BadgeLayout.objects.update(default=False)),
    }
    for name, setup in cases.items():
        setup()
        ours = badge_layout(position)
        try:
            render_badge(position)
            pretix_prints = True
        except ExportError:
            pretix_prints = False
        assert (name, ours is not None) == (name, pretix_prints)
    assert badge_layout(addon) is None


@pytest.mark.django_db
def test_no_badge_for_product_without_layout_and_foreign_positions(client, clist, position, badges, ticket,
                                                                   other_event):
    BadgeItem.objects.create(item=ticket, layout=None)
    r = scan(client, clist, access_code=position.secret)
    assert "layout" not in r.data["badge"]
    assert client.get(badge_url(clist, position)).status_code == 404
    assert client.get(desk_url(clist, "badge", position=999999)).status_code == 404


@pytest.mark.django_db
def test_desk_device_may_print_badges(organizer, clist, position, badges):
    api, _ = device_client(organizer, "pretix_desk")
    assert api.get(badge_url(clist, position)).status_code == 200
