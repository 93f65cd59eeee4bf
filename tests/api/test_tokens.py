"""Access tokens, refresh rotation, the JWK Set and /customers/me (API.md §2)."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import phone_registration, start, verify


@pytest.fixture
def registered(client, outbox) -> dict:
    registration_id = start(client, phone_registration())["registration_id"]
    response = verify(client, registration_id, outbox.last_code())
    assert response.status_code == 201
    return response.get_json()


def me(client, token: str):
    return client.get("/customers/me", headers={"Authorization": f"Bearer {token}"})


def refresh(client, refresh_token: str):
    return client.post("/auth/token/refresh", json={"refresh_token": refresh_token})


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_the_access_token_is_an_es256_jwt_verifiable_with_the_published_keys(client, registered):
    token = registered["access_token"]
    header = jwt.get_unverified_header(token)
    jwks = client.get("/.well-known/jwks.json").get_json()
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]

    claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="storefront", issuer="registrar")

    assert header["alg"] == "ES256"
    assert claims["sub"] == registered["customer"]["id"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]
    assert all(jwk["kty"] == "EC" and "d" not in jwk for jwk in jwks["keys"])


def test_customers_me_answers_the_customer_of_the_token(client, registered):
    response = me(client, registered["access_token"])
    assert response.status_code == 200
    assert response.get_json() == registered["customer"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
    ],
)
def test_customers_me_refuses_a_missing_or_malformed_token(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/customers/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"


def test_customers_me_refuses_tokens_that_are_expired_forged_or_for_another_audience(app, client, registered):
    keys = app.extensions["registrar"].tokens.keys
    customer_id = registered["customer"]["id"]
    now = int(time.time())
    claims = {
        "iss": "registrar",
        "aud": "storefront",
        "sub": customer_id,
        "iat": now,
        "exp": now + 60,
        "jti": "x",
    }
    stranger = ec.generate_private_key(ec.SECP256R1())

    def signed(key, **changes):
        return jwt.encode({**claims, **changes}, key, algorithm="ES256", headers={"kid": keys.kid})

    assert me(client, signed(keys.private_key)).status_code == 200  # the control: a good token passes
    for token in (
        signed(keys.private_key, exp=now - 1, iat=now - 61),
        signed(keys.private_key, aud="another-app"),
        signed(keys.private_key, iss="someone-else"),
        signed(stranger),
        jwt.encode(
            {**claims}, "a-shared-secret-that-is-long-enough!", algorithm="HS256", headers={"kid": keys.kid}
        ),
    ):
        response = me(client, token)
        assert response.status_code == 401
        assert response.get_json()["code"] == "invalid_token"


def test_a_token_of_a_deleted_customer_is_refused(app, client, registered):
    from sqlalchemy import text

    with app.extensions["registrar"].engine.begin() as connection:
        connection.execute(text("DELETE FROM customers"))
    assert me(client, registered["access_token"]).status_code == 401


def test_refresh_rotates_both_tokens(client, registered):
    response = refresh(client, registered["refresh_token"])

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["refresh_token"] != registered["refresh_token"]
    assert me(client, body["access_token"]).get_json()["id"] == registered["customer"]["id"]
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client, registered):
    rotated = refresh(client, registered["refresh_token"]).get_json()

    replay = refresh(client, registered["refresh_token"])

    assert replay.status_code == 401
    assert replay.get_json()["code"] == "invalid_token"
    after = refresh(client, rotated["refresh_token"])
    assert after.status_code == 401, "the descendant of a replayed token must die with it"


def test_an_unknown_refresh_token_is_refused(client, registered):
    response = refresh(client, "rt_made-up")
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"
    assert refresh(client, registered["refresh_token"]).status_code == 200


def test_refresh_tokens_are_stored_only_as_hashes(app, registered):
    from sqlalchemy import text

    with app.extensions["registrar"].engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM refresh_tokens")).all()
    assert rows
    assert not any(registered["refresh_token"] in str(value) for row in rows for value in row)


def test_a_family_lives_no_longer_than_refresh_family_max_age_however_often_it_rotates(make_app, outbox):
    client = make_app(REFRESH_FAMILY_MAX_AGE="2").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    signed_in = verify(client, registration_id, outbox.last_code()).get_json()
    rotated = refresh(client, signed_in["refresh_token"])
    assert rotated.status_code == 200

    time.sleep(2.1)  # the family's age, not the token's (REFRESH_TOKEN_TTL is 30 days)
    too_old = refresh(client, rotated.get_json()["refresh_token"])

    assert too_old.status_code == 401
    assert too_old.get_json()["code"] == "invalid_token"


def sign_in(client, outbox) -> dict:
    started = client.post(
        "/auth/login", json={"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}
    )
    assert started.status_code == 202
    response = client.post(
        f"/auth/login/{started.get_json()['login_id']}/verify", json={"code": outbox.last_code()}
    )
    assert response.status_code == 200
    return response.get_json()


def test_logout_all_revokes_every_session_of_the_customer_and_no_one_elses(client, outbox, registered):
    other_device = sign_in(client, outbox)
    other = start(client, phone_registration(phone="0559876543", first_name="Other"))
    someone_else = verify(client, other["registration_id"], outbox.last_code()).get_json()

    response = client.post(
        "/auth/logout/all", headers={"Authorization": f"Bearer {registered['access_token']}"}
    )

    assert response.status_code == 204
    assert refresh(client, registered["refresh_token"]).status_code == 401
    assert refresh(client, other_device["refresh_token"]).status_code == 401
    assert refresh(client, someone_else["refresh_token"]).status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-jwt", "Basic abc"])
def test_logout_all_needs_a_valid_access_token(client, registered, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.post("/auth/logout/all", headers=headers)

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"
    assert refresh(client, registered["refresh_token"]).status_code == 200


def test_refresh_requires_the_token_field(client):
    response = client.post("/auth/token/refresh", json={})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"refresh_token"}


def test_a_key_given_in_the_environment_signs_and_retired_keys_stay_published(make_app, outbox):
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    old_app = make_app(JWT_PRIVATE_KEY=pem(old))
    client = old_app.test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    old_token = verify(client, registration_id, outbox.last_code()).get_json()["access_token"]

    rotated_app = make_app(JWT_PRIVATE_KEY=pem(new), JWT_PREVIOUS_PUBLIC_KEYS=pem(old))
    rotated = rotated_app.test_client()

    kids = [key["kid"] for key in rotated.get("/.well-known/jwks.json").get_json()["keys"]]
    assert kids == [
        rotated_app.extensions["registrar"].tokens.keys.kid,
        jwt.get_unverified_header(old_token)["kid"],
    ]
    assert me(rotated, old_token).status_code == 200
    assert me(make_app(JWT_PRIVATE_KEY=pem(new)).test_client(), old_token).status_code == 401


def test_the_access_token_is_verified_against_the_live_jwks_by_pyjwt(start_server, outbox):
    import requests

    server = start_server()
    challenge = requests.post(f"{server.url}/auth/register", json=phone_registration(), timeout=5).json()
    code = server.codes_for(challenge["destination"])[-1]
    body = requests.post(
        f"{server.url}/auth/register/{challenge['registration_id']}/verify", json={"code": code}, timeout=5
    ).json()

    signing_key = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json").get_signing_key_from_jwt(
        body["access_token"]
    )
    claims = jwt.decode(body["access_token"], signing_key.key, algorithms=["ES256"], audience="storefront")

    assert claims["sub"] == body["customer"]["id"]
