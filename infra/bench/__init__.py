"""Benchmarks. Each prints a ratio against a bare baseline measured in the same run."""
