"""Measurements of pytest-diego's own speed; run one with ``python -m benchmarks.<name>``.

Not part of the test suite (no ``test_*`` files; pytest's ``testpaths`` is ``tests``).
"""
