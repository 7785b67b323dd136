"""conform's APSIS token client (TokenSource) against a fake token endpoint, on a fake clock (no real
sleeping).

APSIS One API (notes, section 2): POST /oauth/token answers {access_token, expires_in, token_type}; the token
is a JWT whose `exp` says when it expires; at most 10 token requests a minute, then 429 with Retry-After."""

from __future__ import annotations

import base64
import email.message
import io
import json
import urllib.error

import pytest

from emulator.cli import main
from emulator.conform import CredentialError
from emulator.vendors.apsis.live_token import LIMIT, PER, REFRESH_MARGIN, TokenSource


def jwt(exp: float) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"e30.{claims}.sig"


class Endpoint:
    """A fake token endpoint: answers from `script` in turn (a lifetime in seconds for a token, or an
    HTTPError status with its Retry-After), then tokens of `lifetime` seconds; notes each request's time."""

    def __init__(self, clock, lifetime: float = 3600, script: list | None = None):
        self.clock, self.lifetime, self.script = clock, lifetime, list(script or [])
        self.times: list[float] = []

    def __call__(self, request, timeout):
        assert request.full_url == "https://api.example/oauth/token" and request.get_method() == "POST"
        assert json.loads(request.data)["grant_type"] == "client_credentials"
        self.times.append(self.clock.now)
        answer = self.script.pop(0) if self.script else ("token", self.lifetime)
        if answer[0] != "token":
            headers = email.message.Message()
            if answer[1] is not None:
                headers["Retry-After"] = str(answer[1])
            raise urllib.error.HTTPError(request.full_url, answer[0], "error", headers,
                                         io.BytesIO(b'{"title": "refused"}'))
        body = {"access_token": jwt(self.clock.now + answer[1]), "expires_in": answer[1],
                "token_type": "Bearer"}
        return io.BytesIO(json.dumps(body).encode())


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def source(clock: Clock, endpoint: Endpoint) -> TokenSource:
    return TokenSource("https://api.example/", "id", "secret", clock=clock, sleep=clock.sleep,
                       opener=endpoint)


def test_a_token_is_fetched_once_and_reused_until_shortly_before_exp():
    clock = Clock()
    endpoint = Endpoint(clock, lifetime=3600)
    tokens = source(clock, endpoint)
    first = tokens()
    clock.now += 3600 - REFRESH_MARGIN - 1
    assert [tokens() for _ in range(5)] == [first] * 5 and len(endpoint.times) == 1
    clock.now += 1  # within REFRESH_MARGIN of exp: a new token, before the old one expires
    assert tokens() != first and len(endpoint.times) == 2 and clock.slept == []


def test_never_more_than_ten_token_requests_a_minute():
    clock = Clock()
    endpoint = Endpoint(clock, lifetime=REFRESH_MARGIN)  # each token is due for refresh at once
    tokens = source(clock, endpoint)
    for _ in range(3 * LIMIT + 5):
        tokens()
    times = endpoint.times
    assert len(times) == 3 * LIMIT + 5 and clock.slept  # it waited instead of asking an 11th time
    assert all(sum(1 for t in times if start <= t < start + PER) <= LIMIT for start in times)


def test_a_429_is_waited_out_as_its_retry_after_says():
    clock = Clock()
    endpoint = Endpoint(clock, script=[(429, 7), (429, 3)])
    assert source(clock, endpoint)()
    assert clock.slept == [7.0, 3.0] and len(endpoint.times) == 3


@pytest.mark.parametrize("answer, words", [
    ((429, None), "answered 429 Too Many Requests (10 tokens a minute); Retry-After not given"),
    ((429, 3600), "answered 429 Too Many Requests (10 tokens a minute); Retry-After 3600"),
    ((401, None), 'answered 401: {"title": "refused"}'),
])
def test_an_unrecoverable_answer_is_one_clear_line(answer, words):
    clock = Clock()
    with pytest.raises(CredentialError) as raised:
        source(clock, Endpoint(clock, script=[answer]))()
    message = str(raised.value)
    assert message.startswith("APSIS token endpoint https://api.example/oauth/token ") and words in message
    assert "\n" not in message and clock.slept == []


def test_conform_reports_a_token_failure_in_one_line_without_a_traceback(capsys, monkeypatch):
    """Nothing listens on the port: the token request fails, and `conform` says so and exits 2."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    monkeypatch.setenv("APSIS_CLIENT_ID", "id")
    monkeypatch.setenv("APSIS_CLIENT_SECRET", "secret")
    code = main(["conform", "--contract", "apsis-one.openapi.yaml", "--base-url", f"http://127.0.0.1:{port}",
                 "--auth-from-env", "--max-examples", "1", "--modes", "positive"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"email-events-emulator conform: APSIS token endpoint http://127.0.0.1:{port}/oauth/token")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
