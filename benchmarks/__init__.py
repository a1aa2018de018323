"""Performance targets of the foundation, run by ``make bench`` (``python -m benchmarks``).

Each benchmark module measures daap and a baseline in the same process,
alternately, and returns :class:`~benchmarks.runner.Measure` rows; the runner
prints them with the ratio against the goal. Nothing here asserts on time:
the numbers are for people (see ``docs/benchmarks.md``).
"""
