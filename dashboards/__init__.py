"""The one web application (FastAPI): status page, API, /metrics; later the
pages for families, farmers and public works, HTTP ingest and acknowledge
links extend it."""
