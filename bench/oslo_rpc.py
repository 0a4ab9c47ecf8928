#!/usr/bin/env python3
"""oslo.messaging RPC `call` round trips per second: `rabbit://` against `waxseal+rabbit://`.

    python bench/oslo_rpc.py [--calls N] [--rounds R] [--payload BYTES] [--null] [--raw]

Needs, in the running interpreter: oslo.messaging (the tests pin 18.3.1) and the `waxseal`
package (`pip install ./crates/python`, which registers the `waxseal` transport driver);
the `waxseal` command (`$WAXSEAL_BIN`, else the workspace's target/{release,debug}/waxseal:
`cargo build --release -p waxseal-cli`), which makes the PKI; and a RabbitMQ broker:
`AMQP_ADDR` (`amqp://guest:guest@127.0.0.1:5672/%2f`) names a running one, otherwise the
script starts its own with scripts/broker.sh (rabbitmq-server, the Debian package) on
127.0.0.1, port `$WAXSEAL_BENCH_AMQP_PORT` (default 5697), and stops it at the end.
Nothing is built.

Per transport and round, on the same broker: an RPC server process (the real
oslo.messaging, `get_rpc_server`, threading executor) and a client process
(`get_rpc_client`) that makes `--calls` sequential `call`s to the server's topic after a
warm-up, each returning a small dict; the client times the calls and checks every answer.
With `waxseal+rabbit://` (mode enforce, memory replay store, routing policy nitpicky) every
request and every reply is signed (P-256 keys, the default of `waxseal pki`) and verified
(path, CRL, signed route, freshness, routing policy, reply bound to its call, replay). The
rounds alternate the transports; the script prints the best round of each (calls per
second, and the client's CPU per call), their medians, and the ratio waxseal / rabbit.

`--null` adds a third transport, for the limit of what the driver's own code can reach:
`waxseal+rabbit://` with the guard's signing and verification replaced, in the bench's
processes only, by nothing (each message gets a filler `oslo.signature` as long as a real
one, so the wire carries the same bytes; each delivery is unwrapped as the driver does
after verifying it). The gap from `rabbit://` to it is the driver's plumbing and the larger
messages; from it to `waxseal+rabbit://`, the signatures and their verification.

`--raw` adds a fourth, for the limit with the signatures themselves: `--null`'s transport
where each message is signed and each delivery verified by the raw signature primitive
and nothing else (no CMS, no certificate path, no CRL, no routing, no replay), with
pyca/cryptography (OpenSSL) over the `oslo.message` text, with the client's key of the
same PKI in both processes. Its signature goes at the start of the same-length filler.
Only the primitive itself counts here, so the reference is the fastest one that runs
here, not waxseal's own: a goal above this row is out of reach of any implementation
that signs and verifies every message with this algorithm.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

from built import REPO, find_waxseal

SERVER = "rpcserver-node1.example.org"
CLIENT = "rpcclient-api1.example.org"


# --- the broker -----------------------------------------------------------------------


class Broker:
    """AMQP_ADDR's broker, or one started with scripts/broker.sh (stopped by stop())."""

    def __init__(self):
        self.started = None
        addr = os.environ.get("AMQP_ADDR")
        if addr:
            self.url = addr
            return
        port = int(os.environ.get("WAXSEAL_BENCH_AMQP_PORT", "5697"))
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(
                    "port %d is taken: set WAXSEAL_BENCH_AMQP_PORT to a free one, or "
                    "AMQP_ADDR to use the broker there" % port
                )
        self.dir = tempfile.mkdtemp(prefix="waxseal-bench-broker-")
        script = (
            'source "$1/scripts/broker.sh"; start_broker "$2" "$3" >&2 || exit 1; '
            'echo "$broker_pid|$broker_epmd"'
        )
        out = subprocess.run(
            ["bash", "-c", script, "bash", str(REPO), self.dir, str(port)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=self.dir,  # where the Erlang VM would leave a crash dump
        )
        if out.returncode != 0:
            sys.exit("could not start rabbitmq-server (scripts/broker.sh); see above")
        self.started = out.stdout.strip().split("|")
        self.url = "amqp://guest:guest@127.0.0.1:%d/%%2f" % port

    def transport_url(self, scheme):
        u = urllib.parse.urlsplit(self.url)
        vhost = urllib.parse.unquote(u.path[1:]) if u.path else "/"
        return "%s://%s:%s@%s:%d/%s" % (
            scheme,
            u.username or "guest",
            u.password or "guest",
            u.hostname or "127.0.0.1",
            u.port or 5672,
            "" if vhost in ("", "/") else urllib.parse.quote(vhost, safe=""),
        )

    def stop(self):
        if not self.started:
            return
        pid, epmd = self.started
        subprocess.run(
            [
                "bash",
                "-c",
                'source "$1/scripts/broker.sh"; broker_pid=$2; broker_epmd=$3; stop_broker',
                "bash",
                str(REPO),
                pid,
                epmd,
            ],
            check=False,
            cwd=self.dir,
        )
        self.started = None


# --- the PKI and the configuration files ------------------------------------------------


def make_pki(work, algorithm="p256"):
    binary = find_waxseal()
    pki = work / "pki"
    for args in (["init", "--algorithm", algorithm], ["issue", SERVER, CLIENT]):
        subprocess.run(
            [binary, "pki", *args, "--dir", str(pki)], check=True, capture_output=True
        )
    return pki


def write_confs(work, broker, pki, mode="enforce"):
    policy = work / "bus.json"
    policy.write_text(
        json.dumps(
            {
                "routing_policy": {"waxbench.#": ["rpcclient-*", "rpcserver-*"]},
                "nitpicky": True,
                "freshness": {"max_age_secs": 300},
            }
        )
    )
    confs = {}
    for scheme in ("rabbit", "waxseal+rabbit"):
        for role, name in (("server", SERVER), ("client", CLIENT)):
            lines = [
                "[DEFAULT]",
                "transport_url = %s" % broker.transport_url(scheme),
                "",
                "[oslo_messaging_rabbit]",
                "heartbeat_timeout_threshold = 0",
            ]
            if scheme != "rabbit":
                lines += [
                    "",
                    "[waxseal]",
                    "cert = %s" % (pki / (name + ".crt")),
                    "key = %s" % (pki / (name + ".key")),
                    "chain = %s" % (pki / "signing-ca.crt"),
                    "ca = %s" % (pki / "root-ca.crt"),
                    "crl = %s" % (pki / "crl.pem"),
                    "policy = %s" % policy,
                    "mode = %s" % mode,
                ]
            path = work / ("%s-%s.conf" % (scheme.replace("+", "-"), role))
            path.write_text("\n".join(lines) + "\n")
            confs[scheme, role] = path
    return confs


# --- the two processes ------------------------------------------------------------------


#: Set (to the length of a real `oslo.signature`) in the processes of `--null`'s transport.
NULL_ENV = "WAXSEAL_BENCH_NULL_SIGNATURE"


def null_guard(signature_chars):
    """The driver's guard with its signing and verification replaced by nothing (--null)."""
    from waxseal.oslo import driver
    from oslo_messaging._drivers import common as rpc_common

    filler = "A" * signature_chars

    def sign(self, msg, exchange, routing_key):
        if driver.VERSION_KEY not in msg or driver.MESSAGE_KEY not in msg:
            msg = rpc_common.serialize_msg(msg)
        driver.route_of(exchange, routing_key)
        self._remember_call(msg)
        signed = dict(msg)
        signed[driver.SIGNATURE_KEY] = filler
        return signed

    def admit(self, message, subscription=None):
        envelope = json.loads(message._raw_message.body)
        inner = json.loads(envelope[driver.MESSAGE_KEY])
        message.clear()
        message.update(inner)
        return True

    driver.Guard.sign = sign
    driver.Guard.admit = admit


#: Set (to the key file) in the processes of `--raw`'s transport, beside NULL_ENV.
RAW_ENV = "WAXSEAL_BENCH_RAW_KEY"


def raw_guard(signature_chars, key_file):
    """The driver's guard signing and verifying with the raw primitive only (--raw)."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from oslo_messaging._drivers import common as rpc_common
    from waxseal.oslo import driver

    key = serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
    public = key.public_key()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: hashes.SHA256, 384: hashes.SHA384}[key.curve.key_size]

        def raw_sign(data):
            return key.sign(data, ec.ECDSA(alg()))

        def raw_verify(sig, data):
            public.verify(sig, data, ec.ECDSA(alg()))

    elif isinstance(key, rsa.RSAPrivateKey):

        def raw_sign(data):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

        def raw_verify(sig, data):
            public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())

    else:  # Ed25519, Ed448

        def raw_sign(data):
            return key.sign(data)

        def raw_verify(sig, data):
            public.verify(sig, data)

    def sign(self, msg, exchange, routing_key):
        if driver.VERSION_KEY not in msg or driver.MESSAGE_KEY not in msg:
            msg = rpc_common.serialize_msg(msg)
        driver.route_of(exchange, routing_key)
        self._remember_call(msg)
        text = base64.b64encode(raw_sign(msg[driver.MESSAGE_KEY].encode())).decode()
        signed = dict(msg)
        head = "%04d%s" % (len(text), text)
        signed[driver.SIGNATURE_KEY] = head + "A" * max(0, signature_chars - len(head))
        return signed

    def admit(self, message, subscription=None):
        envelope = json.loads(message._raw_message.body)
        field = envelope[driver.SIGNATURE_KEY]
        n = int(field[:4])
        text = envelope[driver.MESSAGE_KEY]
        raw_verify(base64.b64decode(field[4 : 4 + n]), text.encode())  # raises if forged
        inner = json.loads(text)
        message.clear()
        message.update(inner)
        return True

    driver.Guard.sign = sign
    driver.Guard.admit = admit


def oslo_setup(conf):
    import logging
    import warnings

    if os.environ.get(RAW_ENV):
        raw_guard(int(os.environ[NULL_ENV]), os.environ[RAW_ENV])
    elif os.environ.get(NULL_ENV):
        null_guard(int(os.environ[NULL_ENV]))

    # oslo.service warns at import that eventlet is deprecated (its own internals).
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from oslo_config import cfg

    cfg.CONF(["--config-file", str(conf)], project="waxseal-bench")
    return cfg.CONF


class Endpoint:
    def echo(self, ctxt, n, data):
        return {"n": n, "size": len(data)}


def serve(conf, topic, rundir):
    config = oslo_setup(conf)
    import oslo_messaging

    transport = oslo_messaging.get_rpc_transport(config)
    target = oslo_messaging.Target(topic=topic, server=SERVER)
    server = oslo_messaging.get_rpc_server(transport, target, [Endpoint()])
    server.start()
    rundir = Path(rundir)
    (rundir / "ready").write_text("ready\n")
    deadline = time.time() + 3600
    while time.time() < deadline and not (rundir / "stop").exists():
        time.sleep(0.05)
    server.stop()
    server.wait()
    transport.cleanup()


def call(conf, topic, calls, warmup, payload):
    config = oslo_setup(conf)
    import oslo_messaging

    transport = oslo_messaging.get_rpc_transport(config)
    rpc = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=topic), timeout=30
    )
    data = "x" * payload
    try:
        for n in range(warmup):
            rpc.call({}, "echo", n=n, data=data)
        start, cpu = time.perf_counter(), time.process_time()
        for n in range(calls):
            answer = rpc.call({}, "echo", n=n, data=data)
            if answer != {"n": n, "size": payload}:
                raise SystemExit("wrong answer to call %d: %r" % (n, answer))
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        transport.cleanup()
    print(json.dumps({"rate": calls / wall, "cpu_per_call": cpu / calls}))


def round_trip(confs, scheme, work, calls, warmup, payload, null_signature=None, raw_key=None):
    """One round: a fresh server and client on a fresh topic; (calls/s, client CPU s/call).
    `null_signature`: the processes run the --null guard (signatures this long), or with
    `raw_key` the --raw guard."""
    topic = "waxbench.t" + uuid.uuid4().hex[:12]
    rundir = Path(tempfile.mkdtemp(dir=work))
    me = [sys.executable, str(Path(__file__).resolve())]
    env = dict(os.environ)
    env.pop(NULL_ENV, None)
    env.pop(RAW_ENV, None)
    if null_signature:
        env[NULL_ENV] = str(null_signature)
    if raw_key:
        env[RAW_ENV] = str(raw_key)
    log = open(rundir / "server.log", "wb")
    server = subprocess.Popen(
        me + ["--serve", str(confs[scheme, "server"]), topic, str(rundir)], stderr=log, env=env
    )
    try:
        deadline = time.time() + 60
        while not (rundir / "ready").exists():
            if server.poll() is not None or time.time() > deadline:
                sys.exit("the %s server did not start:\n%s" % (scheme, (rundir / "server.log").read_text()))
            time.sleep(0.05)
        out = subprocess.run(
            me
            + [
                "--call",
                str(confs[scheme, "client"]),
                topic,
                str(calls),
                str(warmup),
                str(payload),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        if out.returncode != 0:
            sys.exit("the %s client failed" % scheme)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        return r["rate"], r["cpu_per_call"]
    finally:
        (rundir / "stop").write_text("stop\n")
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--payload", type=int, default=256, help="bytes of data in each call")
    ap.add_argument(
        "--algorithm",
        default="p256",
        help="the PKI's key algorithm (waxseal pki init --algorithm): p256 (the default), "
        "p384, ed25519, rsa2048",
    )
    ap.add_argument(
        "--mode",
        default="enforce",
        choices=("enforce", "sign-only"),
        help="[waxseal] mode; sign-only signs and verifies nothing, which separates the "
        "cost of signing (and of the larger messages) from that of verifying",
    )
    ap.add_argument(
        "--null",
        action="store_true",
        help="also measure waxseal+rabbit:// with signing and verification replaced by "
        "nothing (the limit of the driver's own code; see above)",
    )
    ap.add_argument(
        "--raw",
        action="store_true",
        help="also measure waxseal+rabbit:// with signing and verification replaced by the "
        "raw signature primitive alone (the limit with the signatures; see above)",
    )
    ap.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--call", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(*args.serve)
    if args.call:
        conf, topic, calls, warmup, payload = args.call
        return call(conf, topic, int(calls), int(warmup), int(payload))

    import oslo_messaging  # noqa: F401 - fail early without it
    import waxseal

    broker = Broker()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            pki = make_pki(work, args.algorithm)
            confs = write_confs(work, broker, pki, args.mode)
            results = {"rabbit": [], "waxseal+rabbit": []}
            null_signature = None
            if args.null:
                results[NULL] = []
            if args.raw:
                results[RAW] = []
            if args.null or args.raw:
                null_signature = signature_chars(pki)
            for _ in range(args.rounds):
                for scheme in results:
                    stand_in = scheme in (NULL, RAW)
                    results[scheme].append(
                        round_trip(
                            confs,
                            "waxseal+rabbit" if stand_in else scheme,
                            work,
                            args.calls,
                            args.warmup,
                            args.payload,
                            null_signature if stand_in else None,
                            pki / (CLIENT + ".key") if scheme == RAW else None,
                        )
                    )
            load = os.getloadavg()
    finally:
        broker.stop()
    print(
        f"{args.calls} sequential RPC calls per round ({args.payload}-byte argument, "
        f"{args.warmup} warm-up calls), {args.rounds} rounds alternating; a server and a "
        f"client process; oslo.messaging {version('oslo.messaging')}, waxseal "
        f"{waxseal.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print()
    print("| transport | calls/s, best | median | client CPU µs/call, best |")
    print("|---|---:|---:|---:|")
    best = {}
    for scheme, rs in results.items():
        rates = [r[0] for r in rs]
        best[scheme] = max(rates)
        name = {
            NULL: "waxseal+rabbit://, crypto replaced by nothing",
            RAW: "waxseal+rabbit://, crypto replaced by the raw primitive (OpenSSL)",
        }.get(scheme, f"{scheme}://")
        print(
            f"| {name} | {max(rates):,.0f} | {statistics.median(rates):,.0f} | "
            f"{min(r[1] for r in rs) * 1e6:.0f} |"
        )
    print(f"| waxseal+rabbit / rabbit (best) | {best['waxseal+rabbit'] / best['rabbit']:.2f}x | | |")
    if NULL in best:
        print(f"| crypto replaced by nothing / rabbit (best) | {best[NULL] / best['rabbit']:.2f}x | | |")
    if RAW in best:
        print(f"| raw primitive only / rabbit (best) | {best[RAW] / best['rabbit']:.2f}x | | |")


#: The --null transport's name in the results.
NULL = "null"
#: The --raw transport's name in the results.
RAW = "raw"


def signature_chars(pki):
    """The length of a real `oslo.signature` from this PKI's client (for --null's filler)."""
    import waxseal

    signer = waxseal.Signer(
        str(pki / (CLIENT + ".crt")), str(pki / (CLIENT + ".key")), str(pki / "signing-ca.crt")
    )
    bus = waxseal.Bus.from_json(json.dumps({"trust": [str(pki / "root-ca.crt")]}))
    text = json.dumps({"method": "echo", "args": {}})
    return len(bus.oslo_signature(text, signer, topic="waxbench.x", exchange="openstack"))


def version(dist):
    import importlib.metadata

    return importlib.metadata.version(dist)


if __name__ == "__main__":
    main()
