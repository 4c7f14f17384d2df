"""Benchmarks: not part of the test suite; results are written to bench/results/."""
