"""Fixtures for the oslo.messaging driver tests (helpers in oslo_support.py).

The broker: ``AMQP_ADDR`` (``amqp://guest:guest@127.0.0.1:5673/%2f``) or
``WAXSEAL_AMQP_PORT`` (guest on 127.0.0.1). Without either, the broker tests are skipped
with a message saying so, unless ``WAXSEAL_REQUIRE_BROKER=1`` (CI), which makes that a
failure. The ``waxseal`` command (for the PKI): the ``waxseal_bin`` fixture of
``tests/conftest.py`` (``WAXSEAL_BIN``, or this repository's target directory).
"""

import os
import shutil
import subprocess
import urllib.parse
import uuid

import pytest

from .oslo_support import NAMES, Broker, Peer, write_policy


@pytest.fixture(scope="session")
def broker():
    addr = os.environ.get("AMQP_ADDR")
    port = os.environ.get("WAXSEAL_AMQP_PORT")
    if addr:
        u = urllib.parse.urlsplit(addr)
        vhost = urllib.parse.unquote(u.path[1:]) if u.path else "/"
        b = Broker(
            u.hostname or "127.0.0.1",
            u.port or 5672,
            urllib.parse.unquote(u.username or "guest"),
            urllib.parse.unquote(u.password or "guest"),
            vhost or "/",
        )
    elif port:
        b = Broker("127.0.0.1", int(port), "guest", "guest", "/")
    else:
        message = (
            "no RabbitMQ: set AMQP_ADDR (amqp://guest:guest@127.0.0.1:PORT/%2f) or "
            "WAXSEAL_AMQP_PORT to a running broker (scripts/broker.sh starts one)"
        )
        if os.environ.get("WAXSEAL_REQUIRE_BROKER") == "1":
            pytest.fail(message + "; WAXSEAL_REQUIRE_BROKER=1 forbids skipping")
        pytest.skip(message)
    with b.connection() as conn:
        conn.connect()  # a broker that was named but is not there is a failure, not a skip
    return b


@pytest.fixture(scope="session")
def oslo_pki(tmp_path_factory, waxseal_bin):
    """A PKI (root CA, signing CA, CRL) and a certificate per name in NAMES."""
    d = tmp_path_factory.mktemp("pki") / "pki"
    subprocess.run(
        [str(waxseal_bin), "pki", "init", "--dir", str(d)], check=True, capture_output=True
    )
    subprocess.run(
        [str(waxseal_bin), "pki", "issue", "--dir", str(d), *NAMES.values()],
        check=True,
        capture_output=True,
    )
    # keep the revoked name's certificate and key (revoking archives them)
    kept = d.parent / "kept"
    kept.mkdir()
    for ext in (".crt", ".key"):
        shutil.copy2(d / (NAMES["revoked"] + ext), kept / (NAMES["revoked"] + ext))
    subprocess.run(
        [
            str(waxseal_bin),
            "pki",
            "revoke",
            "--dir",
            str(d),
            "--reason",
            "keyCompromise",
            NAMES["revoked"],
        ],
        check=True,
        capture_output=True,
    )
    paths = {
        "dir": d,
        "root": d / "root-ca.crt",
        "chain": d / "signing-ca.crt",
        "crl": d / "crl.pem",
    }
    for role, name in NAMES.items():
        home = kept if role == "revoked" else d
        paths[role] = (home / (name + ".crt"), home / (name + ".key"))
    return paths


@pytest.fixture(scope="session")
def policy(tmp_path_factory):
    return write_policy(tmp_path_factory.mktemp("policy") / "bus.json")


@pytest.fixture
def peers(tmp_path):
    """Starts peers in ``tmp_path``; kills any still running at the end."""
    started = []

    def start(name, mode, conf, *args):
        p = Peer(tmp_path, name, mode, conf, *args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


@pytest.fixture
def topic():
    """A fresh RPC topic (``waxtest.<hex>``) so tests do not share queues."""
    return "waxtest.t" + uuid.uuid4().hex[:12]
