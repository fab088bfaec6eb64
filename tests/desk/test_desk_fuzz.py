"""Generated request bodies: scan and redeem never answer 500, and a 400 writes nothing."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pretix.base.models import Checkin, LogEntry

from pretix_desk.models import Redemption

from .conftest import desk_url

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) \
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=300)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["access_code", "type", "nonce", "datetime", "ignore_unpaid", "gate", "line_item_id"]
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)),
    st.fixed_dictionaries({"access_code": st.text(max_size=300)}, optional={
        "type": st.sampled_from(["entry", "exit", "", "ENTRY"]) | json_values,
        "datetime": st.datetimes().map(lambda d: d.isoformat()) | json_values,
        "line_item_id": st.integers() | json_values,
        "nonce": st.text(max_size=200) | json_values,
        "ignore_unpaid": st.booleans() | json_values,
    }),
)
HYPOTHESIS = settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _state():
    return Checkin.all.count(), Redemption.objects.count(), LogEntry.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["scan", "redeem", "redeem-annul"])
def test_generated_bodies_never_500(client, clist, position, addon, endpoint):
    url = desk_url(clist, endpoint)

    @HYPOTHESIS
    @given(body=bodies)
    def run(body):
        before = _state()
        r = client.post(url, body, format="json")
        assert r.status_code < 500, (body, r.content)
        if r.status_code == 400 and r.data.get("status") != "error":
            assert _state() == before, body

    run()


@pytest.mark.django_db
def test_generated_codes_in_urls_never_500(client, clist, position):
    @HYPOTHESIS
    @given(code=st.text(min_size=1, max_size=300))
    def run(code):
        import urllib.parse

        url = desk_url(clist, "scan").replace("/scan/", "/lookup/%s/" % urllib.parse.quote(code, safe=""))
        before = _state()
        r = client.get(url)
        assert r.status_code in (200, 404), (code, r.status_code)
        assert _state() == before

    run()


@pytest.mark.django_db
def test_generated_query_params_never_500(client, clist, position):
    @HYPOTHESIS
    @given(q=st.text(max_size=300), since=st.text(max_size=300), product=st.text(max_size=30))
    def run(q, since, product):
        assert client.get(desk_url(clist, "search"), {"q": q}).status_code in (200, 400)
        r = client.get(desk_url(clist, "preload"), {"since": since, "product": product})
        assert r.status_code in (200, 400)
        if r.status_code == 200:
            b"".join(r.streaming_content)

    run()
