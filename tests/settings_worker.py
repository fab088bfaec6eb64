"""Settings for the real-worker tests (``-m celery_worker``, scripts/test's own step):
tests.settings with Celery switched on, Redis as broker and result backend.

pytest and the worker it starts both load this module; what they must share travels in
the environment, which the worker inherits: the key prefix that keeps this run's Redis
keys apart from every other run on the same server, and the media directory where the
worker writes task results for pytest to read. The worker's database name is set by the
test (the test database pytest created).
"""
import os
import uuid

from tests.settings import *  # NOQA
from tests.settings import MEDIA_ROOT as _OWN_MEDIA_ROOT

REDIS_URL = os.environ.get("PRETIX_DESK_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY_PREFIX = os.environ.setdefault("PRETIX_DESK_CELERY_PREFIX", f"pretix_desk_test_{uuid.uuid4().hex[:12]}_")

HAS_CELERY = True
CELERY_ALWAYS_EAGER = CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": KEY_PREFIX}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": KEY_PREFIX}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

MEDIA_ROOT = os.environ.setdefault("PRETIX_DESK_MEDIA_ROOT", _OWN_MEDIA_ROOT)
