"""docs/protocol.md lists every REST endpoint the code declares (regenerate with
`python -m web.apidocs`)."""

from web.api.routes import build_api
from web.apidocs import PROTOCOL, reference


def test_the_rest_reference_matches_the_code() -> None:
    assert reference(build_api()) in PROTOCOL.read_text(), (
        "docs/protocol.md is out of date: run .venv/bin/python -m web.apidocs"
    )
