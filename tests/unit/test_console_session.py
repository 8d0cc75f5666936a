"""The console's session cookie and CSRF check (pure)."""

from __future__ import annotations

from services.profile.console.session import Session, Signer, csrf_ok


def test_csrf_token_must_match_the_session() -> None:
    session = Session()
    token = session.csrf
    assert csrf_ok(session, token)
    assert not csrf_ok(session, token + "x")
    assert not csrf_ok(session, None)
    assert not csrf_ok(session, "")
    assert not csrf_ok(Session(), "anything")  # no session token: nothing passes


def test_the_cookie_is_signed() -> None:
    signer = Signer("secret")
    session = Session({"lang": "fr", "tenant": "a"})
    cookie = signer.dump(session)
    assert signer.load(cookie).data == {"lang": "fr", "tenant": "a"}
    assert signer.load(cookie[:-2] + "xx").data == {}
    assert Signer("other").load(cookie).data == {}
    assert signer.load(None).data == {}
