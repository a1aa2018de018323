"""daap.query."""
