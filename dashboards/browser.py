"""Headless Debian chromium through Playwright (``executable_path``; the
project never runs ``playwright install``). Playwright gives every launch a
fresh temporary profile (its own ``--user-data-dir``), so none is passed.
Used by the browser tests and by ``mimamori screenshots``."""

from __future__ import annotations

import shutil

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_path() -> str | None:
    return CHROMIUM if shutil.which(CHROMIUM) else None


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
