"""The preload compressed by the application (desk/compression.py): a client that accepts
gzip gets the same document in a gzip stream, with a weak ETag that its next sync matches;
one that does not, or refuses it, gets it as before."""
import datetime
import gzip
import json

import pytest
from django.utils.timezone import now

from pretix_desk.desk.compression import accepts_gzip, gzip_stream
from tests.conftest import make_order

from .conftest import desk_url


@pytest.mark.parametrize("value, accepted", [
    ("gzip", True), ("gzip, deflate, br, zstd", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True),
    ("x-gzip", True), ("GZIP", True), ("", False), (None, False), ("identity", False), ("br", False),
    ("gzip;q=0", False), ("gzip;q=0.0, br", False), ("gzip;q=nonsense", False), ("*;q=0", False),
])
def test_what_accepts_gzip(value, accepted):
    assert accepts_gzip(value) is accepted


def test_the_stream_is_one_gzip_member_of_everything():
    parts = ["{\"a\": [", *("\"%05d\"," % i for i in range(20000)), "0]}"]
    assert gzip.decompress(b"".join(gzip_stream(iter(parts)))) == "".join(parts).encode()


@pytest.mark.django_db
def test_a_client_that_accepts_gzip_gets_the_same_document_compressed(client, clist, event, ticket):
    for i in range(30):
        make_order(event, [ticket], code=f"GZ{i:03d}")
    plain = client.get(desk_url(clist, "preload"))
    packed = client.get(desk_url(clist, "preload"), HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"] and "Accept-Encoding" in plain["Vary"]
    plain_body = b"".join(plain.streaming_content)
    packed_body = b"".join(packed.streaming_content)
    assert len(packed_body) < len(plain_body) / 2
    same = json.loads(gzip.decompress(packed_body))
    before = json.loads(plain_body)

    def unsealed(doc):  # every download seals with fresh IVs
        return [{k: v for k, v in record.items() if k != "sealed"} for record in doc["attendees"]]
    assert unsealed(same) == unsealed(before) and same["count"] == before["count"] == 30
    # one representation per encoding: the compressed one's tag is weak, and matches
    assert packed["ETag"] == "W/" + plain["ETag"]
    unchanged = client.get(desk_url(clist, "preload") + "?since=" + same["sync_token"],
                           HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert unchanged.status_code == 304 and unchanged["ETag"] == packed["ETag"]
    refused = client.get(desk_url(clist, "preload"), HTTP_ACCEPT_ENCODING="gzip;q=0, identity")
    assert "Content-Encoding" not in refused


NOON = datetime.datetime(2026, 12, 7, 12, tzinfo=datetime.timezone.utc)


@pytest.fixture
def real_cache():
    from django.core.cache import cache
    from django.test.utils import override_settings

    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                               "LOCATION": "shared-preload"}}):
        cache.clear()
        yield cache
        cache.clear()


@pytest.mark.django_db
def test_a_full_download_is_rendered_once_for_the_desks_of_a_moment(client, clist, event, ticket, real_cache):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pretix_desk.desk import shared_preload

    for i in range(5):
        make_order(event, [ticket], code=f"SH{i:03d}")

    def download(**headers):
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(desk_url(clist, "preload"), HTTP_ACCEPT_ENCODING="gzip", **headers)
            body = b"".join(r.streaming_content) if r.status_code == 200 else b""
        return r, body, len(ctx.captured_queries)

    first, body, rendering = download()
    second, again, shared = download()
    assert again == body and second["ETag"] == first["ETag"]  # the same bytes, seals included
    assert shared < rendering - 3  # no attendee was read for the second desk
    # the door is scanning: a change within the moment still gets the shared snapshot, with
    # the ETag it was rendered for, so the desk's next sync brings the change
    make_order(event, [ticket], code="SH999")
    third, snapshot, _ = download()
    assert snapshot == body and third["ETag"] == first["ETag"]
    token = json.loads(gzip.decompress(snapshot))["sync_token"]
    url = desk_url(clist, "preload") + "?since=" + token
    delta = client.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=third["ETag"])
    assert delta.status_code == 200
    codes = {rec["index"]["order"] for rec in json.loads(gzip.decompress(b"".join(delta.streaming_content)))["attendees"]}
    assert "SH999" in codes
    # after the moment (SHARED_SECONDS: the kept body expires), the next one is rendered anew
    real_cache.clear()
    fourth, fresh, _ = download()
    assert fourth["ETag"] != first["ETag"] and json.loads(gzip.decompress(fresh))["count"] == 6
    assert shared_preload.SHARED_SECONDS <= 30  # never older than a desk's copy between two syncs


def test_a_cut_off_rendering_is_not_kept_and_frees_the_others(real_cache):
    from pretix_desk.desk import shared_preload

    def render():
        yield b"part"
        raise OSError("client went away")

    etag, stream = shared_preload.shared_body("k", '"e1"', render, rendered_at=NOON)
    with pytest.raises(OSError):
        list(stream)
    assert real_cache.get("k") is None and real_cache.get("k:lock") is None
    etag, stream = shared_preload.shared_body("k", '"e2"', lambda: iter((b"whole",)), rendered_at=NOON)
    assert (etag, b"".join(stream)) == ('"e2"', b"whole")
    assert real_cache.get("k") == ('"e2"', b"whole", NOON.timestamp())


def test_a_desk_waits_for_the_rendering_under_way(real_cache, monkeypatch):
    from pretix_desk.desk import shared_preload

    real_cache.add("k:lock", 1, 60)
    polls = []

    def sleep(seconds):  # the rendering request finishes while this one waits
        polls.append(seconds)
        if len(polls) == 3:
            real_cache.set("k", ('"older"', b"rendered by the other", NOON.timestamp()))
    monkeypatch.setattr(shared_preload.time, "sleep", sleep)
    etag, body = shared_preload.shared_body("k", '"now"', lambda: pytest.fail("rendered twice"), rendered_at=NOON)
    assert (etag, b"".join(body)) == ('"older"', b"rendered by the other") and len(polls) == 3


def gzip_json(response):
    return json.loads(gzip.decompress(b"".join(response.streaming_content)))


@pytest.mark.django_db
def test_the_desks_syncing_in_the_same_moment_share_one_rendering(client, clist, event, ticket, real_cache):
    """Issue 19: a hundred desks syncing every 30 s each re-rendered the last two and a half
    minutes of changes. Tokens issued in the same half minute ask for the same window, and
    the desks asking for it within SYNC_SHARED_SECONDS get one rendering."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from freezegun import freeze_time

    from pretix_desk.desk import shared_preload, sync

    url = desk_url(clist, "preload")
    # two desks download on their own, ten seconds apart within one half minute's window
    start = now().timestamp() - 600
    window = start - start % sync.WINDOW_STEP + sync.SYNC_OVERLAP.total_seconds()
    tokens = []
    for offset in (5, 15):
        with freeze_time(datetime.datetime.fromtimestamp(window + offset, tz=datetime.timezone.utc)):
            tokens.append(gzip_json(client.get(url, HTTP_ACCEPT_ENCODING="gzip"))["sync_token"])
        real_cache.clear()
    first, second = ({"sync_token": t} for t in tokens)
    assert first["sync_token"] != second["sync_token"]
    for i in range(5):
        make_order(event, [ticket], code=f"SY{i:03d}")

    def sync(token, **headers):
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url + "?since=" + token, HTTP_ACCEPT_ENCODING="gzip", **headers)
            body = b"".join(r.streaming_content) if r.status_code == 200 else b""
        return r, body, len(ctx.captured_queries)

    a, body_a, rendering = sync(first["sync_token"])
    b, body_b, shared = sync(second["sync_token"])
    assert body_b == body_a and b["ETag"] == a["ETag"] and shared < rendering - 3
    assert len(json.loads(gzip.decompress(body_a))["attendees"]) == 5
    # a desk that already holds what the shared body holds is told so
    c, _, _ = sync(second["sync_token"], HTTP_IF_NONE_MATCH=a["ETag"])
    assert c.status_code == 304
    assert shared_preload.SYNC_SHARED_SECONDS <= 5


def test_a_shared_rendering_older_than_the_desks_own_token_is_not_served(real_cache):
    """It would bring the desk states older than those it holds (a ticket it just admitted
    online shown as not yet in)."""
    from pretix_desk.desk import shared_preload

    real_cache.set("k", ('"older"', b"rendered before the desk's token", NOON.timestamp()), 30)
    later = NOON + datetime.timedelta(seconds=1)
    etag, body = shared_preload.shared_body("k", '"now"', lambda: iter((b"fresh",)), rendered_at=later,
                                            not_before=later)
    assert (etag, b"".join(body)) == ('"now"', b"fresh")
    assert real_cache.get("k") == ('"now"', b"fresh", later.timestamp())  # the next desk gets this one
    etag, body = shared_preload.shared_body("k", '"newest"', lambda: pytest.fail("rendered twice"),
                                            rendered_at=later, not_before=NOON)
    assert (etag, b"".join(body)) == ('"now"', b"fresh")


def test_sync_windows_start_on_the_half_minute_and_never_after_the_overlap(event, clist):
    from hypothesis import given, settings, strategies as st

    from pretix_desk.desk import sync

    @settings(max_examples=200, deadline=None)
    @given(st.datetimes(min_value=datetime.datetime(2020, 1, 1), max_value=datetime.datetime(2040, 1, 1),
                        timezones=st.just(datetime.timezone.utc)))
    def check(issued):
        token = sync.make_sync_token(checkin_list=clist, product_id=None, fingerprint="f", started_at=issued,
                                     admission="a")
        since, back = sync.read_sync_token(token, checkin_list=clist, product_id=None, fingerprint="f")
        assert abs((back - issued).total_seconds()) < 0.001
        assert since.timestamp() % sync.WINDOW_STEP == 0
        assert issued - sync.SYNC_OVERLAP - datetime.timedelta(seconds=sync.WINDOW_STEP) < since
        assert since <= issued - sync.SYNC_OVERLAP + datetime.timedelta(milliseconds=1)
    check()


def test_a_sync_does_not_wait_for_a_rendering_under_way(real_cache, monkeypatch):
    """A waiting request holds one of gunicorn's sync workers away from the scans: only a
    full download waits for another's rendering."""
    from pretix_desk.desk import shared_preload

    real_cache.add("k:lock", 1, 60)
    monkeypatch.setattr(shared_preload.time, "sleep", lambda s: pytest.fail("waited"))
    etag, body = shared_preload.shared_body("k", '"now"', lambda: iter((b"own",)), rendered_at=NOON, wait=False)
    assert (etag, b"".join(body)) == ('"now"', b"own")
