"""waxseal.fedmsg against the real fedmsg 1.1.7, both directions, and the cms wire.

The PKI is made at test time with ``waxseal pki init --single-tier`` (fedmsg trusts one
CA certificate and no intermediates) and ``pki issue``. fedmsg runs as a peer process
(``fedmsg_peer.py``) under ``$FEDMSG_PYTHON``, or this interpreter when it can import
fedmsg (install the pins: ``fedmsg==1.1.7 pyOpenSSL==24.2.1 cryptography==43.0.3``).
Without fedmsg the interop tests are skipped, unless ``WAXSEAL_REQUIRE_FEDMSG=1`` (CI),
which makes that a failure.
"""

import base64
import concurrent.futures
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import waxseal
import waxseal.fedmsg as wf

HERE = Path(__file__).resolve().parent
BODHI = "bodhi-app01.example.org"
KOJI = "koji-app03.example.org"
REVOKED = "fas-app02.example.org"
BODHI_TOPIC = "org.example.prod.bodhi.update.comment"
KOJI_TOPIC = "org.example.prod.koji.build.complete"
UNLISTED_TOPIC = "org.example.prod.wiki.article.edit"


def _fedmsg_python():
    env = os.environ.get("FEDMSG_PYTHON")
    if env:
        return env
    probe = subprocess.run(
        [sys.executable, "-c", "import fedmsg.crypto"], capture_output=True
    )
    if probe.returncode == 0:
        return sys.executable
    if os.environ.get("WAXSEAL_REQUIRE_FEDMSG") == "1":
        pytest.fail("fedmsg is not importable and WAXSEAL_REQUIRE_FEDMSG=1")
    pytest.skip("fedmsg 1.1.7 is not installed (set FEDMSG_PYTHON or install the pins)")


@pytest.fixture(scope="session")
def fedmsg_python():
    return _fedmsg_python()


def peer(python, op, message, config, signer=None):
    """Runs the real fedmsg.crypto.<op> in a fresh process."""
    with Peer(python) as p:
        return p.call(op, message, config, signer)


class Peer:
    """A long-running fedmsg process (its CA and CRL cache carry over between calls)."""

    def __init__(self, python):
        self.proc = subprocess.Popen(
            [python, str(HERE / "fedmsg_peer.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, op, message, config, signer=None):
        request = {"op": op, "message": message, "config": config, "signer": signer}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the fedmsg peer died"
        reply = json.loads(line)
        assert reply["version"] == "1.1.7"
        return reply

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class SingleTierPki:
    """``waxseal pki init --single-tier --algorithm rsa2048`` and ``pki issue``."""

    def __init__(self, binary, root):
        self.binary = binary
        self.dir = root

    def run(self, *args):
        subprocess.run(
            [self.binary, "pki", *args, "--dir", str(self.dir)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self, *names, seed=None):
        args = ["init", "--single-tier", "--algorithm", "rsa2048"]
        if seed:
            self.dir.parent.mkdir(parents=True, exist_ok=True)
            seed_file = self.dir.parent / "seed.json"
            seed_file.write_text(json.dumps(seed))
            args += ["--seed", str(seed_file)]
        self.run(*args)
        self.run("issue", *names)
        return self

    def keep(self, name, ssldir):
        """Copies ``name``'s key pair to ``ssldir`` (before it is revoked: revocation
        archives the files)."""
        ssldir.mkdir(parents=True, exist_ok=True)
        for ext in ("crt", "key"):
            shutil.copy2(self.dir / f"{name}.{ext}", ssldir / f"{name}.{ext}")
        return ssldir

    def revoke(self, name):
        subprocess.run(
            [self.binary, "pki", "revoke", "--dir", str(self.dir), name],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def config(self, **extra):
        """A configuration as /etc/fedmsg.d would hold it."""
        c = {
            "ssldir": str(self.dir),
            "certname": BODHI,
            "ca_cert_location": str(self.dir / "root-ca.crt"),
            "crl_location": str(self.dir / "crl.pem"),
            "routing_policy": {
                BODHI_TOPIC: [BODHI],
                KOJI_TOPIC: [KOJI],
            },
            "routing_nitpicky": False,
        }
        c.update(extra)
        return c


@pytest.fixture(scope="session")
def pki(tmp_path_factory, waxseal_bin):
    base = tmp_path_factory.mktemp("fedmsg")
    p = SingleTierPki(waxseal_bin, base / "pki").init(BODHI, KOJI, REVOKED)
    p.revoked_ssldir = str(p.keep(REVOKED, base / "revoked-ssl"))
    p.revoke(REVOKED)
    return p


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory, waxseal_bin):
    """An unrelated single-tier PKI with a certificate of the same name."""
    base = tmp_path_factory.mktemp("other")
    return SingleTierPki(waxseal_bin, base / "pki").init(BODHI, seed={"O": "Elsewhere"})


def message(topic=BODHI_TOPIC, **msg):
    """A message as fedmsg.core builds one."""
    return {
        "topic": topic,
        "msg": msg or {"comment": {"text": "works for me", "karma": 1, "ratio": 0.25}},
        "timestamp": int(time.time()),
        "msg_id": "%d-%s" % (time.gmtime().tm_year, uuid.uuid4()),
        "i": 1,
        "username": "bodhi",
    }


def tampered(m):
    m = json.loads(json.dumps(m))
    m["msg"]["comment"]["karma"] = -1
    return m


X509 = {"crypto_backend": "x509", "crypto_validate_backends": ["x509"]}
BOTH = {"crypto_validate_backends": ["cms", "x509"]}


def refused(caplog, fn, *args, **kwargs):
    """Calls waxseal.fedmsg ``fn``; asserts it returned False (not raised) and logged why."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="waxseal.fedmsg"):
        assert fn(*args, **kwargs) is False
    reasons = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert reasons, "a refusal must be logged"
    return reasons[-1]


# --- fedmsg signs, waxseal validates ---------------------------------------------------


def test_fedmsg_x509_messages_validate_when_x509_is_accepted(pki, fedmsg_python, caplog):
    m = peer(fedmsg_python, "sign", message(), pki.config(**X509))["result"]
    assert m["crypto"] == "x509"
    assert wf.validate(m, **pki.config(**BOTH)) is True
    assert wf.validate_signed_by(m, BODHI, **pki.config(**BOTH)) is True
    # The default accepts only waxseal's envelope: fedmsg's RSA-SHA1 needs an opt-in.
    why = refused(caplog, wf.validate, m, **pki.config())
    assert "crypto backend x509 is not accepted" in why
    # Someone else's name, tampered content: refused.
    assert "routing-policy" in refused(
        caplog, wf.validate_signed_by, m, KOJI, **pki.config(**BOTH)
    )
    assert "bad-signature" in refused(
        caplog, wf.validate, tampered(m), **pki.config(**BOTH)
    )
    # The certificate swapped for another one of the PKI's: the signature no longer fits.
    koji = peer(
        fedmsg_python, "sign", message(KOJI_TOPIC), pki.config(certname=KOJI, **X509)
    )["result"]
    swapped = dict(m, certificate=koji["certificate"])
    assert "bad-signature" in refused(caplog, wf.validate, swapped, **pki.config(**BOTH))


def test_fedmsg_messages_from_revoked_untrusted_or_unauthorized_signers_are_refused(
    pki, other_pki, fedmsg_python, caplog
):
    revoked = peer(
        fedmsg_python,
        "sign",
        message(),
        pki.config(ssldir=pki.revoked_ssldir, certname=REVOKED, **X509),
    )["result"]
    assert "revoked" in refused(caplog, wf.validate, revoked, **pki.config(**BOTH))
    foreign = peer(
        fedmsg_python, "sign", message(), other_pki.config(**X509)
    )["result"]
    assert "untrusted" in refused(caplog, wf.validate, foreign, **pki.config(**BOTH))
    # koji may not publish on bodhi's topic.
    koji = peer(
        fedmsg_python, "sign", message(), pki.config(certname=KOJI, **X509)
    )["result"]
    assert "routing-policy" in refused(caplog, wf.validate, koji, **pki.config(**BOTH))
    assert wf.validate(koji, **pki.config(routing_policy={}, **BOTH)) is True


# --- waxseal signs (x509 wire), fedmsg validates ---------------------------------------


def test_waxseal_x509_messages_validate_in_fedmsg(pki, fedmsg_python):
    m = message()
    ours = wf.sign(m, **pki.config(**X509))
    assert "crypto" not in m and "signature" not in m, "the input is not modified"
    assert peer(fedmsg_python, "validate", ours, pki.config(**X509))["result"] is True
    assert (
        peer(fedmsg_python, "validate_signed_by", ours, pki.config(**X509), BODHI)[
            "result"
        ]
        is True
    )
    assert (
        peer(fedmsg_python, "validate_signed_by", ours, pki.config(**X509), KOJI)[
            "result"
        ]
        is False
    )
    # PKCS #1 v1.5 is deterministic: fedmsg signing the same message with the same key
    # writes exactly what waxseal wrote.
    theirs = peer(fedmsg_python, "sign", m, pki.config(**X509))["result"]
    assert theirs == ours


def test_fedmsg_refuses_tampered_revoked_and_unauthorized_waxseal_messages(
    pki, fedmsg_python
):
    ours = wf.sign(message(), **pki.config(**X509))
    reply = peer(fedmsg_python, "validate", tampered(ours), pki.config(**X509))
    assert reply["result"] is False
    assert "invalid signature" in reply["log"]
    revoked = wf.sign(
        message(), **pki.config(ssldir=pki.revoked_ssldir, certname=REVOKED, **X509)
    )
    reply = peer(fedmsg_python, "validate", revoked, pki.config(**X509))
    assert reply["result"] is False
    assert "revoked" in reply["log"]
    koji = wf.sign(message(), **pki.config(certname=KOJI, **X509))
    reply = peer(fedmsg_python, "validate", koji, pki.config(**X509))
    assert reply["result"] is False
    assert "routing_policy" in reply["log"]
    # fedmsg 1.x cannot read waxseal's envelope: a mixed fleet publishes x509 until
    # every consumer runs waxseal.
    cms = wf.sign(message(), **pki.config())
    assert cms["crypto"] == "cms"
    assert peer(fedmsg_python, "validate", cms, pki.config(**X509))["result"] is False


# --- the cms wire: routing policy -------------------------------------------------------


def test_cms_messages_validate_under_the_routing_policy(pki, caplog):
    config = pki.config()
    m = wf.sign(message(), **config)
    assert m["crypto"] == "cms"
    assert wf.validate(m, **config) is True
    # Asked twice, or by a second consumer of the same hub: the same answer.
    assert wf.validate(m, **config) is True
    assert wf.validate_signed_by(m, BODHI, **config) is True
    assert "routing-policy" in refused(caplog, wf.validate_signed_by, m, KOJI, **config)
    assert "message-digest-mismatch" in refused(caplog, wf.validate, tampered(m), **config)
    # Denied: koji on bodhi's topic.
    koji = wf.sign(message(), **pki.config(certname=KOJI))
    assert "routing-policy" in refused(caplog, wf.validate, koji, **config)
    # A topic the policy does not list: allowed, unless routing_nitpicky.
    unlisted = wf.sign(message(UNLISTED_TOPIC), **config)
    assert wf.validate(unlisted, **config) is True
    assert "topic-not-in-policy" in refused(
        caplog, wf.validate, unlisted, **pki.config(routing_nitpicky=True)
    )
    # An x509 message is not a cms one: refused unless x509 is accepted.
    x509 = wf.sign(message(), **pki.config(crypto_backend="x509"))
    assert "not accepted" in refused(caplog, wf.validate, x509, **config)
    assert wf.validate(x509, **pki.config(**BOTH)) is True


def test_cms_revoked_untrusted_and_unsigned_are_refused(pki, other_pki, caplog):
    config = pki.config()
    revoked = wf.sign(message(), **pki.config(ssldir=pki.revoked_ssldir, certname=REVOKED))
    assert "revoked" in refused(caplog, wf.validate, revoked, **config)
    foreign = wf.sign(message(), **other_pki.config())
    assert "untrusted" in refused(caplog, wf.validate, foreign, **config)
    assert "unsigned" in refused(caplog, wf.validate, message(), **config)
    # Credentials moved onto another message.
    m = wf.sign(message(), **config)
    moved = dict(message(), crypto="cms", signature=m["signature"], certificate=m["certificate"])
    assert "message-digest-mismatch" in refused(caplog, wf.validate, moved, **config)


def test_a_new_crl_counts_at_once(tmp_path, waxseal_bin, fedmsg_python, caplog):
    """A running fedmsg keeps the CRL it loaded until some validation fails, so it keeps
    accepting a signer revoked since; waxseal.fedmsg re-reads a CRL file that changed,
    so a revocation counts from the next message on."""
    p = SingleTierPki(waxseal_bin, tmp_path / "pki").init(BODHI)
    cms = wf.sign(message(), **p.config())
    x509 = peer(fedmsg_python, "sign", message(), p.config(**X509))["result"]
    later = peer(fedmsg_python, "sign", message(), p.config(**X509))["result"]
    assert wf.validate(cms, **p.config()) is True
    assert wf.validate(x509, **p.config(**BOTH)) is True
    with Peer(fedmsg_python) as consumer:
        assert consumer.call("validate", x509, p.config(**X509))["result"] is True
        p.revoke(BODHI)
        # fedmsg 1.1.7, measured: still accepted by the running consumer.
        assert consumer.call("validate", later, p.config(**X509))["result"] is True
    assert "revoked" in refused(caplog, wf.validate, cms, **p.config())
    assert "revoked" in refused(caplog, wf.validate, later, **p.config(**BOTH))
    # A fresh fedmsg process reads the new CRL.
    assert peer(fedmsg_python, "validate", later, p.config(**X509))["result"] is False


# --- one bus per configuration, kept between validations ------------------------------


def test_one_bus_per_configuration_and_a_new_crl_refuses_the_next_validation(
    tmp_path, waxseal_bin, fedmsg_python, caplog
):
    """validate keeps the bus of a configuration (a validation costs one verification: the
    signer's path comes from the bus's cache), and a CRL file that newly revokes the
    signer refuses the very next validation through that same bus."""
    p = SingleTierPki(waxseal_bin, tmp_path / "pki").init(BODHI, KOJI)
    config = p.config(**BOTH)
    with Peer(fedmsg_python) as fm:
        x509 = [fm.call("sign", message(), p.config(**X509))["result"] for _ in range(4)]
        koji = fm.call("sign", message(KOJI_TOPIC), p.config(certname=KOJI, **X509))["result"]
    cms = [wf.sign(message(), **p.config()) for _ in range(2)]
    assert all(wf.validate(m, **config) for m in x509[:2] + cms[:1] + [koji])
    bus = wf._validating_bus(config)
    hits = bus.cache_stats()["path_hits"]
    assert wf.validate(x509[2], **config) is True
    assert wf._validating_bus(p.config(**BOTH)) is bus, "an equal configuration, one bus"
    assert bus.cache_stats()["path_hits"] > hits, "the path came from the kept bus"
    p.revoke(BODHI)
    assert "revoked" in refused(caplog, wf.validate, x509[3], **config)
    assert "revoked" in refused(caplog, wf.validate, cms[1], **config)
    assert "revoked" in refused(caplog, wf.validate_signed_by, x509[0], BODHI, **config)
    assert wf._validating_bus(config) is bus, "refused by the same bus, not a new one"
    # The twin: the CRL revokes bodhi only.
    assert wf.validate(koji, **config) is True
    assert wf.validate_signed_by(koji, KOJI, **config) is True


def test_a_changed_routing_policy_is_honoured(pki, fedmsg_python, caplog):
    """The routing policy is part of what picks the bus: the same dict changed between
    calls (or another one) gets the bus of its new content, as fedmsg 1.1.7 reads the
    policy on every call."""
    config = pki.config(**BOTH)
    policy = config["routing_policy"]
    with Peer(fedmsg_python) as fm:
        signed = fm.call("sign", message(), pki.config(**X509))["result"]
        unlisted = fm.call("sign", message(UNLISTED_TOPIC), pki.config(**X509))["result"]
        assert wf.validate(signed, **config) is True
        first = wf._validating_bus(config)
        policy[BODHI_TOPIC] = [KOJI]
        assert "routing-policy-denied" in refused(caplog, wf.validate, signed, **config)
        assert wf._validating_bus(config) is not first
        x509_config = dict(pki.config(**X509), routing_policy=policy)
        assert fm.call("validate", signed, x509_config)["result"] is False
        # Nitpicky: a topic the policy does not list is refused; not nitpicky, allowed.
        assert wf.validate(unlisted, **config) is True
        assert "topic-not-in-policy" in refused(
            caplog, wf.validate, unlisted, **dict(config, routing_nitpicky=True)
        )
        assert fm.call(
            "validate", unlisted, dict(x509_config, routing_nitpicky=True)
        )["result"] is False
        # Back as it was: accepted again, by the bus kept for that content.
        policy[BODHI_TOPIC] = [BODHI]
        assert wf.validate(signed, **config) is True
        assert wf._validating_bus(config) is first


def test_a_ca_file_replaced_by_another_ca_refuses(pki, other_pki, tmp_path, caplog):
    """The CA (and CRL) files replaced under a kept bus: the next validation trusts the
    new CA only."""
    ca = tmp_path / "ca.pem"
    crl = tmp_path / "crl.pem"
    shutil.copy(pki.dir / "root-ca.crt", ca)
    shutil.copy(pki.dir / "crl.pem", crl)
    config = pki.config(ca_cert_location=str(ca), crl_location=str(crl), **BOTH)
    ours = wf.sign(message(), **pki.config(**X509))
    ours_cms = wf.sign(message(), **pki.config())
    theirs = wf.sign(message(), **other_pki.config(**X509))
    assert wf.validate(ours, **config) is True
    assert wf.validate(ours_cms, **config) is True
    assert "untrusted" in refused(caplog, wf.validate, theirs, **config)
    bus = wf._validating_bus(config)

    def replace(path, source):
        new = path.with_name(path.name + ".new")
        shutil.copy(source, new)
        os.replace(new, path)

    replace(ca, other_pki.dir / "root-ca.crt")
    replace(crl, other_pki.dir / "crl.pem")
    assert "untrusted" in refused(caplog, wf.validate, ours, **config)
    assert "untrusted" in refused(caplog, wf.validate, ours_cms, **config)
    assert wf.validate(theirs, **config) is True
    assert wf._validating_bus(config) is bus
    # Only the CA replaced back, the other CA's CRL left: no CRL of the signer's CA, so
    # its revocation status is unknown: refused.
    replace(ca, pki.dir / "root-ca.crt")
    assert "revocation-unknown" in refused(caplog, wf.validate, ours, **config)
    replace(crl, pki.dir / "crl.pem")
    assert wf.validate(ours, **config) is True


def test_threads_share_the_kept_bus(pki, caplog):
    """Validations from several threads at once, through one kept bus: every good message
    accepted, every tampered one refused."""
    config = pki.config(**BOTH)
    good = [wf.sign(message(), **pki.config(**X509)) for _ in range(6)]
    good += [wf.sign(message(), **pki.config()) for _ in range(6)]
    bad = [tampered(m) for m in good]
    with caplog.at_level(logging.CRITICAL, logger="waxseal.fedmsg"):
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda m: wf.validate(m, **config), (good + bad) * 5))
    assert results == ([True] * len(good) + [False] * len(bad)) * 5
    assert sum(1 for s in wf._buses if s == wf._settings(config)) == 1


def test_the_kept_buses_are_bounded(pki, caplog):
    """At most BUS_CACHE_SIZE configurations keep a bus; one dropped is built again when
    used, and still decides right."""
    signed = wf.sign(message(), **pki.config())
    configs = [
        pki.config(routing_policy={BODHI_TOPIC: [BODHI], "org.example.n%d" % i: [KOJI]})
        for i in range(wf.BUS_CACHE_SIZE + 4)
    ]
    for c in configs:
        assert wf.validate(signed, **c) is True
        assert len(wf._buses) <= wf.BUS_CACHE_SIZE
    assert wf._settings(configs[0]) not in wf._buses
    assert wf.validate(signed, **configs[0]) is True
    assert "routing-policy-denied" in refused(
        caplog, wf.validate_signed_by, signed, KOJI, **configs[0]
    )


# --- configuration ----------------------------------------------------------------------


def test_configuration_keys(pki, caplog, monkeypatch):
    # certnames with cert_prefix, as fedmsg.core picks the key pair.
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "app01.example.org")
    config = pki.config(certname=None, cert_prefix="bodhi", certnames={"bodhi.app01": BODHI})
    del config["certname"]
    m = wf.sign(message(), **config)
    assert wf.validate_signed_by(m, BODHI, **config) is True
    with pytest.raises(ValueError):
        wf.sign(message(), **pki.config(certname=None, ssldir=None))
    # Unknown backends are configuration errors, as in fedmsg.
    with pytest.raises(ValueError):
        wf.init(crypto_backend="gpg")
    with pytest.raises(ValueError):
        wf.init(crypto_validate_backends=["cms", "gpg"])
    # init's choice holds for calls that do not say.
    wf.init(crypto_backend="x509", crypto_validate_backends=["x509"])
    try:
        bare = pki.config()
        x = wf.sign(message(), **bare)
        assert x["crypto"] == "x509"
        assert wf.validate(x, **bare) is True
        assert "not accepted" in refused(caplog, wf.validate, wf.sign(message(), **pki.config(crypto_backend="cms")), **bare)
    finally:
        wf.init()
    # No CA, a missing file, a CRL URL with nothing behind it: refused and logged.
    assert "nothing to trust" in refused(
        caplog, wf.validate, m, **pki.config(ca_cert_location=None)
    )
    assert "no such file" in refused(
        caplog, wf.validate, m, **pki.config(crl_location=str(pki.dir / "gone.pem"))
    )
    assert "crl-unavailable" in refused(
        caplog, wf.validate, m, **pki.config(crl_location="http://127.0.0.1:1/crl.pem")
    )


def test_validate_signatures_in_the_config_is_not_read(pki, fedmsg_python, caplog):
    """fedmsg's validate_signatures is the hub's and each consumer's switch for whether to
    validate; fedmsg.crypto.validate does not read it (shown against fedmsg 1.1.7), so a
    consumer that validates on a hub whose configuration says False still refuses a
    forgery."""
    hub = pki.config(validate_signatures=False, **BOTH)
    good = wf.sign(message(), **pki.config())
    assert wf.validate(good, **hub) is True
    assert wf.validate_signed_by(good, BODHI, **hub) is True
    assert "message-digest-mismatch" in refused(caplog, wf.validate, tampered(good), **hub)
    assert "unsigned" in refused(caplog, wf.validate, message(), **hub)
    assert "routing-policy" in refused(caplog, wf.validate_signed_by, good, KOJI, **hub)
    moved = dict(message(), crypto="cms", signature=good["signature"],
                 certificate=good["certificate"])
    assert "message-digest-mismatch" in refused(caplog, wf.validate, moved, **hub)
    # The x509 wire, and fedmsg itself under the same configuration.
    x509_hub = pki.config(validate_signatures=False, **X509)
    signed = peer(fedmsg_python, "sign", message(), pki.config(**X509))["result"]
    assert wf.validate(signed, **hub) is True
    assert peer(fedmsg_python, "validate", signed, x509_hub)["result"] is True
    forged = tampered(signed)
    assert "bad-signature" in refused(caplog, wf.validate, forged, **hub)
    assert peer(fedmsg_python, "validate", forged, x509_hub)["result"] is False
    assert "validate_signatures" not in refused(caplog, wf.validate, forged, **hub)


def test_validate_returns_false_for_anything_a_message_can_hold(pki, caplog):
    """validate never raises: every kind of garbage gives False, with the reason logged."""
    config = pki.config(**BOTH)
    good = wf.sign(message(), **pki.config())
    x509 = wf.sign(message(), **pki.config(**X509))
    deep = []
    for _ in range(200000):
        deep = [deep]
    circular = message()
    circular["msg"]["self"] = circular
    not_pem = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    huge = "A" * (4 << 20)
    garbage = [
        None, 1, 1.5, "a string", b"bytes", ["a", "list"], ("a", "tuple"), {"a", "set"},
        {},
        dict(good, crypto=None, signature=None),
        dict(good, crypto=["cms"]),
        dict(good, crypto={"cms": 1}),
        dict(good, crypto=7),
        dict(good, signature=1),
        dict(good, signature=["x"]),
        dict(good, signature=None),
        dict(good, certificate={"pem": 1}),
        dict(good, signature="!!not base64!!"),
        dict(good, signature=huge),
        dict(good, certificate=huge),
        dict(good, msg={"big": huge}),
        dict(good, certificate=not_pem.decode()),
        dict(good, topic=None),
        dict(good, topic=["a"]),
        dict(good, topic="a" * (1 << 20)),
        dict(good, msg_id=10 ** 5000),
        dict(good, msg={"n": 10 ** 5000}),
        dict(good, msg={"n": float("nan")}),
        dict(good, msg={"n": float("inf")}),
        dict(good, msg={1: "int key"}),
        dict(good, msg={(1, 2): "tuple key"}),
        dict(good, msg={"b": b"\xff"}),
        dict(good, msg={"o": object()}),
        dict(good, msg=deep),
        circular,
        dict(good, msg={"s": "\ud800"}),
        dict(good, msg={"\udc00": 1}),
        dict(x509, signature="@@@"),
        dict(x509, signature=2),
        dict(x509, signature=b"\xff\xfe"),
        dict(x509, certificate=not_pem.decode()),
        dict(x509, certificate=base64.b64encode(b"not a certificate").decode()),
        dict(x509, certificate=huge),
        dict(x509, signature=huge),
        dict(x509, msg={"s": "\ud800"}),
        dict(x509, topic={"t": 1}),
        dict(x509, msg={"n": 10 ** 5000}),
        dict(x509, msg=deep),
    ]
    for bad in garbage:
        refused(caplog, wf.validate, bad, **config)
        refused(caplog, wf.validate_signed_by, bad, BODHI, **config)
    # The signer to require must be a name.
    for signer in (None, 1, ["bodhi"], "\ud800"):
        refused(caplog, wf.validate_signed_by, good, signer, **config)
    # The positive twins: the untouched messages pass.
    assert wf.validate(good, **config) is True
    assert wf.validate(x509, **config) is True


def test_lone_surrogates_are_refused_and_pairs_sign_and_validate(pki, fedmsg_python, caplog):
    """I-JSON strings (RFC 7493 section 2.1): a message signed with U+FFFD, the escape
    swapped for a lone surrogate, is refused (Python's json reads another string than the
    one signed); sign refuses one; an escaped surrogate pair signs and validates, and
    Python's json reads it as the same character."""
    config = pki.config(**BOTH)
    for wire in ({}, X509):
        good = wf.sign(message(text="\ufffd here"), **pki.config(**wire))
        assert wf.validate(good, **config) is True
        text = json.dumps(good)
        assert "\\ufffd" in text
        forged = json.loads(text.replace("\\ufffd", "\\ud800"))
        assert forged["msg"]["text"] == "\ud800 here"
        assert "malformed-json" in refused(caplog, wf.validate, forged, **config)
        for lone in ("\ud800", "\udc00", "a\ud83d"):
            with pytest.raises(waxseal.Rejected) as e:
                wf.sign(message(text=lone), **pki.config(**wire))
            assert e.value.code == "malformed-json" and e.value.stage == "format"
        with pytest.raises(waxseal.Rejected):
            wf.sign(message(**{"\ud800": "in a key"}), **pki.config(**wire))
        # A pair, as the wire escapes it: the character U+1F600.
        smiley = json.loads('"\\ud83d\\ude00"')
        assert smiley == "\U0001F600"
        signed = wf.sign(message(text=smiley), **pki.config(**wire))
        wire_text = json.dumps(signed)
        assert "\\ud83d\\ude00" in wire_text
        received = json.loads(wire_text)
        assert received["msg"]["text"] == smiley
        assert wf.validate(received, **config) is True
        tampered_pair = json.loads(wire_text.replace("\\ude00", "\\ude01"))
        refused(caplog, wf.validate, tampered_pair, **config)
        # Two surrogate code points in a str are not the character (json writes them as
        # the pair, which reads back as U+1F600): refused.
        with pytest.raises(waxseal.Rejected):
            wf.sign(message(text="\ud83d\ude00"), **pki.config(**wire))
    # fedmsg 1.1.7 signs a lone surrogate; waxseal refuses the message, fedmsg accepts it.
    theirs = peer(fedmsg_python, "sign", message(text="\ud800"), pki.config(**X509))["result"]
    assert peer(fedmsg_python, "validate", theirs, pki.config(**X509))["result"] is True
    assert "malformed-json" in refused(caplog, wf.validate, theirs, **config)
    pair = peer(fedmsg_python, "sign", message(text=smiley), pki.config(**X509))["result"]
    assert wf.validate(pair, **config) is True
    assert pair == wf.sign(message_like(pair), **pki.config(**X509))


def message_like(signed):
    """``signed`` without its credentials and crypto (to sign it again)."""
    m = dict(signed)
    for k in ("signature", "certificate", "crypto"):
        m.pop(k, None)
    return m


def test_bad_messages_return_false_and_logs_are_escaped(pki, caplog):
    config = pki.config(**BOTH)
    for bad in (
        "not a dict",
        {"topic": BODHI_TOPIC, "crypto": "cms", "signature": 1, "certificate": 2},
        {"topic": BODHI_TOPIC, "crypto": "x509", "signature": "!!", "certificate": "@@"},
        {"topic": BODHI_TOPIC, "crypto": "gpg", "signature": "x"},
        {"topic": BODHI_TOPIC, "crypto": "rot13", "signature": "x", "certificate": "y"},
        {"topic": BODHI_TOPIC, "signature": "x"},
    ):
        refused(caplog, wf.validate, bad, **config)
    evil = wf.sign(message(), **pki.config())
    evil["topic"] = "org.example\nFAKE LOG LINE: accepted"
    why = refused(caplog, wf.validate, evil, **config)
    assert "\n" not in why and "\\n" in why


def test_strip_credentials():
    m = {"topic": "t", "msg": {}, "crypto": "x509", "signature": "s", "certificate": "c"}
    stripped = wf.strip_credentials(m)
    assert stripped == {"topic": "t", "msg": {}, "crypto": "x509"}
    assert "signature" in m, "the original is not modified"
    text = b'{"topic": "t", "n": 1.0, "signature": "s", "certificate": "c"}'
    out = wf.strip_credentials(text)
    assert json.loads(out) == {"topic": "t", "n": 1.0}
    assert b"1.0" in out, "numbers are kept as written"


def test_legacy_bindings_need_the_opt_in(pki, tmp_path, waxseal_bin):
    signer = waxseal.Signer(str(pki.dir / f"{BODHI}.crt"), str(pki.dir / f"{BODHI}.key"))
    with pytest.raises(ValueError):
        signer.sign_legacy_rsa_sha1(b"data")
    sig = signer.sign_legacy_rsa_sha1(b'{"topic":"t"}', legacy_sha1=True)
    assert len(sig) == 256
    bus_file = tmp_path / "bus.json"
    bus_file.write_text(json.dumps({"trust": [str(pki.dir / "root-ca.crt")]}))
    bus = waxseal.Bus(str(bus_file))
    cert = (pki.dir / f"{BODHI}.crt").read_bytes()
    with pytest.raises(ValueError):
        bus.validate_legacy_x509(b'{"topic":"t"}', sig, cert)
    report = bus.validate_legacy_x509(b'{"topic":"t"}', sig, cert, legacy_sha1=True)
    assert report["signed"] is True and report["entity"]["id"] == BODHI
    # The report as serde writes it: sorted keys, the entity twice, a decision's rule null.
    assert list(report) == ["authorization", "entity", "note", "signed", "signer"]
    assert list(report["authorization"]) == ["allowed", "decisions", "entity"]
    assert report["authorization"]["entity"] == report["entity"]
    assert list(report["entity"]) == ["fields", "id"]
    assert [list(d) for d in report["authorization"]["decisions"]] == [
        ["allowed", "code", "reason", "rule"]
    ] * len(report["authorization"]["decisions"])
    assert report["signer"] == "CN=" + BODHI and report["note"].startswith("signed by CN=")
    off = tmp_path / "off.json"
    off.write_text(json.dumps({"validate_signatures": False}))
    report = waxseal.Bus(str(off)).validate_legacy_x509(b'{"topic":"u"}', sig, cert, legacy_sha1=True)
    assert report == {
        "note": "validation is switched off (validate_signatures: false)",
        "signed": False,
    } and list(report) == ["note", "signed"]
    with pytest.raises(waxseal.Rejected) as e:
        bus.validate_legacy_x509(b'{"topic":"u"}', sig, cert, legacy_sha1=True)
    assert e.value.code == "bad-signature" and e.value.stage == "signature"
    # RSA only: an ECDSA key cannot sign fedmsg's wire.
    ec = SingleTierPki(waxseal_bin, tmp_path / "ec")
    ec.run("init", "--single-tier", "--algorithm", "p256")
    ec.run("issue", BODHI)
    ec_signer = waxseal.Signer(str(ec.dir / f"{BODHI}.crt"), str(ec.dir / f"{BODHI}.key"))
    with pytest.raises(ValueError):
        ec_signer.sign_legacy_rsa_sha1(b"data", legacy_sha1=True)
