"""Identifiers: short, URL-safe, random; sortable enough for humans to tell apart."""

from __future__ import annotations

import secrets


def new_id() -> str:
    return secrets.token_hex(8)
