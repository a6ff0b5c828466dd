"""Fixtures for the alerts tests: a real aiosmtpd server, the LINE stand-in,
a registry with a wearer and the people who watch over her."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.line_standin import LineStandin
from alerts.smtp_standin import SmtpStandin
from mimamori.registry import Registry
from mimamori.services import free_port

HANAKO_LINE = "U" + "1" * 32


@pytest.fixture
def smtp(tmp_path: Path):
    s = SmtpStandin(free_port(), record=tmp_path / "outbox" / "smtp.jsonl").start()
    yield s
    s.stop()


@pytest.fixture
def line(settings, tmp_path: Path):
    s = LineStandin(free_port(), webhook_url=f"http://127.0.0.1:{settings.web.port}/line/webhook",
                    record=tmp_path / "outbox" / "line.jsonl").start()
    yield s
    s.stop()


@pytest.fixture
def family(settings) -> Registry:
    """obaachan wears w-1 at home-1; hanako (1st), taro (2nd), a care manager
    and the welfare section watch over her."""
    reg = Registry(settings.registry)
    reg.add_site("home-1", "household", "玉城町 佐田")
    reg.add_person("obaachan", "wearer", "山田 ウメ")
    reg.add_device("w-1", "wearable_json_v1", "home-1", person_id="obaachan")
    reg.add_person("hanako", "family", "山田 花子", email="hanako@example.jp",
                   line_user_id=HANAKO_LINE, channels=["line", "email"])
    reg.add_person("taro", "family", "山田 太郎", language="en", email="taro@example.jp",
                   channels=["email"])
    reg.add_person("cm", "care_manager", "佐藤 ケア", email="cm@example.jp", channels=["email"])
    reg.add_person("welfare", "welfare", "福祉課", email="fukushi@example.jp", channels=["email"])
    reg.relate("hanako", "family_member_of", "person", "obaachan", 1)
    reg.relate("taro", "family_member_of", "person", "obaachan", 2)
    reg.relate("cm", "care_manager_of", "person", "obaachan", 3)
    reg.relate("welfare", "welfare_for", "person", "obaachan", 9)
    return reg
