"""Shared algorithms with no city knowledge: robust statistics, windows, anomaly scores."""
