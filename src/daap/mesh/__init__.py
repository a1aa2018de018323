"""daap.mesh."""
