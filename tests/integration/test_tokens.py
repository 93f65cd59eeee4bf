"""Access tokens, refresh rotation and key rotation (app.tokens) on a real database."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, insert, select

from app.accounts import Accounts, Customer
from app.codes import new_identifier
from app.errors import InvalidToken
from app.models import customers, refresh_tokens
from app.tokens import SigningKeys, TokenPolicy, TokenService

ISSUER, AUDIENCE = "registrar", "storefront"


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def make_tokens(engine):
    def make(keys: SigningKeys | None = None, **settings) -> TokenService:
        return TokenService(
            keys or SigningKeys(private_pem(new_key())),
            engine,
            Accounts(engine),
            TokenPolicy(
                **{"issuer": ISSUER, "audience": AUDIENCE, "access_ttl": 900, "refresh_ttl": 3600, **settings}
            ),
        )

    return make


@pytest.fixture
def tokens(make_tokens) -> TokenService:
    return make_tokens()


@pytest.fixture
def customer_id(engine) -> str:
    identifier = new_identifier("cus")
    with engine.begin() as connection:
        connection.execute(
            insert(customers),
            {
                "id": identifier,
                "first_name": "Sara",
                "phone": "+966551234567",
                "verified_by": "phone",
                "locale": "en",
            },
        )
    return identifier


def sign_in(service: TokenService, customer_id: str):
    with service.engine.begin() as connection:
        return service.issue(connection, customer_id)


def claims(service: TokenService, customer_id: str, **changes) -> dict:
    now = int(time.time())
    return {
        "iss": service.policy.issuer,
        "aud": service.policy.audience,
        "sub": customer_id,
        "iat": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
        **changes,
    }


def signed(service: TokenService, payload: dict, key=None, **headers) -> str:
    """A token as `key` (by default the service's own) would sign it."""
    headers = {"kid": service.keys.kid, **headers}
    return jwt.encode(payload, key or service.keys.private_key, algorithm="ES256", headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none(service, sub):
    return jwt.encode(claims(service, sub), None, algorithm="none", headers={"kid": service.keys.kid})


def unknown_key(service, sub):
    return signed(service, claims(service, sub), private_pem(new_key()), kid="someone-else")


def unknown_key_claiming_our_kid(service, sub):
    return signed(service, claims(service, sub), private_pem(new_key()))


def hs256_keyed_with_our_public_key(service, sub):
    header = {"alg": "HS256", "typ": "JWT", "kid": service.keys.kid}
    payload = claims(service, sub)
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    secret = public_pem(service.keys.private_key)
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def wrong_audience(service, sub):
    return signed(service, claims(service, sub, aud="another-shop"))


def wrong_issuer(service, sub):
    return signed(service, claims(service, sub, iss="someone-else"))


def expired(service, sub):
    now = int(time.time())
    return signed(service, claims(service, sub, iat=now - 1000, exp=now - 100))


def without_jti(service, sub):
    payload = claims(service, sub)
    del payload["jti"]
    return signed(service, payload)


def without_kid(service, sub):
    return jwt.encode(claims(service, sub), service.keys.private_key, algorithm="ES256")


def garbage(service, sub):
    return "not.a.token"


FORGERIES = [
    alg_none,
    unknown_key,
    unknown_key_claiming_our_kid,
    hs256_keyed_with_our_public_key,
    wrong_audience,
    wrong_issuer,
    expired,
    without_jti,
    without_kid,
    garbage,
]


class TestAccessTokens:
    def test_an_access_token_is_an_es256_jwt_naming_its_customer(self, tokens, customer_id):
        issued = sign_in(tokens, customer_id)

        header = jwt.get_unverified_header(issued.access_token)
        assert (header["alg"], header["kid"]) == ("ES256", tokens.keys.kid)
        payload = jwt.decode(
            issued.access_token, tokens.keys.private_key.public_key(), algorithms=["ES256"], audience=AUDIENCE
        )
        assert set(payload) == {"iss", "aud", "sub", "iat", "exp", "jti"}
        assert payload["exp"] - payload["iat"] == issued.expires_in == 900
        assert tokens.customer_id(issued.access_token) == customer_id

    def test_a_token_signed_with_a_previous_key_still_verifies_and_that_key_is_published(
        self, make_tokens, customer_id
    ):
        retired_public, retired_private = new_key(), new_key()
        before = [make_tokens(SigningKeys(private_pem(key))) for key in (retired_public, retired_private)]
        issued = [sign_in(service, customer_id).access_token for service in before]

        # One retired key listed by its public PEM, one by its private PEM, in one variable whose
        # newlines are escaped, as an environment carries them.
        previous = (public_pem(retired_public) + private_pem(retired_private)).decode().replace("\n", "\\n")
        current = SigningKeys.create_service(private_pem(new_key()).decode(), previous, instance_path=None)
        after = make_tokens(current)

        assert [after.customer_id(token) for token in issued] == [customer_id, customer_id]
        kids = [key["kid"] for key in current.jwks()["keys"]]
        assert kids == [current.kid, before[0].keys.kid, before[1].keys.kid]
        assert all(key["alg"] == "ES256" and key["use"] == "sig" for key in current.jwks()["keys"])
        assert all("d" not in key for key in current.jwks()["keys"])

    def test_a_token_with_every_claim_right_signed_by_our_key_is_accepted(self, tokens, customer_id):
        assert tokens.customer_id(signed(tokens, claims(tokens, customer_id))) == customer_id

    @pytest.mark.parametrize("forge", FORGERIES, ids=lambda forge: forge.__name__.replace("_", " "))
    def test_a_forged_or_foreign_token_is_refused(self, tokens, customer_id, forge):
        with pytest.raises(InvalidToken):
            tokens.customer_id(forge(tokens, customer_id))

    def test_a_token_signed_with_a_retired_key_no_longer_listed_is_refused(self, make_tokens, customer_id):
        retired = make_tokens()
        token = sign_in(retired, customer_id).access_token

        with pytest.raises(InvalidToken):
            make_tokens().customer_id(token)


class TestTheCustomerOfAToken:
    def test_a_valid_token_gives_its_customer_with_every_column(self, tokens, customer_id):
        issued = sign_in(tokens, customer_id)

        customer = tokens.customer(issued.access_token)

        assert isinstance(customer, Customer)
        assert (customer.id, customer.first_name, customer.phone) == (customer_id, "Sara", "+966551234567")
        assert (customer.verified_by, customer.locale) == ("phone", "en")
        assert customer.created_at.tzinfo is not None

    @pytest.mark.parametrize("forge", FORGERIES, ids=lambda forge: forge.__name__.replace("_", " "))
    def test_a_forged_or_foreign_token_gives_nobody(self, tokens, customer_id, forge):
        with pytest.raises(InvalidToken):
            tokens.customer(forge(tokens, customer_id))

    def test_a_valid_token_of_a_customer_who_is_gone_is_refused(self, tokens, customer_id, engine):
        issued = sign_in(tokens, customer_id)
        with engine.begin() as connection:
            connection.execute(delete(customers).where(customers.c.id == customer_id))

        assert tokens.customer_id(issued.access_token) == customer_id  # still a good signature
        with pytest.raises(InvalidToken):
            tokens.customer(issued.access_token)

    def test_a_valid_token_naming_a_customer_who_never_existed_is_refused(self, tokens):
        with pytest.raises(InvalidToken):
            tokens.customer(signed(tokens, claims(tokens, "cus_nobody")))


class TestRefreshTokens:
    def test_a_refresh_token_is_traded_for_new_tokens_of_the_same_customer(self, tokens, customer_id):
        first = sign_in(tokens, customer_id)

        second = tokens.refresh(first.refresh_token)

        assert second.refresh_token != first.refresh_token
        assert tokens.customer_id(second.access_token) == customer_id
        assert tokens.customer_id(tokens.refresh(second.refresh_token).access_token) == customer_id

    def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(self, tokens, customer_id):
        first = sign_in(tokens, customer_id)
        second = tokens.refresh(first.refresh_token)

        with pytest.raises(InvalidToken):
            tokens.refresh(first.refresh_token)
        with pytest.raises(InvalidToken):
            tokens.refresh(second.refresh_token)

    def test_a_revoked_family_leaves_the_customers_other_sign_ins_alone(self, tokens, customer_id):
        phone, laptop = sign_in(tokens, customer_id), sign_in(tokens, customer_id)
        tokens.refresh(phone.refresh_token)

        with pytest.raises(InvalidToken):
            tokens.refresh(phone.refresh_token)

        assert tokens.customer_id(tokens.refresh(laptop.refresh_token).access_token) == customer_id

    def test_an_expired_refresh_token_is_refused(self, make_tokens, customer_id):
        tokens = make_tokens(refresh_ttl=1)
        issued = sign_in(tokens, customer_id)
        time.sleep(1.1)

        with pytest.raises(InvalidToken):
            tokens.refresh(issued.refresh_token)

    def test_an_unknown_refresh_token_is_refused(self, tokens, customer_id):
        sign_in(tokens, customer_id)
        with pytest.raises(InvalidToken):
            tokens.refresh("rt_" + "x" * 43)

    def test_refresh_tokens_are_stored_only_as_hashes(self, tokens, customer_id, engine):
        issued = sign_in(tokens, customer_id)

        with engine.connect() as connection:
            stored = connection.execute(select(refresh_tokens)).all()

        assert len(stored) == 1
        assert stored[0].token_hash == hashlib.sha256(issued.refresh_token.encode()).hexdigest()
        assert not any(issued.refresh_token in str(value) for value in stored[0])

    def test_a_refresh_token_issued_in_a_transaction_that_rolls_back_is_not_kept(
        self, tokens, customer_id, engine
    ):
        class Abandoned(Exception):
            pass

        with pytest.raises(Abandoned), engine.begin() as connection:
            issued = tokens.issue(connection, customer_id)
            raise Abandoned()

        with pytest.raises(InvalidToken):
            tokens.refresh(issued.refresh_token)
        with engine.connect() as connection:
            assert connection.execute(select(refresh_tokens)).all() == []

    def test_a_rotated_token_stays_in_its_family_and_is_marked_rotated(self, tokens, customer_id, engine):
        first = sign_in(tokens, customer_id)
        second = tokens.refresh(first.refresh_token)

        with engine.connect() as connection:
            rows = {
                row.token_hash: row
                for row in connection.execute(select(refresh_tokens).order_by(refresh_tokens.c.id))
            }
        old = rows[hashlib.sha256(first.refresh_token.encode()).hexdigest()]
        new = rows[hashlib.sha256(second.refresh_token.encode()).hexdigest()]
        assert old.family_id == new.family_id
        assert old.rotated_at is not None and new.rotated_at is None
        assert old.revoked_at is None and new.revoked_at is None
        assert new.expires_at > old.created_at
