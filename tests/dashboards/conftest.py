"""Fixtures for the web tests: the demo town in this test's registry and
InfluxDB database, and an HTTPS test client (session cookies are Secure)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dashboards.app import create_app
from dashboards.demo_town import DEMO_PASSWORD, seed


@pytest.fixture
def town(settings, influx):
    seed(settings)
    return settings


@pytest.fixture
def app_client(town):
    with TestClient(create_app(town), base_url="https://testserver") as c:
        yield c


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD):
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, "next": "/"},
                       follow_redirects=False)


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """argon2's cheapest parameters: the same code path, a fraction of the time."""
    import argon2.profiles

    import dashboards.accounts

    monkeypatch.setattr(dashboards.accounts, "PASSWORD_PARAMETERS", argon2.profiles.CHEAPEST)
