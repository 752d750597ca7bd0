"""Independent tools whose answers our numbers are checked against (run for real, never re-implemented)."""
