"""What ``mimamori demo`` needs from alerts: a real local SMTP server and the
LINE stand-in, an alerts configuration pointing at them, and a few people
to tell (a farmer for the simulated fields), so the outbox page
(``/alerts/outbox``) shows every alert that was sent, to whom, and whether
it was acknowledged.

Ports come from the port plan (``PORTS['smtp_standin']``,
``PORTS['line_standin']``); when one is taken (a second demo beside another)
a free port is used and logged; ``[demo] smtp_port`` / ``line_port`` in the
configuration (``MIMAMORI_DEMO__SMTP_PORT``, ``MIMAMORI_DEMO__LINE_PORT``) name
them explicitly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mimamori.config import PORTS, Settings
from mimamori.registry import Registry
from mimamori.services import free_port, port_is_free

from .line_standin import LineStandin
from .smtp_standin import SmtpStandin

log = logging.getLogger(__name__)
DEMO_LINE_USER = "U" + "d" * 32


class DemoPortTaken(Exception):
    pass


@dataclass
class DemoOutbox:
    smtp: SmtpStandin
    line: LineStandin
    config_path: Path

    def stop(self) -> None:
        self.line.stop()
        self.smtp.stop()


def _port(explicit: int | None, plan: str, what: str) -> int:
    """The port the user named, else the planned port; when the planned one is
    taken, a free one (said in the log)."""
    if explicit is not None:
        if not port_is_free("127.0.0.1", explicit):
            raise DemoPortTaken(f"port {explicit} for the demo's {what} is taken; free it "
                                f"or choose another ([demo] in the configuration)")
        return explicit
    port = PORTS[plan]
    if port_is_free("127.0.0.1", port):
        return port
    other = free_port()
    log.warning("port %d for the demo's %s is taken; using %d instead", port, what, other)
    return other


def start_demo_outbox(settings: Settings) -> DemoOutbox:
    """Start both stand-ins and write an alerts config that points at them
    (``config_path``: the demo uses it unless the user set ``alerts_config``)."""
    smtp_port = _port(settings.demo.smtp_port, "smtp_standin", "SMTP server")
    line_port = _port(settings.demo.line_port, "line_standin", "LINE stand-in")
    outbox = Path(settings.state_dir).resolve() / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    smtp = SmtpStandin(smtp_port, record=outbox / "smtp.jsonl").start()
    line = LineStandin(line_port, webhook_url=f"{settings.web.url}line/webhook",
                       record=outbox / "line.jsonl").start()
    path = Path(settings.state_dir).resolve() / "demo-alerts.toml"
    path.write_text(
        "# written by `mimamori demo`: alerts go to the local stand-ins\n"
        "[notifiers.email]\n"
        f"port = {smtp_port}\n"
        "[notifiers.line]\n"
        f'base_url = "{line.base_url}"\n'
        'channel_access_token = "standin-token"\n'
        'channel_secret = "standin-secret"\n', encoding="utf-8")
    return DemoOutbox(smtp, line, path)


def seed_demo_people(settings: Settings) -> None:
    """A farmer (LINE, then e-mail) for every field site, a wearer with her
    family and care manager (``mimamori outbox test-alert`` raises a fall for
    her), and an operator — only where the registry has none yet."""
    reg = Registry(settings.registry)
    if reg.get_person("demo-farmer") is None:
        reg.add_person("demo-farmer", "farmer", "田中 一郎", email="tanaka@example.jp",
                       line_user_id=DEMO_LINE_USER, channels=["line", "email"])
    if reg.get_person("demo-operator") is None:
        reg.add_person("demo-operator", "operator", "運用担当", language="en",
                       email="ops@example.jp", channels=["email"])
    if reg.get_device("demo-wearable") is None:
        reg.add_site("demo-home", "household", "玉城町 田丸（デモ）")
        reg.add_person("demo-ume", "wearer", "山田 ウメ")
        reg.add_device("demo-wearable", "wearable_json_v1", "demo-home", "見守りウォッチ（デモ）",
                       person_id="demo-ume")
        reg.add_person("demo-hanako", "family", "山田 花子", email="hanako@example.jp",
                       line_user_id="U" + "e" * 32, channels=["line", "email"])
        reg.add_person("demo-taro", "family", "Taro Yamada", language="en",
                       email="taro@example.jp", channels=["email"])
        reg.add_person("demo-cm", "care_manager", "佐藤 ケアマネ", email="care@example.jp")
        reg.relate("demo-hanako", "family_member_of", "person", "demo-ume", 1)
        reg.relate("demo-taro", "family_member_of", "person", "demo-ume", 2)
        reg.relate("demo-cm", "care_manager_of", "person", "demo-ume", 3)
    for site in reg.sites():
        if site.kind == "field" and not [r for r in reg.relations(subject_id=site.site_id)
                                         if r.relation == "farmer_of"]:
            reg.relate("demo-farmer", "farmer_of", "site", site.site_id, 1)
