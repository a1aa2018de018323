"""daap.cli."""
