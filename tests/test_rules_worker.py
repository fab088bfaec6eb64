"""Applying a rule on a real Celery worker, with Redis as broker and result backend, through
the API and the control panel exactly as in production: 202 and polling, pretix's progress
dialog protocol, results read back from the task's CachedFile.

Runs in scripts/test's own step (``-m celery_worker`` with tests.settings_worker, on
PostgreSQL so that the worker process can share the test database); skipped elsewhere.
Each test starts its own worker (a worker caches database state, such as content type
ids, that the flush between tests renews) and always stops it, with its process group.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils.timezone import now
from pretix.base.models import Checkin, LogEntry, Order

from pretix_desk.models import AutoCheckinRule

from .conftest import make_order

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not settings.HAS_CELERY,
                       reason="needs tests.settings_worker (scripts/test runs it with a worker)"),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds for a task, including the worker's start
WORKER_LIFETIME = 300  # seconds, however the test ends


@pytest.fixture
def worker(transactional_db):
    assert connection.vendor == "postgresql", "the worker shares the test database: PostgreSQL only"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=5)
    try:
        broker.ping()
    except redis.RedisError as e:
        pytest.fail(f"Redis is required for the worker tests and is not reachable: {e}")

    log = tempfile.NamedTemporaryFile("w+", prefix="pretix-desk-worker-", suffix=".log", delete=False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
        "PRETIX_DATABASE_NAME": connection.settings_dict["NAME"],  # the test database
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        # timeout(1) ends the worker even if pytest itself is killed before it can.
        ["timeout", "--kill-after=10", str(WORKER_LIFETIME),
         sys.executable, "-m", "celery", "-A", "pretix.celery_app", "worker", "--pool=solo",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"pretix-desk-test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    proc.log_path = log.name
    try:
        yield proc
    finally:
        _stop(proc)
        log.close()
        os.unlink(log.name)
        for key in broker.scan_iter(match=settings.KEY_PREFIX + "*"):
            broker.delete(key)


def _stop(proc):
    """Warm shutdown first (the worker finishes its task), then the whole process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _worker_log(proc):
    return Path(proc.log_path).read_text()[-4000:]


def wait_for(proc, poll):
    """Call ``poll`` until it returns something, failing if the worker dies or time runs out."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the worker died:\n" + _worker_log(proc)
        value = poll()
        if value is not None:
            return value
        time.sleep(0.2)
    pytest.fail("no result in time; worker log:\n" + _worker_log(proc))


def test_api_on_a_real_worker(worker, token_client, event, ticket, clist):
    orders = [make_order(event, [ticket, ticket]) for _ in range(3)]
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="paid")
    url = f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/auto_checkin_rules/{rule.pk}/apply/"
    waiting = []

    def result(resp):
        assert resp.status_code == 202, resp.content
        poll_url = resp.data["result"]

        def poll():
            answer = token_client.get(poll_url)
            if answer.status_code == 409:
                assert answer.data["status"] in ("waiting", "running")
                waiting.append(answer.data)
                return None
            assert answer.status_code == 200, answer.content
            return answer.data

        return wait_for(worker, poll)

    dry = result(token_client.post(url, {"dry_run": True}, format="json"))
    assert (dry["status"], dry["dry_run"], dry["orders"], dry["checkins"]) == ("done", True, 3, 6)
    assert dry["message"] == "This will check in 6 tickets on list Main."
    assert not Checkin.all.exists()

    done = result(token_client.post(url, {"dry_run": False}, format="json"))
    assert (done["dry_run"], done["checkins"]) == (False, 6)
    assert all(Checkin.objects.filter(position__order=o, list=clist, auto_checked_in=True).count() == 2
               for o in orders)
    log = LogEntry.objects.get(action_type="pretix_desk.rule.applied")
    assert log.api_token is not None
    assert waiting, "the first answer comes before the worker is done"


def test_control_panel_on_a_real_worker(worker, client, admin_team, admin_user, event, ticket, clist):
    order = make_order(event, [ticket])
    rule = AutoCheckinRule.objects.create(event=event, list=clist)
    client.login(email="admin@example.org", password="admin")
    page = f"/control/event/{event.organizer.slug}/{event.slug}/desk/rules/{rule.pk}/apply"

    def run(dry_run):
        # What pretix's asynctask.js does: post with ajax=1, then poll check_url.
        started = client.post(page, {"dry_run": dry_run, "ajax": "1"}).json()
        if started.get("ready"):
            return started

        def poll():
            state = client.get(started["check_url"]).json()
            return state if state["ready"] else None

        return wait_for(worker, poll)

    dry = run("true")
    assert dry["success"] and "?result=" in dry["redirect"]
    assert "This will check in 1 ticket on list Main." in client.get(dry["redirect"]).content.decode()
    assert not Checkin.all.exists()

    done = run("false")
    assert done["success"] and done["redirect"].endswith(f"/desk/rules/{rule.pk}/")
    assert done["message"] == "1 ticket has been checked in on list Main."
    assert Checkin.objects.filter(position__order=order, auto_checked_in=True).count() == 1


def test_sealing_masters_are_derived_on_a_real_worker(worker, token_client, event, ticket, clist, monkeypatch):
    """A download that leaves masters to the background (issue 17): the worker derives them
    and the desks' next incremental sync brings those records sealed."""
    import json

    from pretix_desk.desk import sealing
    from pretix_desk.models import SealKey

    monkeypatch.setattr(sealing, "DERIVE_BUDGET_SECONDS", 0)
    for i in range(4):
        make_order(event, [ticket], code=f"SEALW{i}")
    # changed long before the download: only a change after it sends them again
    Order.objects.filter(event=event).update(last_modified=now() - timedelta(minutes=10))
    url = f"/api/v1/organizers/{event.organizer.slug}/events/{event.slug}/checkinlists/{clist.pk}/desk/preload/"

    def download():
        return json.loads(b"".join(token_client.get(url).streaming_content))

    first = download()
    assert [rec["sealed"] for rec in first["attendees"]] == [None] * 4
    wait_for(worker, lambda: True if SealKey.objects.count() == 4 else None)
    # the orders are marked changed: the desks' next incremental sync sends them sealed,
    # no full download (a door still selling would otherwise download everything again
    # after every derivation)
    with_token = token_client.get(url, {"since": first["sync_token"]})
    assert with_token.status_code == 200
    delta = json.loads(b"".join(with_token.streaming_content))
    assert len(delta["attendees"]) == 4 and all(rec["sealed"] is not None for rec in delta["attendees"])
