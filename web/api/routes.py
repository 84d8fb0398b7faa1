"""Every API module, gathered in one place."""

from __future__ import annotations

from web.api import auth, people, setup
from web.api.framework import Api


def build_api() -> Api:
    api = Api()
    for module in (auth, people, setup):
        api.include(module.api)
    return api
