"""Who may do what, as one table: every desk endpoint, the rules API and the desk page ×
every kind of caller pretix knows. Each cell is the expected status code; each row is one
test that asserts every cell of it and, on failure, prints the row as it is."""
import datetime

import pytest
from django.test import Client
from django.utils.timezone import now
from pretix.api.models import OAuthAccessToken, OAuthApplication
from pretix.base.models import Device, Organizer, Team, User
from rest_framework.test import APIClient

from pretix_desk.models import AutoCheckinRule

from .conftest import desk_url

CHECKIN = "event.orders:checkin"

COLUMNS = ("scan", "lookup", "redeem", "annul", "preload", "search", "badge",
           "rules.list", "rules.create", "rules.apply", "page")

# 302: the control panel sends who is not logged in to the login page (API credentials do
# not log in there); it answers 404 for an event the user's teams do not cover, 403 for one
# they cover without the permission. Badges are printed by pretix's badges plugin, which the event has on.
ALL = (201, 200, 201, 200, 200, 200, 200, 200, 201, 202, 200)
TABLE = {
    "anonymous": (401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 302),
    "other organizer": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404),
    "team of other event": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 404),
    "team without permission": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403),
    "check-in only team": (201, 200, 201, 200, 200, 200, 200, 403, 403, 403, 200),
    "device pretix_desk": (201, 200, 201, 200, 200, 200, 200, 403, 403, 403, 302),
    "device pretixscan": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 302),
    "oauth read write": ALL[:-1] + (302,),
    "oauth profile only": (403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 302),
    "admin": ALL,
}


def team(organizer, user=None, *, permissions=None, events=None, everything=False):
    t = Team.objects.create(organizer=organizer, name="Team", all_events=events is None,
                            all_event_permissions=everything, all_organizer_permissions=everything,
                            limit_event_permissions={p: True for p in (permissions or [])})
    if events:
        t.limit_events.set(events)
    if user:
        t.members.add(user)
    return t


def callers(kind, organizer, other_event):
    """(API client, control-panel client) of a kind of caller."""
    api, page = APIClient(), Client()

    def token(header):
        api.credentials(HTTP_AUTHORIZATION=header)
        page.defaults["HTTP_AUTHORIZATION"] = header

    user = User.objects.create_user(kind.replace(" ", "-") + "@example.org", "secret")
    if kind == "anonymous":
        pass
    elif kind == "other organizer":
        stranger = Organizer.objects.create(name="Other", slug="other")
        t = team(stranger, user, everything=True)
        token("Token " + t.tokens.create(name="t").token)
        page.force_login(user)
    elif kind in ("team of other event", "team without permission", "check-in only team", "admin"):
        t = team(organizer, user, **{
            "team of other event": {"events": [other_event], "everything": True},
            "team without permission": {},
            "check-in only team": {"permissions": [CHECKIN]},
            "admin": {"everything": True},
        }[kind])
        api.credentials(HTTP_AUTHORIZATION="Token " + t.tokens.create(name="t").token)
        page.force_login(user)
    elif kind.startswith("device"):
        device = Device.objects.create(organizer=organizer, name="Desk", all_events=True, initialized=now(),
                                       api_token="devtoken" + kind[7:], security_profile=kind[7:])
        token("Device " + device.api_token)
    elif kind.startswith("oauth"):
        team(organizer, user, everything=True)
        app = OAuthApplication.objects.create(name="App", redirect_uris="https://example.org/cb",
                                              client_type="confidential", authorization_grant_type="authorization-code")
        access = OAuthAccessToken.objects.create(
            user=user, application=app, token="oauth" + kind.replace(" ", ""),
            expires=now() + datetime.timedelta(days=1), scope="read write" if "write" in kind else "profile")
        access.organizers.add(organizer)
        token("Bearer " + access.token)
    return api, page


@pytest.fixture
def badges(event):
    event.enable_plugin("pretix.plugins.badges")
    event.save()


def row(api, page, event, clist, position, addon, rule):
    rules = "/api/v1/organizers/{}/events/{}/auto_checkin_rules/".format(event.organizer.slug, event.slug)
    cells = [
        api.post(desk_url(clist, "scan"), {"access_code": position.secret}, format="json"),
        api.get(desk_url(clist, "lookup", code=position.secret)),
        api.post(desk_url(clist, "redeem"), {"access_code": position.secret, "line_item_id": addon.pk}, format="json"),
        api.post(desk_url(clist, "redeem-annul"), {"access_code": position.secret, "line_item_id": addon.pk},
                 format="json"),
        api.get(desk_url(clist, "preload")),
        api.get(desk_url(clist, "search") + "?q=Lovelace"),
        api.get(desk_url(clist, "badge", position=position.pk)),
        api.get(rules),
        api.post(rules, {"mode": "placed", "list": clist.pk}, format="json"),
        api.post(rules + "{}/apply/".format(rule.pk), {"dry_run": True}, format="json"),
        page.get("/control/event/{}/{}/desk/".format(event.organizer.slug, event.slug)),
    ]
    return tuple(r.status_code for r in cells)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(TABLE))
def test_authorization_table(kind, organizer, event, other_event, clist, position, addon, badges):
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    api, page = callers(kind, organizer, other_event)
    got = row(api, page, event, clist, position, addon, rule)
    mismatches = {c: (want, have) for c, want, have in zip(COLUMNS, TABLE[kind], got) if want != have}
    assert not mismatches, "{}: (expected, got) {}".format(kind, mismatches)
    # nothing written by whom the table refuses
    from pretix.base.models import Checkin

    from pretix_desk.models import Redemption
    assert Checkin.all.filter(position=position).exists() == (TABLE[kind][0] == 201)
    assert AutoCheckinRule.objects.filter(event=event).count() == 1 + (TABLE[kind][8] == 201)
    assert Redemption.objects.filter(position=addon).exists() == (TABLE[kind][2] == 201)
