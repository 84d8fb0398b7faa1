"""Conflicts of interest, the pure rule for reasons."""

import pytest

from core.errors import ValidationFailed
from rooms.conflicts import clean_reason


def test_reasons_are_trimmed_and_blank_is_none() -> None:
    assert clean_reason("  Same lab ") == "Same lab"
    assert clean_reason("   ") is None
    assert clean_reason(None) is None


def test_long_reasons_are_refused() -> None:
    assert clean_reason("x" * 1000) == "x" * 1000
    with pytest.raises(ValidationFailed) as caught:
        clean_reason("x" * 1001)
    assert caught.value.field == "reason"
