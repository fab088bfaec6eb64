"""The desk page gets its list compressed by the application (desk/compression.py): the
preload crosses the wire as gzip, Chromium opens it, and offline answers come from it."""
import pytest

from tests.browser.conftest import login, open_desk
from tests.browser.test_desk_scanning import result_state, wedge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_list_arrives_compressed_and_answers_offline(context, desk_data):
    page = context.new_page()
    preloads = []
    page.on("response", lambda r: "/desk/preload/" in r.url and preloads.append(r))
    login(page, desk_data["user"])
    open_desk(page, desk_data)
    first = next(r for r in preloads if r.status == 200)
    assert first.headers.get("content-encoding") == "gzip"
    assert first.headers.get("etag", "").startswith('W/"')
    context.set_offline(True)
    page.wait_for_selector("#desk-net[data-state='offline']")
    wedge(page, desk_data["second"].secret)
    assert "Alan Turing" in result_state(page, "ok")
