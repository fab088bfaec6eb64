"""Control panel views, one module per feature."""
