"""daap.runtime."""
