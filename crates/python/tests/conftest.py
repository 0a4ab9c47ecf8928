"""Fixtures: a PKI made at test time with the ``waxseal`` command.

The command is ``$WAXSEAL_BIN`` when set; otherwise ``waxseal`` from the workspace's
target directory (``$CARGO_TARGET_DIR`` or ``target/``, debug then release), built with
``cargo build -p waxseal-cli`` when it is not there; otherwise ``waxseal`` on ``PATH``.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import waxseal

REPO = Path(__file__).resolve().parents[3]

# The names the session PKI issues (SERVICE-FQDN: entity service, host).
BODHI = "bodhi-app01.example.org"
COMPUTE = "compute-node01.example.org"
CONDUCTOR = "conductor-ctl01.example.org"
SCHEDULER = "scheduler-sch01.example.org"
REVOKED = "fas-app02.example.org"


def _target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")


def _find_waxseal():
    env = os.environ.get("WAXSEAL_BIN")
    if env:
        return env
    for profile in ("debug", "release"):
        candidate = _target_dir() / profile / "waxseal"
        if candidate.is_file():
            return str(candidate)
    if shutil.which("cargo") and (REPO / "Cargo.toml").is_file():
        subprocess.run(
            ["cargo", "build", "-q", "-p", "waxseal-cli"], cwd=REPO, check=True
        )
        return str(_target_dir() / "debug" / "waxseal")
    found = shutil.which("waxseal")
    if found:
        return found
    pytest.exit("no waxseal command: set WAXSEAL_BIN or run cargo build -p waxseal-cli")


@pytest.fixture(scope="session")
def waxseal_bin():
    return _find_waxseal()


class Pki:
    """A PKI directory made by ``waxseal pki``."""

    def __init__(self, binary, root):
        self.binary = binary
        self.dir = root

    def run(self, *args):
        subprocess.run(
            [self.binary, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self, *names, seed=None):
        args = ["pki", "init", "--dir", str(self.dir)]
        if seed:
            self.dir.parent.mkdir(parents=True, exist_ok=True)
            seed_file = self.dir.parent / "seed.json"
            seed_file.write_text(json.dumps(seed))
            args += ["--seed", str(seed_file)]
        self.run(*args)
        if names:
            self.run("pki", "issue", "--dir", str(self.dir), *names)
        return self

    def revoke(self, name):
        self.run("pki", "revoke", "--dir", str(self.dir), name)

    @property
    def root(self):
        return str(self.dir / "root-ca.crt")

    @property
    def intermediate(self):
        return str(self.dir / "signing-ca.crt")

    @property
    def crl(self):
        return str(self.dir / "crl.pem")

    def signer(self, name):
        return waxseal.Signer(
            str(self.dir / f"{name}.crt"),
            str(self.dir / f"{name}.key"),
            chain=self.intermediate,
        )

    def verifier(self, **kwargs):
        return waxseal.Verifier([self.root], certs=[self.intermediate], **kwargs)


@pytest.fixture(scope="session")
def pki(tmp_path_factory, waxseal_bin):
    p = Pki(waxseal_bin, tmp_path_factory.mktemp("pki") / "pki")
    p.init(BODHI, COMPUTE, CONDUCTOR, SCHEDULER, REVOKED)
    # Loaded before it is revoked (revocation archives the certificate and key).
    p.revoked_signer = p.signer(REVOKED)
    p.revoke(REVOKED)
    return p


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory, waxseal_bin):
    """A second, unrelated PKI (its CAs named differently): its certificates are untrusted
    by ``pki``'s verifiers."""
    p = Pki(waxseal_bin, tmp_path_factory.mktemp("other") / "pki")
    return p.init(BODHI, seed={"O": "Elsewhere"})


@pytest.fixture(scope="session")
def signers(pki):
    s = {n: pki.signer(n) for n in (BODHI, COMPUTE, CONDUCTOR, SCHEDULER)}
    s[REVOKED] = pki.revoked_signer
    return s


@pytest.fixture
def bus_config(pki, tmp_path):
    """Writes a bus configuration; returns a function of extra keys giving its path."""

    def write(**extra):
        config = {
            "trust": [pki.root],
            "certs": [pki.intermediate],
            "crls": [pki.crl],
            "routing_policy": {
                "org.example.prod.bodhi.#": ["bodhi-*"],
                "scheduler": ["compute-*"],
                "scheduler.*": ["compute-*"],
            },
            "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}],
            "freshness": {"max_age_secs": 600},
        }
        config.update(extra)
        path = tmp_path / "bus.json"
        path.write_text(json.dumps(config))
        return str(path)

    return write


@pytest.fixture
def bus(bus_config):
    return waxseal.Bus(bus_config())
