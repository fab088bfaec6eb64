"""URL wiring. pretix imports this module after its bundled plugins' urls, before it
builds its API routers, so registrations on pretix's routers here take effect."""
from django.urls import re_path  # NOQA
from pretix.api.urls import checkinlist_router, event_router  # NOQA

urlpatterns = []

# --- auto check-in rules: control panel views and the API resource ---

# --- desk API (under check-in lists) ---

# --- desk scanner page ---
