"""Grafana for staff who use it: dashboards as code (one per device family),
the InfluxDB (InfluxQL) datasource provisioning file, and ``push`` through
the maintained ``grafana-client`` package."""
