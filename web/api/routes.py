"""Every API module, gathered in one place."""

from __future__ import annotations

from web.api import auth, bookings, conflicts, forms, meetings, people, reports, sessions
from web.api.framework import Api


def build_api() -> Api:
    api = Api()
    for module in (auth, people, sessions, forms, meetings, conflicts, reports, bookings):
        api.include(module.api)
    return api
