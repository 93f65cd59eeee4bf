"""The ES256 keys that sign access tokens, and the JWK Set that publishes them."""

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from app.instance import read_or_create
from config.settings import ConfigError


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key's RFC 7638 JWK thumbprint, used as its `kid`."""
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _generate_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _split_pems(text: str) -> list[bytes]:
    """The PEM blocks of a setting; anything outside a complete block is refused."""
    blocks, current = [], []
    for line in text.replace("\\n", "\n").strip().splitlines():
        current.append(line)
        if line.startswith("-----END"):
            blocks.append("\n".join(current).encode() + b"\n")
            current = []
    if current or not blocks:
        raise ConfigError("JWT_PREVIOUS_PUBLIC_KEYS must hold P-256 (ES256) keys in PEM")
    return blocks


def _public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """A retired P-256 key, given as its public or its private PEM."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError):
            key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError("JWT_PREVIOUS_PUBLIC_KEYS must hold P-256 (ES256) keys in PEM")
    return key


class SigningKeys:
    """The current private key and every public key a token may still be signed with."""

    def __init__(self, private_pem: bytes, previous_pems: list[bytes] = ()):
        try:
            self.private_key = serialization.load_pem_private_key(private_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError("JWT_PRIVATE_KEY must be an unencrypted PEM private key") from None
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            self.private_key.curve, ec.SECP256R1
        ):
            raise ConfigError("JWT_PRIVATE_KEY must be a P-256 (ES256) key")
        self.kid = thumbprint(self.private_key.public_key())
        self.public_keys = {self.kid: self.private_key.public_key()}
        for pem in previous_pems:
            key = _public_key(pem)
            self.public_keys[thumbprint(key)] = key

    @classmethod
    def create_service(cls, private_pem: str | None, previous_pems: str | None, instance_path: Path):
        """Keys from the environment, or a key generated once into `instance_path`."""
        if private_pem:
            pem = private_pem.replace("\\n", "\n").encode()
        else:
            pem = read_or_create(instance_path / "jwt_private_key.pem", _generate_pem)
        return cls(pem, _split_pems(previous_pems) if previous_pems else [])

    def jwks(self) -> dict:
        """The JWK Set of every public key, the current one first."""
        keys = []
        for kid, key in self.public_keys.items():
            jwk = ECAlgorithm.to_jwk(key, as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": keys}
