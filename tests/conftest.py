"""Shared pytest setup. Fixtures live in tests/fixtures/, one module per concern."""

pytest_plugins = [
    "fixtures.services",
    "fixtures.workspace",
    "fixtures.nats",
    "fixtures.kafka",
    "fixtures.browser",
]
