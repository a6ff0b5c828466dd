"""Simulated devices with labeled, injected anomalies (ground truth)."""
