"""Streaming detectors per device: readings → findings."""
