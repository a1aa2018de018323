"""daap.servers."""
