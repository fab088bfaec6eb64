"""Signal wiring only: receivers hand the real work to plain functions elsewhere."""
