"""Benchmarks: figures printed as tables and written to benchmarks/RESULTS.md (not timed tests)."""
