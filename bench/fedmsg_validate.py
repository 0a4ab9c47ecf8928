#!/usr/bin/env python3
"""waxseal.fedmsg.validate against fedmsg 1.1.7's fedmsg.crypto.validate, one process.

    python bench/fedmsg_validate.py [--messages N] [--rounds R]

Needs, in the running interpreter: the `waxseal` package (`pip install ./crates/python`)
and fedmsg 1.1.7 with the versions it runs with (`pip install fedmsg==1.1.7
pyOpenSSL==24.2.1 cryptography==43.0.3`); and the `waxseal` command (`$WAXSEAL_BIN`, else
the workspace's target/{release,debug}/waxseal: `cargo build --release -p waxseal-cli`),
which makes the PKI. Nothing else is built.

It makes a single-tier RSA-2048 PKI (`waxseal pki init --single-tier`: fedmsg trusts one
CA certificate), signs N distinct fedmsg messages with fedmsg's own x509 signing
(`fedmsg.crypto.sign`, crypto_backend x509), then validates every one of them once per
round with `fedmsg.crypto.validate` and with `waxseal.fedmsg.validate`, alternating, under
the same configuration (the same dict: the CA file, the CRL file, a routing policy naming
the signer). Every message must pass on both sides and a tampered one fail on both (else
the bench stops). It prints the best round of each side in µs per message, the median, and
the ratio fedmsg / waxseal (above 1: waxseal is faster).

Then the revocation check, in the same process: the signer is revoked (`waxseal pki
revoke` writes a new CRL file) and the next message is validated by both; waxseal re-reads
a changed CRL file at its next validation, so it must refuse (else the bench fails);
fedmsg 1.1.7 keeps the CRL it read until some validation fails, so it still accepts.
"""

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from built import find_waxseal

import fedmsg.crypto
import waxseal
import waxseal.fedmsg

SIGNER = "bodhi-app01.example.org"
TOPIC = "org.fedoraproject.prod.bodhi.update.comment"


def make_pki(work):
    binary = find_waxseal()
    pki = work / "pki"

    def run(*args):
        subprocess.run([binary, "pki", *args, "--dir", str(pki)], check=True, capture_output=True)

    run("init", "--single-tier", "--algorithm", "rsa2048")
    run("issue", SIGNER)
    # Revocation archives the key pair: fedmsg signs from a copy.
    ssldir = work / "ssl"
    ssldir.mkdir()
    for ext in ("crt", "key"):
        (ssldir / f"{SIGNER}.{ext}").write_bytes((pki / f"{SIGNER}.{ext}").read_bytes())
        os.chmod(ssldir / f"{SIGNER}.{ext}", 0o600)
    config = {
        "ssldir": str(ssldir),
        "certname": SIGNER,
        "crypto_backend": "x509",
        "crypto_validate_backends": ["x509"],
        "ca_cert_location": str(pki / "root-ca.crt"),
        "crl_location": str(pki / "crl.pem"),
        "routing_policy": {TOPIC: [SIGNER]},
        "routing_nitpicky": False,
    }
    return config, lambda: run("revoke", SIGNER)


def message(i):
    """A message as fedmsg.core builds one."""
    return {
        "topic": TOPIC,
        "msg": {
            "comment": {"text": "works for me", "karma": 1, "id": i},
            "agent": "alice",
            "update": {"alias": "FEDORA-2024-%08x" % i, "builds": ["pkg-1.0-1.fc40"]},
        },
        "timestamp": 1700000000 + i,
        "msg_id": "2024-%s" % uuid.UUID(int=i),
        "i": 1,
        "username": "bodhi",
    }


def timed(validate, messages, config):
    """Seconds per message over one pass."""
    start = time.perf_counter()
    for m in messages:
        validate(m, **config)
    return (time.perf_counter() - start) / len(messages)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    # Refusals are logged by both; the timed passes log nothing.
    logging.basicConfig(level=logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        config, revoke = make_pki(Path(tmp))
        messages = [fedmsg.crypto.sign(message(i), **config) for i in range(args.messages)]
        assert all(m["crypto"] == "x509" for m in messages)
        sides = {"fedmsg.crypto.validate": fedmsg.crypto.validate,
                 "waxseal.fedmsg.validate": waxseal.fedmsg.validate}
        # Both accept every message and refuse a tampered one.
        tampered = json.loads(json.dumps(messages[0]))
        tampered["msg"]["comment"]["karma"] = -1
        for name, validate in sides.items():
            ok = [validate(m, **config) for m in messages]
            if not all(ok):
                sys.exit(f"{name} refused {ok.count(False)} of the messages")
            if validate(tampered, **config) is not False:
                sys.exit(f"{name} accepted a tampered message")
        times = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, validate in sides.items():
                times[name].append(timed(validate, messages, config))
        load = os.getloadavg()
        print(
            f"{args.messages} distinct fedmsg x509 messages (RSA-2048, signed by "
            f"fedmsg.crypto.sign), each validated once per round, {args.rounds} rounds, "
            f"one process; CA and CRL files; Python {sys.version.split()[0]}, "
            f"fedmsg 1.1.7, waxseal {waxseal.__version__}; load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print()
        print("| validate | µs/message, best | median |")
        print("|---|---:|---:|")
        best = {}
        for name, xs in times.items():
            best[name] = min(xs)
            print(f"| {name} | {min(xs) * 1e6:.1f} | {statistics.median(xs) * 1e6:.1f} |")
        f, w = best["fedmsg.crypto.validate"], best["waxseal.fedmsg.validate"]
        print(f"| fedmsg / waxseal (best) | {f / w:.2f}x | |")
        print()
        # A revocation written while both are running.
        revoke()
        after = {name: validate(messages[-1], **config) for name, validate in sides.items()}
        print(
            "signer revoked (a new CRL file), next validation: waxseal.fedmsg %s, "
            "fedmsg 1.1.7 %s"
            % tuple(
                "refuses" if after[n] is False else "accepts"
                for n in ("waxseal.fedmsg.validate", "fedmsg.crypto.validate")
            )
        )
        if after["waxseal.fedmsg.validate"] is not False:
            sys.exit("waxseal.fedmsg accepted a message from a revoked signer")


if __name__ == "__main__":
    main()
