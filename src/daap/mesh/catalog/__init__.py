"""The central catalog: products, their search, and their lineage."""
