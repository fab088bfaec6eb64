"""Services behind the desk API: plain functions on top of pretix's check-in machinery,
callable without HTTP (the API views in ``pretix_desk.api.desk`` only translate)."""
