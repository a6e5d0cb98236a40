"""jaxfit benchmarks: one module per domain, each exposing ``run(size) -> list[dict]``.

Run ``python -m benchmarks`` (``--size small`` for a quick pass). Timing lives here and
never in tests.
"""
