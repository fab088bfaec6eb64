"""The preload's ETag: cheap to compute (a desk's periodic sync of an unchanged list is a
304), and different after every change a desk must download."""
import pytest
from pretix.base.models import Checkin

from tests.conftest import make_order

from .conftest import desk_url, redeem, scan


@pytest.mark.django_db
def test_etag_changes_with_everything_a_record_shows(client, clist, event, organizer, ticket, tshirt,
                                                     order, position, addon):
    """The ETag is read from the orders' latest modification, revoked codes and deleted
    orders: each kind of change a desk must download shows in it, or a syncing desk would
    keep a stale copy behind a 304."""
    def etag():
        return client.get(desk_url(clist, "preload"))["ETag"]

    seen = [etag()]

    def changed(what):
        now_tag = etag()
        assert now_tag not in seen, what
        seen.append(now_tag)

    api = f"/api/v1/organizers/{organizer.slug}/events/{event.slug}"
    scan(client, clist, access_code=position.secret)
    changed("a check-in")
    ci = Checkin.objects.get(position=position, successful=True)
    ci.nonce = "annul-me"
    ci.save()
    seen.append(etag())  # (saving the nonce touched the order too)
    r = client.post(f"/api/v1/organizers/{organizer.slug}/checkinrpc/annul/",
                    {"lists": [clist.pk], "nonce": "annul-me"}, format="json")
    assert r.status_code == 200, r.data
    changed("an annulled check-in (pretix's checkinrpc/annul)")
    redeem(client, clist, access_code=position.secret, line_item_id=addon.pk)
    changed("a redemption")
    r = client.post(desk_url(clist, "redeem-annul"), {"access_code": position.secret, "line_item_id": addon.pk},
                    format="json")
    assert r.status_code == 200, r.data
    changed("an annulled redemption")
    r = client.patch(f"{api}/orderpositions/{position.pk}/", {"attendee_name_parts": {"_legacy": "Grace Hopper"}},
                     format="json")
    assert r.status_code == 200, r.data
    changed("a new attendee name")
    r = client.post(f"{api}/orderpositions/{position.pk}/regenerate_secrets/")
    assert r.status_code == 200, r.data
    changed("a regenerated code")
    other = make_order(event, [ticket], code="NEW01")
    changed("a new order")
    r = client.post(f"{api}/orders/{other.code}/mark_canceled/", {}, format="json")
    assert r.status_code == 200, r.data
    changed("a canceled order")
    test_order = make_order(event, [ticket], code="TEST1", testmode=True)
    changed("a new test mode order")
    r = client.delete(f"{api}/orders/{test_order.code}/")
    assert r.status_code == 204, r.content
    changed("a deleted test mode order (no order left to show a timestamp)")
    clist.allow_multiple_entries = True
    clist.save()
    changed("the list's entry rules")
