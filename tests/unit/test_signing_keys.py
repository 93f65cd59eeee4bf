"""The keys that sign and verify access tokens, as the environment gives them (app.tokens.keys)."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from app.tokens import SigningKeys
from config.settings import ConfigError

NOT_P256 = "JWT_PREVIOUS_PUBLIC_KEYS must hold P-256 (ES256) keys in PEM"


def private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def p256():
    return ec.generate_private_key(ec.SECP256R1())


def keys(previous: str | None) -> SigningKeys:
    return SigningKeys.create_service(private_pem(p256()), previous, instance_path=None)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_previous_p256_keys_given_as_public_or_private_pem_are_kept_for_verifying():
    retired_public, retired_private = p256(), p256()

    signing = keys(public_pem(retired_public) + private_pem(retired_private))

    assert len(signing.public_keys) == 3
    assert next(iter(signing.public_keys)) == signing.kid
    assert all(isinstance(key, ec.EllipticCurvePublicKey) for key in signing.public_keys.values())


@pytest.mark.parametrize(
    "previous",
    [
        pytest.param(lambda rsa_key: public_pem(rsa_key), id="an RSA public key"),
        pytest.param(lambda rsa_key: private_pem(rsa_key), id="an RSA private key"),
        pytest.param(lambda _: public_pem(ec.generate_private_key(ec.SECP384R1())), id="a P-384 key"),
        pytest.param(lambda _: public_pem(ed25519.Ed25519PrivateKey.generate()), id="an Ed25519 key"),
        pytest.param(
            lambda _: "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----", id="no key at all"
        ),
        pytest.param(lambda rsa_key: public_pem(p256()) + public_pem(rsa_key), id="a P-256 key, then RSA"),
    ],
)
def test_a_previous_key_that_is_not_p256_is_refused_with_one_clear_message(rsa_key, previous):
    with pytest.raises(ConfigError) as refused:
        keys(previous(rsa_key))
    assert str(refused.value) == NOT_P256


def test_an_rsa_signing_key_is_refused_naming_jwt_private_key(rsa_key):
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY"):
        SigningKeys.create_service(private_pem(rsa_key), None, instance_path=None)


@pytest.mark.parametrize(
    "previous",
    [
        pytest.param("not a key", id="no PEM at all"),
        pytest.param("-----BEGIN PUBLIC KEY-----", id="a PEM cut at its first newline"),
    ],
)
def test_a_value_holding_no_complete_pem_is_refused(previous):
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_PUBLIC_KEYS"):
        keys(previous)
