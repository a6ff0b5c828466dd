"""``mimamori screenshots DIR``: PNGs of the family, farmer and public-works
pages of the running web UI, taken with headless Debian chromium. If the demo
accounts are missing, the demo town is created first (same state directory)."""

from __future__ import annotations

from pathlib import Path

import httpx

from mimamori.config import Settings

SHOTS = [  # (file, user, path)
    ("family.png", "hanako", "/family"),
    ("person-child.png", "mai", "/people/suzuki-ren"),
    ("farmer.png", "taro", "/fields/field-higashi"),
    ("public-works.png", "suido", "/public-works"),
    ("district.png", "suido", "/districts/district-east"),
]


class ScreenshotError(Exception):
    pass


def take(settings: Settings, directory: Path, *, url: str | None = None, lang: str = "ja",
         width: int = 420, browser=None) -> list[Path]:
    """Log in as each demo user and save a full-page PNG; ``browser`` may be a
    Playwright browser already running (the tests share theirs)."""
    from .accounts import Accounts
    from .browser import chromium_path, launch
    from .demo_town import seed

    base = (url or settings.web.url).rstrip("/")
    try:
        httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError:
        raise ScreenshotError(f"the web UI at {base} is not answering; start it with "
                              "`mimamori demo` (same settings) or pass --url") from None
    if chromium_path() is None:
        raise ScreenshotError("Debian chromium is missing; run `make setup` "
                              "(apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ScreenshotError("playwright is not installed; run: .venv/bin/pip install -e "
                              "'.[test]'") from None
    if Accounts(settings.registry).get_user("hanako") is None:
        seed(settings)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if browser is not None:
        return _shoot(browser, base, directory, lang, width)
    with sync_playwright() as p:
        own = launch(p)
        try:
            return _shoot(own, base, directory, lang, width)
        finally:
            own.close()


def _shoot(browser, base: str, directory: Path, lang: str, width: int) -> list[Path]:
    from .demo_town import DEMO_PASSWORD

    out = []
    for name, user, path in SHOTS:
        ctx = browser.new_context(base_url=base, viewport={"width": width, "height": 800},
                                  device_scale_factor=1, locale="ja-JP")
        try:
            page = ctx.new_page()
            page.goto("/login")
            page.fill("#username", user)
            page.fill("#password", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto(f"{path}?lang={lang}")
            if "/login" in page.url:
                raise ScreenshotError(f"could not log in as {user} at {base}")
            target = directory / name
            page.screenshot(path=str(target), full_page=True)
            out.append(target)
        finally:
            ctx.close()
    return out
