"""Load an object named ``"package.module:attribute"`` — how the command
line mounts each area's commands and the web app its routers, one line each.

>>> load("mimamori.topics:Topics").__name__
'Topics'
>>> load("no_such_package.mod:thing") is None
True
"""

from __future__ import annotations

import importlib
from typing import Any


def load(target: str) -> Any | None:
    """The named object, or None when its module (or attribute) does not
    exist; an import error *inside* an existing module is raised."""
    module, attr = target.split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)
