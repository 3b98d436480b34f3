"""Metrics and plots on the DataFrames that the simulator and harness produce."""

from entropy_lab.analysis.passk import pass_at_k

__all__ = ["pass_at_k"]
