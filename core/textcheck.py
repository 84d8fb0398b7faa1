"""Text a person never means to type: control characters and lone surrogates.

Names, labels and notes are refused (never silently cleaned) when they hold one: a NUL cannot be
stored by PostgreSQL, a lone surrogate cannot be encoded at all, and the other C0/C1 controls
corrupt CSV exports, mail headers and terminals.
"""

from __future__ import annotations

import unicodedata

from core.errors import ValidationFailed

_MULTILINE_ALLOWED = frozenset("\n\r\t")


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character a person never means to type (C0/C1 controls, DEL, lone
    surrogates), or None. Multi-line text may hold newlines, carriage returns and tabs."""
    if value.isprintable():  # fast path: most text is printable, and all of it is allowed
        return None
    for char in value:
        if multiline and char in _MULTILINE_ALLOWED:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return char
    return None


def control_problem(value: str, *, multiline: bool = False) -> str | None:
    """A sentence for the person, or None when the text is clean."""
    char = control_character(value, multiline=multiline)
    if char is None:
        return None
    return f"must not contain the control character U+{ord(char):04X}"


def check_text(
    value: str, *, field: str, max_length: int, multiline: bool = False, label: str = "This"
) -> None:
    """Raises ValidationFailed (on `field`) for text that is too long or holds a control
    character: the domain's own guard, whatever the caller validated before."""
    if len(value) > max_length:
        raise ValidationFailed(f"{label} is longer than {max_length} characters.", field=field)
    if problem := control_problem(value, multiline=multiline):
        raise ValidationFailed(f"{label} {problem}.", field=field)
