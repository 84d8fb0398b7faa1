"""Every API module, gathered in one place."""

from __future__ import annotations

from web import daytrack, live
from web.api import (
    auth,
    bookings,
    conflicts,
    forms,
    invitations,
    meetings,
    people,
    rank_lists,
    ranks,
    reports,
    scheduling,
    scores,
    sessions,
)
from web.api.framework import Api


def build_api() -> Api:
    api = Api()
    for module in (
        auth,
        people,
        sessions,
        forms,
        meetings,
        conflicts,
        reports,
        bookings,
        live,
        scores,
        ranks,
        rank_lists,
        daytrack,
        invitations,
        scheduling,
    ):
        api.include(module.api)
    return api
