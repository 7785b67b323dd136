"""Token endpoint and bearer checks (APSIS notes, section 2: DEV-AUTH, KB-AUTH, KB-ERRORS, DEV-LIMITS)."""

from __future__ import annotations

import jwt

from .conftest import CREDENTIALS, NOW


def test_token_is_a_jwt_with_exp_one_day_after_iat(apsis):
    """DEV-AUTH: {access_token, expires_in: 86400, token_type: Bearer}; clients decode `exp` from the JWT."""
    r = apsis.client.post("/apsis/oauth/token", json=CREDENTIALS)
    assert r.status_code == 200
    assert r.json["expires_in"] == 86400 and r.json["token_type"] == "Bearer"
    claims = jwt.decode(r.json["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86400
    assert abs(claims["iat"] - NOW.timestamp()) < 60  # issued on the virtual clock
    assert claims["sub"] == CREDENTIALS["client_id"]


def test_wrong_client_secret_gets_401_problem(apsis):
    r = apsis.client.post("/apsis/oauth/token", json={**CREDENTIALS, "client_secret": "nope"})
    assert r.status_code == 401
    assert r.content_type == "application/problem+json"
    assert r.json["status"] == 401 and r.json["title"] and "client" in r.json["detail"]


def test_token_request_without_grant_type_gets_400_naming_the_field(apsis):
    body = {k: v for k, v in CREDENTIALS.items() if k != "grant_type"}
    r = apsis.client.post("/apsis/oauth/token", json=body)
    assert r.status_code == 400 and "grant_type" in r.json["detail"]
    r = apsis.client.post("/apsis/oauth/token", json={**CREDENTIALS, "grant_type": "password"})
    assert (
        r.status_code == 400 and "grant_type" in r.json["detail"] and "client_credentials" in r.json["detail"]
    )


def test_eleventh_token_request_in_a_minute_gets_429_and_next_minute_works(apsis):
    """DEV-LIMITS: the token endpoint allows 10 requests per minute, then 429."""
    for _ in range(10):
        assert apsis.client.post("/apsis/oauth/token", json=CREDENTIALS).status_code == 200
    r = apsis.client.post("/apsis/oauth/token", json=CREDENTIALS)
    assert r.status_code == 429 and r.content_type == "application/problem+json"
    apsis.core.clock.advance(60)
    assert apsis.client.post("/apsis/oauth/token", json=CREDENTIALS).status_code == 200


def test_missing_or_malformed_token_gets_401_problem(apsis):
    """KB-ERRORS: authorization errors return 401 (problem+json)."""
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not-a-jwt"}):
        r = apsis.client.get("/apsis/audience/sections", headers=headers)
        assert r.status_code == 401, headers
        assert r.content_type == "application/problem+json"
        assert set(r.json) >= {"title", "status", "detail"}


def test_token_expires_after_24_hours_of_virtual_time(apsis):
    headers = apsis.headers
    assert apsis.client.get("/apsis/audience/sections", headers=headers).status_code == 200
    apsis.core.clock.advance(86_400 - 5)
    assert apsis.client.get("/apsis/audience/sections", headers=headers).status_code == 200
    apsis.core.clock.advance(10)
    r = apsis.client.get("/apsis/audience/sections", headers=headers)
    assert r.status_code == 401 and "expired" in r.json["detail"]


def test_token_signed_for_other_credentials_is_refused(tmp_path):
    from .conftest import make_apsis

    a = make_apsis(tmp_path / "a")
    b = make_apsis(tmp_path / "b", apsis_client_secret="another-secret")
    r = b.client.get("/apsis/audience/sections", headers=a.headers)
    assert r.status_code == 401


def test_explicit_deny_scenario_answers_403_gateway_body(apsis):
    """KB-AUTH: invalid or expired tokens get 403 {"message": "... explicit deny"} from the gateway."""
    apsis.core.faults.activate(["apsis-explicit-deny"])
    r = apsis.client.get("/apsis/audience/sections", headers={"Authorization": "Bearer expired"})
    assert r.status_code == 403
    assert r.content_type == "application/json"
    assert r.json == {"message": "User is not authorized to access this resource with an explicit deny"}
    assert apsis.get("/audience/sections").status_code == 200  # a valid token still works


def test_token_limit_is_configurable_and_zero_turns_it_off(tmp_path):
    """DEV-LIMITS is the default; EMULATOR_APSIS_TOKEN_LIMIT changes it (0: no limit, for load tests)."""
    from .conftest import make_apsis

    three = make_apsis(tmp_path / "three", apsis_token_limit=3)
    codes = [three.client.post("/apsis/oauth/token", json=CREDENTIALS).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "3 requests per minute" in three.client.post("/apsis/oauth/token", json=CREDENTIALS).json["detail"]
    unlimited = make_apsis(tmp_path / "off", apsis_token_limit=0)
    assert {unlimited.client.post("/apsis/oauth/token", json=CREDENTIALS).status_code for _ in range(25)} == {200}
