"""daap.web."""
