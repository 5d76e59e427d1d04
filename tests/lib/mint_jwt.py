#!/usr/bin/python3
"""tests/lib/mint_jwt.py: mints compact JWTs for the tests (python3-cryptography).

Command line (prints one token):
    /usr/bin/python3 tests/lib/mint_jwt.py --key PRIVATE.pem [--alg ALG] [--sub SUB]
        [--aud AUD] [--lifetime SECONDS] [--kid KID] [--jti JTI]
        [--claims JSON-merged-last] [--no-exp]
    /usr/bin/python3 tests/lib/mint_jwt.py --thumbprint KEY.pem   (RFC 7638, public or private)

Python:
    sys.path.insert(0, "tests/lib"); from mint_jwt import mint, thumbprint
    tok = mint("ed.pem", claims={"sub": "alice"}, lifetime=60)

The algorithm is inferred from the key (Ed25519 -> EdDSA, P-256/384/521 ->
ES256/384/512, RSA -> RS256). An explicit alg may disagree with the key on
purpose, to make hostile tokens: "none" gives an empty signature, "HS*" uses
the key FILE's bytes as the HMAC secret (the classic public-key-as-secret
attack), "PS*" signs RSA-PSS, and ESxxx with another curve hashes with xxx.
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_CURVE_ALG = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def b64url(data):
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def load_key(path):
    """Loads a PEM private key, or a public key when the file holds one."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return serialization.load_pem_private_key(data, password=None)
    except ValueError:
        return serialization.load_pem_public_key(data)


def default_alg(key):
    """The JWS alg that matches the key's type and curve."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "EdDSA"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return _CURVE_ALG[key.curve.name]
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    raise ValueError(f"unsupported key type {type(key).__name__}")


def _int_b64(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64url(n.to_bytes(size, "big"))


def jwk(key):
    """The public JWK members RFC 7638 hashes, for any supported key."""
    if hasattr(key, "public_key"):
        key = key.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        nums = key.public_numbers()
        size = (key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        return {"crv": crv, "kty": "EC", "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        return {"e": _int_b64(nums.e), "kty": "RSA", "n": _int_b64(nums.n)}
    raise ValueError(f"unsupported key type {type(key).__name__}")


def thumbprint(key_path):
    """RFC 7638 SHA-256 thumbprint (base64url) of the key in key_path."""
    members = jwk(load_key(key_path))
    canon = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canon).digest())


def sign(key_path, alg, signing_input, ecdsa_der=False):
    """Signs signing_input (bytes) with the key file as alg says; returns raw bytes."""
    if alg == "none":
        return b""
    if alg.startswith("HS"):
        with open(key_path, "rb") as f:
            secret = f.read()
        return hmac.new(secret, signing_input, getattr(hashlib, "sha" + alg[2:])).digest()
    key = load_key(key_path)
    if alg == "EdDSA":
        return key.sign(signing_input)
    digest = _HASHES[alg[2:]]()
    if alg.startswith("RS"):
        return key.sign(signing_input, padding.PKCS1v15(), digest)
    if alg.startswith("PS"):
        return key.sign(signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size),
                        digest)
    if alg.startswith("ES"):
        der = key.sign(signing_input, ec.ECDSA(digest))
        if ecdsa_der:
            return der
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError(f"unsupported alg {alg}")


def mint(key_path, alg=None, claims=None, header=None, lifetime=60, now=None, ecdsa_der=False):
    """Returns a compact JWS (str) signed with the private key in key_path.

    claims are merged over {"iat": now, "exp": now + lifetime}; a claim whose
    value is None is removed (lifetime=None leaves out exp). header is merged
    over {"alg": alg, "typ": "JWT"} the same way. ecdsa_der=True writes the
    DER signature (a wrong encoding for JWS) instead of r||s.
    """
    now = int(time.time()) if now is None else now
    if alg is None:
        alg = default_alg(load_key(key_path))
    body = {"iat": now}
    if lifetime is not None:
        body["exp"] = now + lifetime
    body.update(claims or {})
    body = {k: v for k, v in body.items() if v is not None}
    head = {"alg": alg, "typ": "JWT"}
    head.update(header or {})
    head = {k: v for k, v in head.items() if v is not None}
    signing_input = (b64url(_json(head)) + "." + b64url(_json(body))).encode()
    sig = sign(key_path, alg, signing_input, ecdsa_der=ecdsa_der)
    return signing_input.decode() + "." + b64url(sig)


def main():
    p = argparse.ArgumentParser(description="Mint one compact JWT for the web-shell tests.")
    p.add_argument("--key", help="PEM private key (alg inferred from it)")
    p.add_argument("--alg", help="override the alg (none, HS*, PS* make hostile tokens)")
    p.add_argument("--sub")
    p.add_argument("--aud")
    p.add_argument("--lifetime", type=int, default=60, help="seconds until exp (default 60)")
    p.add_argument("--kid", help='"kid" header; "auto" puts the key\'s RFC 7638 thumbprint')
    p.add_argument("--jti")
    p.add_argument("--claims", help="JSON object merged last over the claims")
    p.add_argument("--no-exp", action="store_true", help="leave out exp")
    p.add_argument("--thumbprint", metavar="KEY", help="print KEY's RFC 7638 thumbprint and exit")
    a = p.parse_args()
    if a.thumbprint:
        print(thumbprint(a.thumbprint))
        return 0
    if not a.key:
        p.error("--key is required")
    claims = {}
    for name in ("sub", "aud", "jti"):
        if getattr(a, name) is not None:
            claims[name] = getattr(a, name)
    if a.claims:
        extra = json.loads(a.claims)
        if not isinstance(extra, dict):
            p.error("--claims must be a JSON object")
        claims.update(extra)
    header = {}
    if a.kid is not None:
        header["kid"] = thumbprint(a.key) if a.kid == "auto" else a.kid
    lifetime = None if a.no_exp else a.lifetime
    print(mint(a.key, alg=a.alg, claims=claims, header=header, lifetime=lifetime))
    return 0


if __name__ == "__main__":
    sys.exit(main())
