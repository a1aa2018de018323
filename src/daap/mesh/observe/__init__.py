"""Observing the mesh: how its products and queries are doing (``metrics``: Prometheus exposition)."""
