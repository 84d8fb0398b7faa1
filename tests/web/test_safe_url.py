"""Only web links become hrefs: `safe_url` (web/render.py) refuses every other scheme."""

from __future__ import annotations

import pytest

from web.render import safe_url


@pytest.mark.parametrize(
    "url",
    [
        "https://zoom.us/j/123?pwd=abc",
        "http://meet.example.org/room",
        "HTTPS://TEAMS.EXAMPLE.COM/x",
        "/live/sessions/abc?room=1",
    ],
)
def test_web_links_pass_unchanged(url: str) -> None:
    assert safe_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:window.__xss=1",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "/\\evil.example/x",
        "https:\\\\evil.example",
        "https:evil.example",
        "zoom.us/j/1",
        "ftp://files.example/x",
        "https://exa mple.com",
        "https://example.com/\x00",
        "",
        None,
        42,
    ],
)
def test_everything_else_is_refused(url: object) -> None:
    assert safe_url(url) is None
