"""Producers of the stored reference results in ``results/`` (they execute the chapters)."""
