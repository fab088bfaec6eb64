"""Fixtures of the tests that need pretix as production runs it (``harness.py``).

Those tests are marked ``stack``; scripts/test runs them in a step of their own (once, not on
both the SQLite and the PostgreSQL pass). ``stack`` is one stack for the whole session:
tests must not depend on each other's data (seed a new organizer with ``seed_organizer``
under a slug of their own)."""
import os

import pytest

from tests.stack.harness import Stack


@pytest.fixture(scope="session")
def stack():
    # test_webhooks' webhook target listens on loopback, where pretix's SSRF protection
    # refuses to send unless told otherwise
    with Stack(keep=bool(os.environ.get("PRETIX_DESK_STACK_KEEP")),
               config={"pretix": {"allow_http_to_private_networks": "on"}}) as s:
        yield s


def pytest_runtest_setup(item):
    # A stack takes half a minute to start and runs once, in scripts/test's own step
    # (`pytest -m stack`); the SQLite and PostgreSQL passes leave these tests out.
    if item.get_closest_marker("stack") and "stack" not in (item.config.getoption("markexpr") or ""):
        pytest.skip("starts the production stack: run with -m stack (scripts/test does)")
