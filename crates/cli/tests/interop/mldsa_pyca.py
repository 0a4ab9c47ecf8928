"""ML-DSA interop between waxseal and pyca/cryptography (OpenSSL 4's ML-DSA).

Run by crates/cli/tests/mldsa_pyca.rs with the venv scripts/test-all makes
(target/mldsa-venv: cryptography==50.0.2). Two commands:

  check-waxseal DIR  pyca verifies what waxseal made in DIR, for N in 44, 65, 87:
                     root-N.pem, ca-N.pem, leaf-N.crt (each certificate's signature over
                     its TBS), leaf-N.key (waxseal's PKCS #8 seed form loads and is the
                     certificate's key), env-N.der (SignerInfo signature over the DER of
                     the signed attributes with the SET OF tag; message-digest is SHA-512
                     of the content) and noattrs-N.der (signature over the content).
                     Each check has a negative twin that must fail.
  make DIR           pyca makes an ML-DSA-65 root, ML-DSA-44/65/87 leaves and their keys,
                     and SignedData envelopes (the CMS structure assembled here, since
                     pyca's PKCS #7 builder signs with RSA and EC only; every signature is
                     pyca's): py-root.pem, py-leaf-N.crt, py-leaf-N.key, py-env-N.der,
                     py-noattrs-N.der, py-content.txt.

Prints one JSON line of what was checked; exits non-zero on any failure.
"""

import base64
import datetime
import hashlib
import json
import os
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.x509.oid import NameOID

SETS = {
    44: (mldsa.MLDSA44PrivateKey, "2.16.840.1.101.3.4.3.17"),
    65: (mldsa.MLDSA65PrivateKey, "2.16.840.1.101.3.4.3.18"),
    87: (mldsa.MLDSA87PrivateKey, "2.16.840.1.101.3.4.3.19"),
}
SHA512 = "2.16.840.1.101.3.4.2.3"
ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"


# --- a minimal DER reader and writer (definite lengths only, as DER is) ---


def read_tlv(data, at=0):
    """(tag, contents, end) of the TLV at `at`."""
    tag = data[at]
    length = data[at + 1]
    at += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[at : at + n], "big")
        at += n
    return tag, data[at : at + length], at + length


def children(contents):
    """The TLVs in `contents`, as (tag, contents, whole encoding)."""
    out, at = [], 0
    while at < len(contents):
        tag, body, end = read_tlv(contents, at)
        out.append((tag, body, contents[at:end]))
        at = end
    return out


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, body)


def oid_str(der_body):
    first = der_body[0]
    parts, value = [first // 40, first % 40], 0
    for b in der_body[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):
    return tlv(0x31, b"".join(sorted(items)))


def integer(n):
    return tlv(0x02, n.to_bytes((n.bit_length() + 8) // 8, "big"))


def algorithm(dotted):
    # RFC 9882 §2 / RFC 5754: parameters absent.
    return seq(oid(dotted))


# --- CMS SignedData ---


def signer_info_parts(envelope):
    """(eContent, signedAttrs TLV or None, signatureAlgorithm OID, signature, sid DER)."""
    _, content_info, _ = read_tlv(envelope)
    ci = children(content_info)
    assert oid_str(ci[0][1]) == ID_SIGNED_DATA
    _, sd_body, _ = read_tlv(ci[1][1])
    sd = children(sd_body)
    encap = children(sd[2][1])
    econtent = None
    if len(encap) > 1:
        _, inner, _ = read_tlv(encap[1][1])
        econtent = inner
    signer_infos = children(sd[-1][1])
    assert len(signer_infos) == 1
    si = children(signer_infos[0][1])
    signed_attrs = si[3][2] if si[3][0] == 0xA0 else None
    rest = si[4:] if signed_attrs is not None else si[3:]
    sig_alg = oid_str(children(rest[0][1])[0][1])
    signature = rest[1][1]
    return econtent, signed_attrs, sig_alg, signature, si[1][2]


def attributes(signed_attrs):
    _, body, _ = read_tlv(signed_attrs)
    out = {}
    for _, attr, _ in children(body):
        parts = children(attr)
        out[oid_str(parts[0][1])] = children(parts[1][1])[0][1]
    return out


def check_waxseal(d):
    checked = []
    for n, (_, sig_oid) in SETS.items():
        load = lambda f: x509.load_pem_x509_certificate(open(os.path.join(d, f), "rb").read())
        root, ca, leaf = load(f"root-{n}.pem"), load(f"ca-{n}.pem"), load(f"leaf-{n}.crt")
        for cert, issuer in [(root, root), (ca, root), (leaf, ca)]:
            # The signature over the TBS, with the issuer's ML-DSA key, empty context.
            issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes)
            cert.verify_directly_issued_by(issuer)
            tampered = bytearray(cert.tbs_certificate_bytes)
            tampered[-1] ^= 1
            try:
                issuer.public_key().verify(cert.signature, bytes(tampered))
                raise SystemExit(f"ML-DSA-{n}: a tampered TBS verified")
            except InvalidSignature:
                pass
        assert leaf.signature_algorithm_oid.dotted_string == sig_oid, leaf.signature_algorithm_oid
        pem = open(os.path.join(d, f"leaf-{n}.key"), "rb").read()
        key = serialization.load_pem_private_key(pem, None)
        # waxseal writes the seed form (RFC 9881 §6): byte for byte what pyca writes.
        lines = pem.decode().strip().splitlines()
        written = base64.b64decode("".join(lines[1:-1]))
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        assert written == der and der[-34:-32] == b"\x80\x20", "not the seed form"
        assert key.public_key() == leaf.public_key(), f"ML-DSA-{n}: key is not the certificate's"
        content = open(os.path.join(d, "msg.json"), "rb").read()

        econtent, attrs, alg, sig, _ = signer_info_parts(open(os.path.join(d, f"env-{n}.der"), "rb").read())
        assert alg == sig_oid and econtent == content
        a = attributes(attrs)
        assert a[MESSAGE_DIGEST] == hashlib.sha512(content).digest(), "message-digest"
        assert oid_str(a[CONTENT_TYPE]) == ID_DATA
        # RFC 5652 §5.4 / RFC 9882 §3.2: over the DER of the attributes with the SET OF tag.
        set_of_attrs = b"\x31" + attrs[1:]
        leaf.public_key().verify(sig, set_of_attrs)
        for wrong in [attrs, set_of_attrs[:-1] + bytes([set_of_attrs[-1] ^ 1])]:
            try:
                leaf.public_key().verify(sig, wrong)
                raise SystemExit(f"ML-DSA-{n}: signature verified over the wrong bytes")
            except InvalidSignature:
                pass

        econtent, attrs, alg, sig, _ = signer_info_parts(open(os.path.join(d, f"noattrs-{n}.der"), "rb").read())
        assert attrs is None and alg == sig_oid
        leaf.public_key().verify(sig, econtent)
        try:
            leaf.public_key().verify(sig, econtent + b" ")
            raise SystemExit(f"ML-DSA-{n}: no-attrs signature verified over other content")
        except InvalidSignature:
            pass
        checked.append(n)
    print(json.dumps({"pyca_verified_waxseal": checked}))


def name(cn):
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pyca"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def make(d):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    root_key = mldsa.MLDSA65PrivateKey.generate()
    root = (
        x509.CertificateBuilder()
        .subject_name(name("pyca ML-DSA root"))
        .issuer_name(name("pyca ML-DSA root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, None)
    )
    open(os.path.join(d, "py-root.pem"), "wb").write(root.public_bytes(serialization.Encoding.PEM))
    content = b'{"topic": "org.example.pyca", "msg": "made by pyca/cryptography"}\n'
    open(os.path.join(d, "py-content.txt"), "wb").write(content)
    for n, (cls, sig_oid) in SETS.items():
        key = cls.generate()
        leaf = (
            x509.CertificateBuilder()
            .subject_name(name(f"pyca-{n}.example.org"))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, None)
        )
        open(os.path.join(d, f"py-leaf-{n}.crt"), "wb").write(leaf.public_bytes(serialization.Encoding.PEM))
        fd = os.open(os.path.join(d, f"py-leaf-{n}.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(
            fd,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        os.close(fd)
        issuer_and_serial = seq(
            leaf.issuer.public_bytes(), integer(leaf.serial_number)
        )
        cert_der = leaf.public_bytes(serialization.Encoding.DER)
        for signed_attrs in (True, False):
            if signed_attrs:
                utc = now.strftime("%y%m%d%H%M%SZ").encode()
                attrs = [
                    seq(oid(CONTENT_TYPE), set_of(oid(ID_DATA))),
                    seq(oid(SIGNING_TIME), set_of(tlv(0x17, utc))),
                    seq(oid(MESSAGE_DIGEST), set_of(tlv(0x04, hashlib.sha512(content).digest()))),
                ]
                set_der = set_of(*attrs)
                signature = key.sign(set_der)  # pure ML-DSA, empty context
                attrs_field = b"\xa0" + set_der[1:]
            else:
                signature = key.sign(content)
                attrs_field = b""
            si = seq(
                integer(1),
                issuer_and_serial,
                algorithm(SHA512),
                attrs_field,
                algorithm(sig_oid),
                tlv(0x04, signature),
            )
            sd = seq(
                integer(1),
                set_of(algorithm(SHA512)),
                seq(oid(ID_DATA), tlv(0xA0, tlv(0x04, content))),
                tlv(0xA0, cert_der),
                set_of(si),
            )
            env = seq(oid(ID_SIGNED_DATA), tlv(0xA0, sd))
            stem = "py-env" if signed_attrs else "py-noattrs"
            open(os.path.join(d, f"{stem}-{n}.der"), "wb").write(env)
    print(json.dumps({"pyca_made": list(SETS)}))


if __name__ == "__main__":
    {"check-waxseal": check_waxseal, "make": make}[sys.argv[1]](sys.argv[2])
