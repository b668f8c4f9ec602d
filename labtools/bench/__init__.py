"""Benchmarks (``python -m labtools.bench``): each prints its figures and ratios; nothing here asserts a time."""
