"""Settings for scripts/demo: pretix's own, reading .demo/pretix.cfg, with pretix's
bundled front-end assets instead of a Vite dev server (none runs in the demo)."""
from pretix.settings import *  # NOQA

VITE_DEV_MODE = False
