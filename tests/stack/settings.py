"""Settings of the processes the stack harness starts: pretix's own production settings
(``pretix.settings``, configured by the ``pretix.cfg`` the harness writes), plus what a config
file cannot say:

* ``STATIC_ROOT``: pretix collects into its own package directory; each stack collects into
  its own temporary directory instead, so stacks and the shared virtualenv stay apart.
* mail goes to files in the data directory, never to an SMTP server.
* ``StackMiddleware`` (outermost): names the worker that answered and, only for requests
  that ask for it, counts the database queries (see ``middleware.py``).
"""
import os

from pretix.settings import *  # NOQA
from pretix.settings import DATA_DIR, MIDDLEWARE

STATIC_ROOT = os.environ["PRETIX_DESK_STACK_STATIC_ROOT"]
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(DATA_DIR, "mails")
MIDDLEWARE = ["tests.stack.middleware.StackMiddleware", *MIDDLEWARE]
