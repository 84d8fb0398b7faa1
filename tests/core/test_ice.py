import base64
import hashlib
import hmac

from core.settings import IceServer
from signaling.ice import TURN_CREDENTIAL_SECONDS, client_ice_servers


def test_no_servers_by_default() -> None:
    assert client_ice_servers((), "p", 0) == []


def test_coturn_shared_secret_credentials() -> None:
    servers = (
        IceServer(urls=("turn:t.example.org:3478",), shared_secret="s3cret"),
        IceServer(urls=("stun:s.example.org",)),
    )
    turn, stun = client_ice_servers(servers, "session/applicant:1", now=1000)
    assert turn["username"] == f"{1000 + TURN_CREDENTIAL_SECONDS}:session/applicant:1"
    expected = base64.b64encode(
        hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected
    assert stun == {"urls": ["stun:s.example.org"]}


def test_static_credentials_pass_through() -> None:
    (server,) = client_ice_servers(
        (IceServer(urls=("turn:t",), username="u", credential="c"),), "p", 0
    )
    assert server == {"urls": ["turn:t"], "username": "u", "credential": "c"}
