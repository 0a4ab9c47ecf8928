"""Signer and Verifier: CMS envelopes, each accepted case with its refused twins."""

import pytest

import waxseal
from conftest import BODHI, REVOKED

CONTENT = b'{"topic": "org.example.prod.bodhi.update.comment", "n": 1}'


def refused(code, fn, *args, **kwargs):
    with pytest.raises(waxseal.Rejected) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    assert str(info.value).startswith(code + ": ")
    return info.value


def test_attached_verifies_and_returns_the_content(pki, signers):
    env = signers[BODHI].sign(CONTENT)
    v = pki.verifier().verify(env)
    assert v.content == CONTENT
    [s] = v.signers
    assert s["subject"].endswith("CN=" + BODHI)
    assert s["common_name"] == BODHI
    assert s["digest"] == "sha256"
    assert s["signing_time"]
    assert s["path"][0] == s["subject"]


def test_tampered_attached_is_refused(pki, signers):
    env = bytearray(signers[BODHI].sign(CONTENT))
    i = env.index(b'"n": 1')
    env[i + 5] = ord("2")
    refused("message-digest-mismatch", pki.verifier().verify, bytes(env))


def test_detached_verifies_with_its_content_only(pki, signers):
    env = signers[BODHI].sign(CONTENT, detached=True)
    assert CONTENT not in env
    assert pki.verifier().verify(env, CONTENT).content == CONTENT
    refused("message-digest-mismatch", pki.verifier().verify, env, CONTENT + b" ")
    with pytest.raises(waxseal.Rejected):
        pki.verifier().verify(env)


def test_no_certs_needs_the_signer_in_the_store(pki, signers):
    env = signers[BODHI].sign(CONTENT, certificates=False)
    leaf = str(pki.dir / f"{BODHI}.crt")
    v = waxseal.Verifier([pki.root], certs=[pki.intermediate, leaf]).verify(env)
    assert v.content == CONTENT
    refused("signer-certificate-not-found", pki.verifier().verify, env)


def test_no_signed_attributes(pki, signers):
    env = signers[BODHI].sign(CONTENT, signed_attributes=False)
    v = pki.verifier().verify(env)
    assert v.content == CONTENT
    assert v.signers[0]["signing_time"] is None
    tampered = env.replace(b'"n": 1', b'"n": 3')
    with pytest.raises(waxseal.Rejected) as info:
        pki.verifier().verify(tampered)
    assert info.value.code == "bad-signature", info.value


def test_digest_choice(pki, signers):
    env = signers[BODHI].sign(CONTENT, digest="sha384")
    assert pki.verifier().verify(env).signers[0]["digest"] == "sha384"
    with pytest.raises(ValueError):
        signers[BODHI].sign(CONTENT, digest="md5")


def test_untrusted_signer_is_refused(pki, other_pki):
    foreign = other_pki.signer(BODHI)
    env = foreign.sign(CONTENT)
    refused("untrusted", pki.verifier().verify, env)
    # ...and trusted by its own PKI.
    assert other_pki.verifier().verify(env).content == CONTENT


def test_revoked_signer_is_refused_with_the_crl(pki, signers):
    env = signers[REVOKED].sign(CONTENT)
    # Without a CRL revocation is not checked; with it, refused.
    assert pki.verifier().verify(env).content == CONTENT
    refused("revoked", pki.verifier(crls=[pki.crl]).verify, env)
    refused("revoked", pki.verifier(crls=[pki.crl], crl_scope="leaf").verify, env)
    good = signers[BODHI].sign(CONTENT)
    v = pki.verifier(crls=[pki.crl]).verify(good)
    assert v.signers[0]["revocation_checked"] is True


def test_trust_material_as_bytes(pki, signers):
    with open(pki.root, "rb") as f:
        root = f.read()
    with open(pki.intermediate, "rb") as f:
        inter = f.read()
    with open(pki.crl, "rb") as f:
        crl = f.read()
    v = waxseal.Verifier([root], certs=[inter], crls=[crl])
    assert v.verify(signers[BODHI].sign(CONTENT)).content == CONTENT
    refused("revoked", v.verify, signers[REVOKED].sign(CONTENT))


def test_verify_at_a_time_after_expiry_is_refused(pki, signers):
    env = signers[BODHI].sign(CONTENT)
    refused("certificate-expired", pki.verifier(at="2100-01-01T00:00:00Z").verify, env)


def test_signer_from_pem(pki):
    with open(pki.dir / f"{BODHI}.crt", "rb") as f:
        cert = f.read()
    with open(pki.dir / f"{BODHI}.key", "rb") as f:
        key = f.read()
    s = waxseal.Signer.from_pem(cert, key)
    assert s.subject.endswith(BODHI)
    assert "BEGIN CERTIFICATE" in s.certificate_pem
    assert pki.verifier().verify(s.sign(CONTENT)).content == CONTENT


def test_bad_signer_files_are_config_errors(pki, tmp_path):
    with pytest.raises(waxseal.ConfigError):
        waxseal.Signer(str(tmp_path / "missing.crt"), str(tmp_path / "missing.key"))
    # A key that is not the certificate's.
    with pytest.raises(waxseal.ConfigError):
        waxseal.Signer(
            str(pki.dir / f"{BODHI}.crt"), str(pki.dir / "compute-node01.example.org.key")
        )
    # A certificate whose purpose verifiers would refuse: the CA's.
    with pytest.raises(waxseal.ConfigError):
        waxseal.Signer(pki.intermediate, str(pki.dir / "signing-ca.key"))


def test_verifier_without_anchors_is_a_config_error(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(waxseal.ConfigError):
        waxseal.Verifier([str(empty)])
    with pytest.raises(ValueError):
        waxseal.Verifier([str(empty)], crl_scope="some")


def test_garbage_is_refused_as_malformed(pki):
    refused("malformed", pki.verifier().verify, b"not an envelope")


STATS = {"path_hits", "path_misses", "signature_hits", "signature_misses", "entries",
         "path_entries", "signature_entries", "capacity", "generation"}


def test_cache_stats_count_paths_served_from_the_cache(pki, signers):
    v = pki.verifier(crls=[pki.crl])
    s = v.cache_stats()
    assert set(s) == STATS
    assert (s["path_hits"], s["path_misses"], s["entries"]) == (0, 0, 0)
    for n in range(3):
        v.verify(signers[BODHI].sign(CONTENT + b" " * n))
    s = v.cache_stats()
    assert (s["path_hits"], s["path_misses"], s["path_entries"]) == (2, 1, 1)
    # Each new message is one signature the cache did not know.
    assert s["signature_misses"] >= 3
    assert 0 < s["entries"] and s["path_entries"] <= s["capacity"]


def test_cache_stats_a_refused_signer_is_not_a_hit(pki, signers):
    v = pki.verifier(crls=[pki.crl])
    v.verify(signers[BODHI].sign(CONTENT))
    for _ in range(2):
        refused("revoked", v.verify, signers[REVOKED].sign(CONTENT))
    s = v.cache_stats()
    # Refused paths are not cached: the revoked signer misses every time.
    assert (s["path_hits"], s["path_misses"], s["path_entries"]) == (0, 3, 1)


def _import_with_provider(value):
    import os
    import subprocess
    import sys

    env = dict(os.environ, WAXSEAL_PROVIDER=value)
    return subprocess.run(
        [sys.executable, "-c", "import waxseal; print(waxseal.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_named_provider_is_picked_at_import():
    done = _import_with_provider("rustcrypto")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == waxseal.__version__


def test_an_unknown_provider_fails_the_import_as_a_configuration_error():
    done = _import_with_provider("fastest")
    assert done.returncode != 0
    assert "ConfigError" in done.stderr
    assert "WAXSEAL_PROVIDER" in done.stderr
    assert "unknown-provider" in done.stderr
