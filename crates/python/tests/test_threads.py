"""One Verifier and one Bus shared by threads give every thread the right answers."""

import os
import subprocess
import sys
import threading

import pytest

import waxseal
from conftest import BODHI, COMPUTE, REVOKED

THREADS = 4
ROUNDS = 25


def run_threads(work):
    errors = []

    def wrapper(i):
        try:
            work(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_a_shared_verifier_answers_each_thread_right(pki, signers, other_pki):
    verifier = pki.verifier(crls=[pki.crl])
    # Per thread its own content, signer and expected outcome, interleaved.
    cases = []
    for i in range(THREADS):
        content = b"thread %d" % i
        good = signers[BODHI if i % 2 else COMPUTE].sign(content)
        tampered = good.replace(content, b"THREAD %d" % i)
        revoked = signers[REVOKED].sign(content)
        untrusted = other_pki.signer(BODHI).sign(content)
        cases.append((content, good, tampered, revoked, untrusted))

    def work(i):
        content, good, tampered, revoked, untrusted = cases[i]
        for _ in range(ROUNDS):
            v = verifier.verify(good)
            assert v.content == content
            assert v.signers[0]["common_name"] == (BODHI if i % 2 else COMPUTE)
            for env, code in (
                (tampered, "message-digest-mismatch"),
                (revoked, "revoked"),
                (untrusted, "untrusted"),
            ):
                try:
                    verifier.verify(env)
                except waxseal.Rejected as e:
                    assert e.code == code, e
                else:
                    raise AssertionError(f"thread {i}: {code} envelope accepted")

    run_threads(work)


def test_a_shared_bus_validates_each_message_once(bus, signers):
    messages = [
        bus.sign(
            b'{"topic": "org.example.prod.bodhi.update.comment", "msg": {"n": %d}}' % n,
            signers[BODHI],
        )
        for n in range(THREADS * ROUNDS)
    ]
    accepted = []
    replayed = []
    lock = threading.Lock()

    def work(i):
        # Every thread validates every message: each is accepted exactly once.
        for m in messages[i:] + messages[:i]:
            try:
                bus.validate(m)
                with lock:
                    accepted.append(m)
            except waxseal.Rejected as e:
                assert e.code == "replayed", e
                with lock:
                    replayed.append(m)

    run_threads(work)
    assert sorted(accepted) == sorted(messages)
    assert len(replayed) == (THREADS - 1) * len(messages)



GIL_PROBE = """
import os, sys, threading, waxseal
fifo, root, intermediate = sys.argv[1:4]
result = {}
def load():
    # Blocks in Rust, reading the FIFO, until the main thread writes to it.
    result["verifier"] = waxseal.Verifier([fifo], certs=[intermediate])
t = threading.Thread(target=load)
t.start()
# Running this Python code needs the GIL: if `load` held it while blocked, this would
# never run and the process would hang.
with open(root, "rb") as f:
    pem = f.read()
with open(fifo, "wb") as f:
    f.write(pem)
t.join()
print(type(result["verifier"]).__name__)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_calls_into_waxseal_release_the_gil(pki, tmp_path):
    """A call blocked inside waxseal lets other Python threads run: the extension releases
    the GIL around its work (the same helper wraps every load, sign and verify)."""
    fifo = tmp_path / "root.pem"
    os.mkfifo(fifo)
    out = subprocess.run(
        [sys.executable, "-c", GIL_PROBE, str(fifo), pki.root, pki.intermediate],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Verifier"
