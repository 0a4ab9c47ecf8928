"""Bus with ``tsa_url``: every signature it makes is time-stamped at a real TSA
(``scripts/openssl-tsa``, ``openssl ts -reply`` over HTTP), each reply verified against
``tsa_trust`` first; a bus with ``at_timestamp`` validates the stamped messages. Twins: a
TSA not trusted (``timestamp-untrusted``), a TSA down (``tsa-unavailable``, transient), no
``tsa_trust`` (a configuration error), a message signed without the TSA."""

import json
import subprocess
import sys
import time

import pytest

import waxseal
from conftest import COMPUTE, REPO

TOPIC = "org.example.prod.compute.ping"
RPC = '{"method": "select_destinations", "args": {"host": "node01.example.org"}}'


class Tsa:
    """``scripts/openssl-tsa`` in its own directory."""

    def __init__(self, d):
        self.dir = d / "tsa"
        port_file = d / "port"
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts/openssl-tsa"), "--dir", str(self.dir),
             "--port-file", str(port_file)])
        # The port file appears (renamed into place) once the TSA listens.
        while not port_file.exists():
            if self.proc.poll() is not None:
                pytest.fail("scripts/openssl-tsa exited: %s" % self.proc.returncode)
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%s/" % port_file.read_text().strip()
        self.root = str(self.dir / "root.pem")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


@pytest.fixture(scope="module")
def tsas(tmp_path_factory):
    started = [Tsa(tmp_path_factory.mktemp("tsa")), Tsa(tmp_path_factory.mktemp("other-tsa"))]
    yield started
    for t in started:
        t.stop()


def message(n):
    return json.dumps({"topic": TOPIC, "msg": {"n": n, "x": 1.0}}).encode()


def test_sign_with_tsa_url_is_stamped_and_validates_at_its_time_stamp(bus_config, signers, tsas):
    tsa, other = tsas
    signer = signers[COMPUTE]
    bus = waxseal.Bus(bus_config(tsa_url=tsa.url, tsa_trust=[tsa.root]))
    at_ts = waxseal.Bus(bus_config(tsa_trust=[tsa.root], at_timestamp=True))
    signed = bus.sign(message(1), signer)
    assert b'"x": 1.0' in signed
    assert at_ts.validate(signed, TOPIC)["entity"]["id"] == COMPUTE
    # Twins: the same message signed without the TSA; a verifier trusting another TSA.
    plain = waxseal.Bus(bus_config()).sign(message(2), signer)
    with pytest.raises(waxseal.Rejected) as info:
        at_ts.validate(plain, TOPIC)
    assert info.value.code == "timestamp-missing"
    other_ts = waxseal.Bus(bus_config(tsa_trust=[other.root], at_timestamp=True))
    with pytest.raises(waxseal.Rejected) as info:
        other_ts.validate(bus.sign(message(3), signer), TOPIC)
    assert info.value.code == "timestamp-untrusted"


def test_sign_oslo_and_oslo_signature_are_stamped(bus_config, signers, tsas):
    tsa, _ = tsas
    signer = signers[COMPUTE]
    bus = waxseal.Bus(bus_config(tsa_url=tsa.url, tsa_trust=[tsa.root]))
    at_ts = waxseal.Bus(bus_config(tsa_trust=[tsa.root], at_timestamp=True))
    signed = bus.sign_oslo(RPC.encode(), signer, topic="scheduler")
    assert at_ts.verify_oslo(signed, topic="scheduler")["hops"][0]["entity"] == COMPUTE
    text = RPC.replace("select", "select2")
    signature = bus.oslo_signature(text, signer, topic="scheduler")
    envelope = {"oslo.version": "2.0", "oslo.message": text, "oslo.signature": signature}
    assert at_ts.verify_oslo(json.dumps(envelope).encode(), topic="scheduler")["signed"]
    unstamped = waxseal.Bus(bus_config()).sign_oslo(RPC.encode(), signer, topic="scheduler")
    with pytest.raises(waxseal.Rejected) as info:
        at_ts.verify_oslo(unstamped, topic="scheduler")
    assert info.value.code == "timestamp-missing"


def test_a_tsa_not_trusted_or_down_fails_the_sign_call(bus_config, signers, tmp_path_factory):
    tsa = Tsa(tmp_path_factory.mktemp("tsa"))
    other = Tsa(tmp_path_factory.mktemp("other-tsa"))
    try:
        signer = signers[COMPUTE]
        untrusted = waxseal.Bus(bus_config(tsa_url=tsa.url, tsa_trust=[other.root]))
        for call in (lambda: untrusted.sign(message(4), signer),
                     lambda: untrusted.sign_oslo(RPC.encode(), signer, topic="scheduler"),
                     lambda: untrusted.oslo_signature(RPC, signer, topic="scheduler")):
            with pytest.raises(waxseal.Rejected) as info:
                call()
            assert info.value.code == "timestamp-untrusted"
            assert info.value.transient is False
        down = waxseal.Bus(bus_config(tsa_url=tsa.url, tsa_trust=[tsa.root]))
        down.sign(message(5), signer)
        tsa.stop()
        with pytest.raises(waxseal.Rejected) as info:
            down.sign(message(6), signer)
        assert info.value.code == "tsa-unavailable"
        assert info.value.transient is True
    finally:
        tsa.stop()
        other.stop()


def test_tsa_url_without_tsa_trust_is_a_config_error(bus_config):
    with pytest.raises(waxseal.ConfigError, match="tsa_trust"):
        waxseal.Bus(bus_config(tsa_url="http://127.0.0.1:9/"))
    with pytest.raises(waxseal.ConfigError, match="tsa_url"):
        waxseal.Bus(bus_config(tsa_url="ftp://tsa.example.org/", tsa_trust=["x.pem"]))
