#!/usr/bin/env python3
"""Authoring-time helper: computes the public JWK of every pool key.

Run from this directory after (re)generating the PEM files:

    for i in 1 2 3 4 5 6; do openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-$i.pem; done
    for i in 1 2 3 4; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec256-$i.pem; done
    for i in 1 2 3; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384-$i.pem; done
    for i in 1 2 3; do openssl genpkey -algorithm ED25519 -out ed25519-$i.pem; done
    for f in rsa-?.pem ec*-?.pem ed25519-?.pem; do openssl pkey -in $f -pubout -out ${f%.pem}.pub.pem; done
    python3 gen_jwks.py > jwks.json

Only the `openssl` CLI is needed. The JWKs carry no `alg`/`use`: the mock
issuer adds those (and the published kid) at runtime.
"""
import base64
import glob
import json
import re
import subprocess


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def spki_der(path: str) -> bytes:
    return subprocess.run(
        ["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
        check=True, capture_output=True,
    ).stdout


def rsa_jwk(path: str) -> dict:
    text = subprocess.run(
        ["openssl", "pkey", "-in", path, "-noout", "-text"],
        check=True, capture_output=True, text=True,
    ).stdout
    modulus = re.search(r"modulus:\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
    n = bytes.fromhex(re.sub(r"[\s:]", "", modulus)).lstrip(b"\x00")
    e = int(re.search(r"publicExponent: (\d+)", text).group(1))
    e_bytes = e.to_bytes((e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "n": b64u(n), "e": b64u(e_bytes)}


def ec_jwk(path: str, crv: str, size: int) -> dict:
    point = spki_der(path)[-(2 * size + 1):]
    assert point[0] == 4, "uncompressed point expected"
    return {"kty": "EC", "crv": crv, "x": b64u(point[1:1 + size]), "y": b64u(point[1 + size:])}


def ed_jwk(path: str) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(spki_der(path)[-32:])}


def key_order(path: str):
    name = path[:-4]
    family, index = name.rsplit("-", 1)
    return (["rsa", "ec256", "ec384", "ed25519"].index(family), int(index))


keys = []
for path in sorted(glob.glob("*-[0-9].pem"), key=key_order):
    name = path[:-4]
    if name.startswith("rsa-"):
        jwk = rsa_jwk(path)
    elif name.startswith("ec256-"):
        jwk = ec_jwk(path, "P-256", 32)
    elif name.startswith("ec384-"):
        jwk = ec_jwk(path, "P-384", 48)
    else:
        jwk = ed_jwk(path)
    keys.append({"kid": name, **jwk})

print(json.dumps({"keys": keys}, indent=2))
