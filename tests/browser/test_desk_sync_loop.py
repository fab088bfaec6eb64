"""The page's own sync loop: an unchanged list costs a 304, a changed one sends the change."""
import pytest
from django_scopes import scopes_disabled
from pretix.base.services.checkin import perform_checkin

from tests.browser.desk_page_helpers import PRELOAD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sync_and_get_preload_status(page):
    with page.expect_response(lambda r: PRELOAD.search(r.url)) as info:
        page.click("#desk-sync")
    return info.value.status, info.value.url


def test_unchanged_list_is_304_and_a_change_is_sent(desk_page, desk_data):
    page = desk_page
    status, url = sync_and_get_preload_status(page)
    assert status == 304 and "since=" in url
    status, _ = sync_and_get_preload_status(page)
    assert status == 304

    with scopes_disabled():
        perform_checkin(op=desk_data["second"], clist=desk_data["list"], given_answers={},
                        questions_supported=False)
    status, _ = sync_and_get_preload_status(page)
    assert status == 200
    page.wait_for_selector("#desk-count-in:text-is('1')")
    status, _ = sync_and_get_preload_status(page)
    assert status == 304
