"""Signal wiring only: receivers hand the real work to plain functions elsewhere."""
from django.dispatch import receiver  # NOQA

# --- auto check-in rules: order_placed/order_paid, copy data, log display, navigation ---

# --- desk API: log display, order view, device security profile ---

# --- desk scanner page: navigation ---
