"""Durable ingest of canonical readings into InfluxDB (v1-compatible API)."""
