#!/usr/bin/env python3
"""Validating signed messages from Python vs from Rust, and thread scaling.

    python bench/python_vs_rust.py [--messages N] [--rounds R] [--algorithm p256|rsa2048|...]

Needs the `waxseal` package installed in the running interpreter (`pip install
./crates/python`), the `waxseal` command (`$WAXSEAL_BIN`, else the workspace's
target/{release,debug}/waxseal) and the Rust side, the `validate_file` example of the
message crate, built with the same profile as the wheel:

    cargo build --release -p waxseal-cli -p waxseal-message --example validate_file

It makes a PKI, signs N distinct fedmsg-style messages, writes them to a file, then in R
alternating rounds validates every one of them once with `Bus.validate` (Python, fresh Bus
per round) and with `Bus::validate_bytes` (Rust, fresh process per round) on the same bus
configuration (trust anchor, intermediate, CRL, routing policy, replay cache). It prints the
best round of each side per message, their ratio, then the throughput of 1, 2 (and 4)
Python threads sharing one Bus, each validating its own share of the messages.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import waxseal
from built import find

SIGNER = "bodhi-app01.example.org"


def make_messages(work, n, algorithm):
    waxseal_bin = find("waxseal", "WAXSEAL_BIN")
    pki = work / "pki"
    run = lambda *a: subprocess.run([waxseal_bin, *a], check=True, capture_output=True)  # noqa: E731
    run("pki", "init", "--dir", str(pki), "--algorithm", algorithm)
    run("pki", "issue", "--dir", str(pki), SIGNER)
    config = work / "bus.json"
    config.write_text(
        json.dumps(
            {
                "trust": [str(pki / "root-ca.crt")],
                "certs": [str(pki / "signing-ca.crt")],
                "crls": [str(pki / "crl.pem")],
                "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
                "freshness": {"max_age_secs": 3600, "replay_cache_capacity": max(100000, 2 * n)},
            }
        )
    )
    signer = waxseal.Signer(
        str(pki / f"{SIGNER}.crt"), str(pki / f"{SIGNER}.key"), chain=str(pki / "signing-ca.crt")
    )
    bus = waxseal.Bus(str(config))
    messages = []
    for i in range(n):
        m = json.dumps(
            {
                "topic": "org.example.prod.bodhi.update.comment",
                "msg": {"comment": {"text": "LGTM", "karma": 1, "id": i}, "agent": "alice"},
            }
        ).encode()
        messages.append(bus.sign(m, signer))
    path = work / "messages.jsonl"
    path.write_bytes(b"\n".join(messages) + b"\n")
    return str(config), str(path), messages


def python_round(config, messages):
    """Seconds per message: (wall clock, this thread's CPU time)."""
    bus = waxseal.Bus(config)
    validate = bus.validate
    start, cpu = time.perf_counter(), time.thread_time()
    for m in messages:
        validate(m)
    n = len(messages)
    return (time.perf_counter() - start) / n, (time.thread_time() - cpu) / n


def rust_round(validate_file, config, path):
    out = subprocess.run([validate_file, config, path], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    cpu = r["cpu_per_message_us"]
    return r["per_message_us"] / 1e6, (cpu if cpu is not None else float("nan")) / 1e6


def threaded(config, messages, threads):
    bus = waxseal.Bus(config)
    shares = [messages[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(share):
        barrier.wait()
        for m in share:
            bus.validate(m)

    ts = [threading.Thread(target=work, args=(s,)) for s in shares]
    for t in ts:
        t.start()
    barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for t in ts:
        t.join()
    wall = time.perf_counter() - start
    # CPU-seconds the process used per wall-second: above 1 only if threads ran at once.
    return len(messages) / wall, (time.process_time() - cpu) / wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--algorithm", default="p256")
    ap.add_argument("--threads", default="1,2", help="thread counts to measure, e.g. 1,2,4")
    args = ap.parse_args()
    validate_file = find("examples/validate_file", "WAXSEAL_VALIDATE_FILE")
    with tempfile.TemporaryDirectory() as tmp:
        config, path, messages = make_messages(Path(tmp), args.messages, args.algorithm)
        py, rs = [], []
        for _ in range(args.rounds):
            rs.append(rust_round(validate_file, config, path))
            py.append(python_round(config, messages))
        print(
            f"{args.messages} distinct signed messages ({args.algorithm}, {len(messages[0])} bytes), "
            f"each validated once per round, {args.rounds} rounds; {os.cpu_count()} CPUs; "
            f"Python {sys.version.split()[0]}, waxseal {waxseal.__version__}"
        )
        print()
        print("| path | wall µs/msg, best | wall, median | CPU µs/msg, best | CPU, median |")
        print("|---|---:|---:|---:|---:|")
        summary = {}
        for name, xs in (("Rust Bus::validate_bytes", rs), ("Python Bus.validate", py)):
            wall = [x[0] for x in xs]
            cpu = [x[1] for x in xs]
            summary[name] = (min(wall), statistics.median(wall), min(cpu), statistics.median(cpu))
            print("| " + name + " | " + " | ".join(f"{v * 1e6:.1f}" for v in summary[name]) + " |")
        r, p = summary["Rust Bus::validate_bytes"], summary["Python Bus.validate"]
        print("| Python / Rust | " + " | ".join(f"{a / b:.3f}" for a, b in zip(p, r)) + " |")
        print()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"| Python threads sharing one Bus | messages/s | vs 1 thread | CPU s per wall s |")
        print("|---:|---:|---:|---:|")
        base = None
        for t in [int(x) for x in args.threads.split(",")]:
            rate, busy = max(threaded(config, messages, t) for _ in range(max(1, args.rounds // 2)))
            base = base or rate
            print(f"| {t} | {rate:,.0f} | {rate / base:.2f}x | {busy:.2f} |")
        print()
        print(f"(load average at the end: {load:.2f}; scaling needs idle cores)")


if __name__ == "__main__":
    main()
