"""The pages in a real browser (Debian chromium through Playwright): a family
member logs in, sees the person's state and acknowledges an alert; the
farmer sees the water chart with the area's rain; another family's person is refused and the
attempt is in the audit log; axe-core finds no WCAG 2.1 A/AA violation on
any page in either language; the keyboard alone reaches every action."""

from __future__ import annotations

import re
import uuid

import pytest

from dashboards.accounts import Accounts
from dashboards.browser import WCAG, chromium_path, launch
from dashboards.demo_town import DEMO_MIN_RAIN_MM, DEMO_PASSWORD, seed
from dashboards.server import WebServer
from mimamori.services import free_port

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="Debian chromium missing: run `make setup`")


@pytest.fixture(scope="module")
def live(services, tmp_path_factory):
    from ingest.influx import InfluxClient

    tmp = tmp_path_factory.mktemp("web")
    tag = uuid.uuid4().hex[:10]
    s = services.model_copy(update={
        "state_dir": tmp, "registry_url": f"sqlite:///{tmp / 'registry.db'}",
        "influx": services.influx.model_copy(update={"database": f"test_{tag}"}),
        "web": services.web.model_copy(update={"port": free_port()}),
    })
    import argon2.profiles

    import dashboards.accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dashboards.accounts, "PASSWORD_PARAMETERS", argon2.profiles.CHEAPEST)
        seed(s)
        server = WebServer(s).start()
        yield s, f"http://127.0.0.1:{s.web.port}"
        server.stop()
    c = InfluxClient(s.influx)
    c.query(f'DROP DATABASE "{s.influx.database}"', database="", method="POST")
    c.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def new_page(browser, base, user=None):
    ctx = browser.new_context(base_url=base, locale="ja-JP")
    page = ctx.new_page()
    if user:
        page.goto("/login")
        page.fill("#username", user)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
    return page


def test_family_member_sees_state_and_acknowledges(live, browser):
    _, base = live
    page = new_page(browser, base, "hanako")
    assert page.url.endswith("/family")
    assert page.locator("#state-tanaka-kazuko").inner_text() == "確認してください"
    page.get_by_role("button", name="確認しました").first.click()
    page.wait_for_load_state()
    assert "確認済み: hanako" in page.locator("main").inner_text()
    assert page.locator("#state-tanaka-kazuko").inner_text() == "元気です"
    page.context.close()


def test_farmer_sees_water_chart(live, browser):
    _, base = live
    page = new_page(browser, base, "taro")
    page.goto("/fields/field-higashi")
    chart = page.locator("svg#chart-level")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert page.locator("svg#chart-level polyline").count() == 1
    assert page.locator("svg#chart-temp polyline").count() == 1
    # the area's rain: hourly bars in the level chart, named in its accessible name,
    # and the same rain day by day in a table (the chart's text alternative)
    assert page.get_by_role("img", name=re.compile("水位・雨量")).is_visible()
    bars = page.locator("svg#chart-level rect.bar")
    assert bars.count() >= 7 * 24 - 2
    heights = bars.evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert max(heights) > 10  # a rainy hour stands out on the screen
    table = page.get_by_role("table", name="日ごとの値 (7日間)")
    assert table.is_visible()
    cells = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    total = sum(float(c) for c in cells if c != "—")
    assert total >= DEMO_MIN_RAIN_MM
    assert page.locator("#rain-field-higashi").inner_text().endswith(" mm")
    page.context.close()


def test_other_familys_person_refused_and_audited(live, browser):
    s, base = live
    page = new_page(browser, base, "hanako")
    resp = page.goto("/people/sato-ichiro")
    assert resp.status == 404
    assert "佐藤" not in page.content()
    denied = Accounts(s.registry).audit_entries(username="hanako", outcome="denied")
    assert any(e.subject_id == "sato-ichiro" for e in denied)
    page.context.close()


PAGES = [  # (user, path)
    (None, "/login"), (None, "/status"),
    ("mai", "/family"), ("mai", "/people/suzuki-ren"), ("jiro", "/people/sato-ichiro"),
    ("taro", "/farmer"), ("taro", "/fields/field-kawazoi"),
    ("suido", "/public-works"), ("suido", "/districts/district-east"),
    ("admin", "/admin"), ("mai", "/settings"), ("mai", "/settings/people/suzuki-ren"),
    ("hanako", "/settings/people/tanaka-kazuko"), ("taro", "/settings/fields/field-higashi"),
    ("hanako", "/people/sato-ichiro"),  # the refusal page
]


def test_axe_finds_no_wcag21_aa_violation_on_any_page_in_either_language(live, browser):
    from axe_playwright_python.sync_playwright import Axe

    _, base = live
    axe = Axe()
    problems, checked = [], 0
    by_user: dict = {}
    for user, path in PAGES:
        if user not in by_user:
            by_user[user] = new_page(browser, base, user)
        page = by_user[user]
        for lang in ("ja", "en"):
            page.goto(f"{path}?lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang
            result = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
            checked += 1
            for v in result.response["violations"]:
                problems.append((path, lang, v["id"], [n["target"] for n in v["nodes"]][:3]))
    for p in by_user.values():
        p.context.close()
    assert checked == 2 * len(PAGES)
    assert problems == [], "\n".join(map(str, problems))


FOCUSABLE = ("a[href], button, input:not([type=hidden]), select, textarea, summary")


def test_keyboard_alone_reaches_every_action(live, browser):
    _, base = live
    missing = []
    by_user: dict = {}
    for user, path in PAGES:
        if user not in by_user:
            by_user[user] = new_page(browser, base, user)
        page = by_user[user]
        page.goto(path)
        # a radio group is one tab stop (arrow keys move inside it)
        page.evaluate("""sel => document.querySelectorAll(sel).forEach(
            (e, i) => e.setAttribute('data-kb', e.type === 'radio' ? 'radio:' + e.name
                                                                    : String(i)))""", FOCUSABLE)
        want = set(page.evaluate(
            """sel => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null
                 || e.closest('header')).map(e => e.getAttribute('data-kb'))""", FOCUSABLE))
        reached: set = set()
        for _ in range(len(want) * 2 + 5):
            page.keyboard.press("Tab")
            kb = page.evaluate("document.activeElement && document.activeElement.getAttribute('data-kb')")
            if kb is not None:
                reached.add(kb)
            if want <= reached:
                break
        if not want <= reached:
            missing.append((path, sorted(want - reached)))
    for p in by_user.values():
        p.context.close()
    assert missing == [], "\n".join(map(str, missing))


def test_acknowledge_with_the_keyboard_only(live, browser):
    s, base = live
    from dashboards.alert_source import open_alert_store

    page = new_page(browser, base, "jiro")
    page.goto("/family")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "確認しました":
            break
    else:
        raise AssertionError("the acknowledge button was never focused")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "確認済み: jiro" in page.locator("main").inner_text()
    store = open_alert_store(s)
    acked = [a for a in store.list_alerts("acknowledged") if a.acked_by == "jiro"]
    assert acked and acked[0].subject_person == "sato-ichiro"
    page.context.close()


def test_screenshots_of_the_running_web(live, browser, tmp_path):
    from dashboards.screenshots import SHOTS, take

    s, base = live
    files = take(s, tmp_path, url=base, browser=browser)
    assert [f.name for f in files] == [name for name, _, _ in SHOTS]
    for f in files:
        head = f.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(head[16:20], "big")
        height = int.from_bytes(head[20:24], "big")
        assert width == 420 and height > 400


def test_state_changes_live_without_reload(live, browser):
    """A new alert reaches an open family page through server-sent events."""
    import time

    from dashboards.alert_source import open_alert_store
    from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity

    s, base = live
    store = open_alert_store(s)
    for a in store.list_alerts("open", subject_person="tanaka-kazuko"):
        store.acknowledge(a.alert_id, by="test")
    page = new_page(browser, base, "hanako")
    state = page.locator("#state-tanaka-kazuko")
    assert state.inner_text() == "元気です"
    page.evaluate("window.__notReloaded = true")
    store.apply_finding(Finding("wear-001", EventKind.SOS, Severity.CRITICAL, FindingState.OPENED,
                                time.time_ns(), site="home-tanaka", profile="wearable_v1",
                                family=Family.WEARABLE), subject_person="tanaka-kazuko")
    page.wait_for_function(
        "document.getElementById('state-tanaka-kazuko').textContent === '確認してください'",
        timeout=30000)
    assert "state-check" in state.get_attribute("class")
    assert page.evaluate("window.__notReloaded") is True
    page.context.close()
