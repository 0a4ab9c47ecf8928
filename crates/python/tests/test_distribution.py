"""CRLs published on a web server (a local http.server on 127.0.0.1): Bus, Verifier and
waxseal.fedmsg fetch them, cache them, pick up a republished CRL without a restart, keep a
current copy while the server is down, and refuse once nothing current can be had."""

import functools
import http.server
import json
import logging
import os
import socket
import threading
import time

import pytest

import waxseal
import waxseal.fedmsg as wf
from conftest import BODHI, Pki

TOPIC = "org.example.prod.bodhi.update.comment"


class _Handler(http.server.SimpleHTTPRequestHandler):
    down = False
    gets = 0

    def do_GET(self):
        type(self).gets += 1
        if type(self).down:
            self.send_error(503)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, waxseal_bin):
    """A fresh PKI whose directory is published over HTTP."""
    pki = Pki(waxseal_bin, tmp_path / "pki").init(BODHI)
    handler = type("Handler", (_Handler,), {"down": False, "gets": 0})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(pki.dir))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pki.url = "http://127.0.0.1:%d/crl.pem" % server.server_address[1]
    pki.handler = handler
    pki.signer_before = pki.signer(BODHI)
    yield pki
    server.shutdown()
    server.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def counter():
    n = 0
    while True:
        n += 1
        yield n


_n = counter()


def message():
    return json.dumps({"topic": TOPIC, "msg": {"n": next(_n)}}).encode()


def bus_config(pki, tmp_path, crl, **fetch):
    fetch.setdefault("cache_dir", str(tmp_path / "cache"))
    path = tmp_path / "bus.json"
    path.write_text(
        json.dumps(
            {
                "trust": [pki.root],
                "certs": [pki.intermediate],
                "crls": [crl],
                "fetch": fetch,
                "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
            }
        )
    )
    return str(path)


def past_the_crl():
    """An RFC 3339 time past the PKI's CRLs (valid 30 days) and within its certificates'
    lifetime."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 31 * 86400))


def test_bus_picks_up_a_republished_crl_without_restart(served, tmp_path):
    signer = served.signer_before
    bus = waxseal.Bus(bus_config(served, tmp_path, served.url, crl_cache_expiry_secs=0))
    assert bus.validate(bus.sign(message(), signer))["signed"]
    assert len(os.listdir(tmp_path / "cache")) == 1
    served.revoke(BODHI)
    # Validation refreshes in the background (never waiting for the network); an
    # operator's "refresh now" waits for it.
    assert bus.refresh_trust() is True
    with pytest.raises(waxseal.Rejected) as e:
        bus.validate(bus.sign(message(), signer))
    assert e.value.code == "revoked"


def test_cache_expiry_is_what_it_promises(served, tmp_path):
    signer = served.signer_before
    bus = waxseal.Bus(bus_config(served, tmp_path, served.url, crl_cache_expiry_secs=3600))
    bus.validate(bus.sign(message(), signer))
    served.revoke(BODHI)
    # Not expired, current: the cached copy is still used (what crl_cache_expiry_secs
    # promises, no more).
    assert bus.validate(bus.sign(message(), signer))["signed"]
    # A bus whose cache has expired fetches the republished CRL.
    fresh = waxseal.Bus(bus_config(served, tmp_path, served.url, crl_cache_expiry_secs=0))
    with pytest.raises(waxseal.Rejected) as e:
        fresh.validate(fresh.sign(message(), signer))
    assert e.value.code == "revoked"


def test_server_down_keeps_a_current_copy_then_fails_closed(served, tmp_path):
    signer = served.signer_before
    config = bus_config(served, tmp_path, served.url, crl_cache_expiry_secs=0)
    bus = waxseal.Bus(config)
    bus.validate(bus.sign(message(), signer))
    served.handler.down = True
    assert bus.validate(bus.sign(message(), signer))["signed"]
    # A restart while the server is down: from the disk cache.
    again = waxseal.Bus(config)
    assert again.validate(again.sign(message(), signer))["signed"]
    # Past the cached CRL's nextUpdate, the server still down: refused.
    late = waxseal.Bus(config, at=past_the_crl())
    with pytest.raises(waxseal.Rejected) as e:
        late.validate(late.sign(message(), signer))
    assert e.value.code == "crl-unavailable"


def test_timeout_is_honoured(served, tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = "http://127.0.0.1:%d/crl.pem" % silent.getsockname()[1]
        start = time.monotonic()
        bus = waxseal.Bus(bus_config(served, tmp_path, url, timeout_ms=300))
        with pytest.raises(waxseal.Rejected) as e:
            bus.validate(bus.sign(message(), served.signer_before))
        assert e.value.code == "crl-unavailable"
        assert time.monotonic() - start < 3
    finally:
        silent.close()


def test_verifier_fetches_once(served):
    verifier = waxseal.Verifier([served.root], certs=[served.intermediate], crls=[served.url])
    envelope = served.signer_before.sign(b"hello")
    verifier.verify(envelope)
    served.revoke(BODHI)
    # A snapshot: a new Verifier sees the new CRL.
    again = waxseal.Verifier([served.root], certs=[served.intermediate], crls=[served.url])
    with pytest.raises(waxseal.Rejected) as e:
        again.verify(envelope)
    assert e.value.code == "revoked"
    with pytest.raises(waxseal.ConfigError, match="crl-unavailable"):
        waxseal.Verifier(
            [served.root],
            crls=["http://127.0.0.1:%d/crl.pem" % closed_port()],
            fetch_timeout=0.5,
        )
    with pytest.raises(waxseal.ConfigError, match="plain http"):
        waxseal.Verifier([served.url.replace("crl.pem", "root-ca.crt")])


def test_fedmsg_crl_location_url(served, tmp_path, caplog):
    signer_dir = tmp_path / "ssl"
    signer_dir.mkdir()
    for ext in ("crt", "key"):
        src = served.dir / ("%s.%s" % (BODHI, ext))
        dst = signer_dir / ("%s.%s" % (BODHI, ext))
        dst.write_bytes(src.read_bytes())
        os.chmod(dst, 0o600)
    # The two-tier PKI: fedmsg trusts one CA; give it the chain through the bundle.
    bundle = tmp_path / "ca.pem"
    bundle.write_text(open(served.root).read() + open(served.intermediate).read())
    config = {
        "ssldir": str(signer_dir),
        "certname": BODHI,
        "ca_cert_location": str(bundle),
        "crl_location": served.url,
        "crl_cache": str(tmp_path / "fedmsg-cache" / "crl.pem"),
        "crl_cache_expiry": 0,
        "routing_policy": {TOPIC: [BODHI]},
    }
    signed = wf.sign({"topic": TOPIC, "msg": {"a": 1}}, **config)
    assert wf.validate(signed, **config) is True
    assert os.listdir(tmp_path / "fedmsg-cache")
    served.revoke(BODHI)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="waxseal.fedmsg"):
        assert wf.validate(wf.sign({"topic": TOPIC, "msg": {"a": 2}}, **config), **config) is False
    assert any("revoked" in r.getMessage() for r in caplog.records)
    # Nothing to fetch it from, nothing cached: refused and logged.
    other = dict(config, crl_location="http://127.0.0.1:%d/crl.pem" % closed_port(),
                 crl_cache=str(tmp_path / "empty" / "crl.pem"))
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="waxseal.fedmsg"):
        assert wf.validate(signed, **other) is False
    assert any("crl-unavailable" in r.getMessage() for r in caplog.records)


def test_fedmsg_crl_cache_is_the_file_that_holds_the_fetched_crl(served, tmp_path, caplog):
    """fedmsg's crl_cache names the file holding the fetched CRL: after each fetch it holds
    the CRL as served, byte for byte; while the server is down the copy kept is used (and
    the file keeps it); waxseal's own copy sits in a private directory beside it."""
    signer_dir = tmp_path / "ssl"
    signer_dir.mkdir()
    for ext in ("crt", "key"):
        dst = signer_dir / ("%s.%s" % (BODHI, ext))
        dst.write_bytes((served.dir / ("%s.%s" % (BODHI, ext))).read_bytes())
        os.chmod(dst, 0o600)
    bundle = tmp_path / "ca.pem"
    bundle.write_text(open(served.root).read() + open(served.intermediate).read())
    crl_cache = tmp_path / "run" / "crl.pem"
    config = {
        "ssldir": str(signer_dir),
        "certname": BODHI,
        "ca_cert_location": str(bundle),
        "crl_location": served.url,
        "crl_cache": str(crl_cache),
        "crl_cache_expiry": 0,
        "routing_policy": {TOPIC: [BODHI]},
    }
    signed = wf.sign({"topic": TOPIC, "msg": {"a": 1}}, **config)
    assert not crl_cache.exists()
    assert wf.validate(signed, **config) is True
    assert crl_cache.read_bytes() == (served.dir / "crl.pem").read_bytes()
    private = tmp_path / "run" / ".crl.pem.waxseal"
    assert private.is_dir() and os.stat(private).st_mode & 0o077 == 0
    # Republished: fetched again (expiry 0), and the file follows.
    served.revoke(BODHI)
    assert wf.validate(wf.sign({"topic": TOPIC, "msg": {"a": 2}}, **config), **config) is False
    assert crl_cache.read_bytes() == (served.dir / "crl.pem").read_bytes()
    revoked_crl = crl_cache.read_bytes()
    # The server down: the current copy kept is used; the file still holds it.
    served.handler.down = True
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="waxseal.fedmsg"):
        assert wf.validate(signed, **config) is False
    assert any("revoked" in r.getMessage() for r in caplog.records)
    assert crl_cache.read_bytes() == revoked_crl
    # A cache directory others may write is not trusted: refused, and said why.
    other = tmp_path / "shared" / "crl.pem"
    (tmp_path / "shared" / ".crl.pem.waxseal").mkdir(parents=True)
    os.chmod(tmp_path / "shared" / ".crl.pem.waxseal", 0o777)
    served.handler.down = False
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="waxseal.fedmsg"):
        assert wf.validate(signed, **dict(config, crl_cache=str(other))) is False
    assert any("only it may write" in r.getMessage() for r in caplog.records)
    assert not other.exists()


def test_fedmsg_url_crl_is_fetched_again_at_crl_cache_expiry_not_every_validation(
    served, tmp_path, caplog
):
    """The kept bus fetches a CRL URL once, then again only when the copy is
    crl_cache_expiry old (that validation waits for the fetch): a revocation published on
    the server counts within crl_cache_expiry; the crl_cache file follows each fetch."""
    signer_dir = tmp_path / "ssl"
    signer_dir.mkdir()
    for ext in ("crt", "key"):
        dst = signer_dir / ("%s.%s" % (BODHI, ext))
        dst.write_bytes((served.dir / ("%s.%s" % (BODHI, ext))).read_bytes())
        os.chmod(dst, 0o600)
    bundle = tmp_path / "ca.pem"
    bundle.write_text(open(served.root).read() + open(served.intermediate).read())
    crl_cache = tmp_path / "run" / "crl.pem"
    config = {
        "ssldir": str(signer_dir),
        "certname": BODHI,
        "ca_cert_location": str(bundle),
        "crl_location": served.url,
        "crl_cache": str(crl_cache),
        "crl_cache_expiry": 1,
        "routing_policy": {TOPIC: [BODHI]},
    }
    signed = [wf.sign({"topic": TOPIC, "msg": {"a": n}}, **config) for n in range(5)]
    for m in signed[:3]:
        assert wf.validate(m, **config) is True
    assert served.handler.gets == 1, "fetched once, not for every validation"
    assert crl_cache.read_bytes() == (served.dir / "crl.pem").read_bytes()
    served.revoke(BODHI)
    time.sleep(1.2)  # past crl_cache_expiry
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="waxseal.fedmsg"):
        assert wf.validate(signed[3], **config) is False
    assert any("revoked" in r.getMessage() for r in caplog.records)
    assert served.handler.gets >= 2
    assert crl_cache.read_bytes() == (served.dir / "crl.pem").read_bytes()
    # Another configuration (another routing policy) builds a bus of its own, which
    # reads the revoking CRL from the start.
    other = dict(config, routing_policy={TOPIC: [BODHI, "koji-app03.example.org"]})
    assert wf.validate(signed[4], **other) is False
