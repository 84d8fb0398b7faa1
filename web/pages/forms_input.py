"""Turning HTML form posts into API models, and their errors into what a page shows."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.errors import AppError
from web.api.framework import validation_error

CHECKBOXES = ("visible", "manual_mode")


def form_errors(exc: ValidationError | AppError) -> AppError:
    return exc if isinstance(exc, AppError) else validation_error(exc)


def session_form_values(form: Any) -> dict[str, Any]:
    """The session form's fields as the API's `SessionIn` expects them."""
    values: dict[str, Any] = {
        key: str(form.get(key, "")).strip()
        for key in (
            "name",
            "date",
            "start_time",
            "timezone",
            "mode",
            "rounds",
            "interview_minutes",
            "review_minutes",
            "capacity",
            "knock_minutes",
        )
    }
    for key in CHECKBOXES:
        values[key] = form.get(key) in ("on", "true", "1")
    breaks = []
    for after, minutes in zip(
        form.getall("break_after", []), form.getall("break_minutes", []), strict=False
    ):
        if str(after).strip() and str(minutes).strip():
            breaks.append({"after_round": str(after).strip(), "minutes": str(minutes).strip()})
    values["breaks"] = breaks
    return {k: v for k, v in values.items() if v != ""}
