"""``mimamori users …`` as a user meets it (real subprocesses)."""

from __future__ import annotations

import subprocess

from mimamori.registry import Registry
from tests.test_cli import BIN, env_for, run


def add(settings, *args, password="a long enough passphrase"):
    import os

    return subprocess.run([BIN, "users", "add", *args, "--password-stdin"], input=password + "\n",
                          capture_output=True, text=True, env={**os.environ, **env_for(settings)},
                          timeout=60)


def test_users_add_list_disable_audit(settings):
    Registry(settings.registry).add_person("tanaka-hanako", "family", "田中 花子")
    r = add(settings, "hanako", "--role", "family", "--person", "tanaka-hanako")
    assert r.returncode == 0, r.stderr
    listed = run("users", "list", env=env_for(settings))
    assert "hanako" in listed.stdout and "tanaka-hanako" in listed.stdout
    assert "argon2" not in listed.stdout
    from dashboards.accounts import Accounts

    acc = Accounts(settings.registry)
    assert acc.verify("hanako", "a long enough passphrase").role == "family"
    assert run("users", "disable", "hanako", env=env_for(settings)).returncode == 0
    assert acc.verify("hanako", "a long enough passphrase") is None
    acc.audit("hanako", "denied", "person", "sato-ichiro", "view", outcome="denied")
    audit = run("users", "audit", "--denied", env=env_for(settings))
    assert "person:sato-ichiro" in audit.stdout


def test_users_add_errors_are_one_line(settings):
    r = add(settings, "x", "--role", "family", "--person", "nobody")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "nobody" in r.stderr
    r = add(settings, "x", "--role", "admin", password="short")
    assert r.returncode == 1 and "at least 10 characters" in r.stderr
    r = add(settings, "x", "--role", "boss")
    assert r.returncode == 1 and "unknown role" in r.stderr
    r = add(settings, "x", "--role", "farmer")
    assert r.returncode == 1 and "needs --person" in r.stderr
