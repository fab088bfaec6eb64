"""pretix with the plugin as production runs it (PostgreSQL, Redis, Celery, gunicorn, static
files from ``collectstatic``), started per test session or benchmark run: see ``harness.py``."""
