"""Helpers for the oslo.messaging driver tests: the broker and a plain AMQP client
(kombu), bus policies and configuration files, oslo.messaging peers in their own
processes.
"""

import json
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE / "peer.py"

#: oslo.messaging's default control exchange.
EXCHANGE = "openstack"

NAMES = {
    "server": "rpcserver-node1.example.org",
    "server2": "rpcserver-node2.example.org",
    "client": "rpcclient-api1.example.org",
    "notifier": "notifier-host1.example.org",
    "intruder": "intruder-evil.example.org",
    # allowed by the policy (rpcclient-*) but revoked when the PKI is made
    "revoked": "rpcclient-old.example.org",
}


def wait_for(predicate, timeout=30.0, what="a condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Broker:
    """Where the broker is, and a plain AMQP client (kombu) to inject and inspect."""

    def __init__(self, host, port, user, password, vhost):
        self.host, self.port, self.user, self.password, self.vhost = (
            host,
            port,
            user,
            password,
            vhost,
        )

    def transport_url(self, scheme="waxseal+rabbit"):
        vhost = "" if self.vhost in ("", "/") else urllib.parse.quote(self.vhost, safe="")
        return "%s://%s:%s@%s:%d/%s" % (
            scheme,
            urllib.parse.quote(self.user, safe=""),
            urllib.parse.quote(self.password, safe=""),
            self.host,
            self.port,
            vhost,
        )

    def connection(self):
        import kombu

        return kombu.Connection(
            hostname=self.host,
            port=self.port,
            userid=self.user,
            password=self.password,
            virtual_host=self.vhost or "/",
            transport="pyamqp",
            connect_timeout=5,
        )

    def publish(self, body, exchange, routing_key, headers=None, compression=None):
        """Publishes ``body`` (bytes or text) as oslo.messaging does (JSON, UTF-8),
        without declaring anything; ``headers``: AMQP headers (``CC``...);
        ``compression``: kombu's (``zlib``...)."""
        with self.connection() as conn:
            producer = conn.Producer()
            producer.publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                serializer=None,
                headers=headers,
                compression=compression,
            )

    def message_count(self, queue):
        """Ready messages in ``queue`` (not counting those delivered and unacked)."""
        with self.connection() as conn:
            _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
            return count

    def delete_queue(self, queue):
        with self.connection() as conn:
            conn.default_channel.queue_delete(queue=queue)

    def spy(self, exchange, routing_key, exchange_type="topic"):
        return Spy(self, exchange, routing_key, exchange_type)


class Spy:
    """A queue of our own bound beside oslo's, to see what goes over the wire."""

    def __init__(self, broker, exchange, routing_key, exchange_type):
        import kombu

        self.broker = broker
        self.name = "waxseal-spy-" + uuid.uuid4().hex
        ex = kombu.Exchange(
            exchange, type=exchange_type, durable=False, auto_delete=exchange_type == "fanout"
        )
        self.queue = kombu.Queue(self.name, exchange=ex, routing_key=routing_key, auto_delete=False)
        with broker.connection() as conn:
            self.queue(conn.default_channel).declare()

    def messages(self):
        """(body bytes, delivery_info) of everything that arrived, consumed."""
        out = []
        with self.broker.connection() as conn:
            q = self.queue(conn.default_channel)
            while True:
                m = q.get(no_ack=True, accept=["application/json"])
                if m is None:
                    break
                body = m.body if isinstance(m.body, bytes) else m.body.encode()
                out.append((body, dict(m.delivery_info)))
        return out

    def close(self):
        self.broker.delete_queue(self.name)


def write_policy(path, extra=None):
    """The bus configuration the tests use: RPC topics ``waxtest.#`` for clients and
    servers (a reply is authorized on its call's topic, and for a call to a server only
    from that server), ``waxnotify.#`` for notifiers; nothing else (nitpicky). Trust and
    CRLs come from ``[waxseal]`` (ca, crl)."""
    policy = {
        "routing_policy": {
            "waxtest.#": ["rpcclient-*", "rpcserver-*"],
            "waxnotify.#": ["notifier-*"],
        },
        "nitpicky": True,
        "freshness": {"max_age_secs": 300},
    }
    policy.update(extra or {})
    path.write_text(json.dumps(policy, indent=2))
    return path


def write_conf(
    path,
    broker,
    pki,
    policy,
    role,
    mode="enforce",
    scheme="waxseal+rabbit",
    notify_topic=None,
    crl=None,
    waxseal_extra=(),
):
    cert, key = pki[role]
    lines = [
        "[DEFAULT]",
        "transport_url = %s" % broker.transport_url(scheme),
        "",
        "[oslo_messaging_rabbit]",
        "heartbeat_timeout_threshold = 0",
        "",
        "[waxseal]",
        "cert = %s" % cert,
        "key = %s" % key,
        "chain = %s" % pki["chain"],
        "ca = %s" % pki["root"],
        "crl = %s" % (crl or pki["crl"]),
        "policy = %s" % policy,
        "mode = %s" % mode,
        *waxseal_extra,
    ]
    if notify_topic:
        lines += [
            "",
            "[oslo_messaging_notifications]",
            "driver = messagingv2",
            "topics = %s" % notify_topic,
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Peer:
    """An oslo.messaging peer process (peer.py)."""

    def __init__(self, workdir, name, mode, conf, *args):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True)
        self.out = self.dir / "calls.jsonl"
        self.log = self.dir / "stderr.log"
        argv = [sys.executable, str(PEER), mode, str(conf), *map(str, args)]
        if mode in ("server", "listen"):
            argv += [str(self.out), str(self.dir)]
        self.argv = argv
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._log, cwd=str(self.dir)
        )

    def wait_ready(self, timeout=60):
        wait_for(
            lambda: (self.dir / "ready").exists() or self.proc.poll() is not None,
            timeout,
            "%s to listen" % self.dir.name,
        )
        assert self.proc.poll() is None, "%s exited:\n%s" % (self.dir.name, self.log_text())
        return self

    def stop(self, timeout=60):
        (self.dir / "stop").write_text("stop\n")
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()
        assert self.proc.returncode == 0, "%s failed:\n%s" % (self.dir.name, self.log_text())

    def finish(self, timeout=60):
        """Waits for a client; its standard output."""
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        finally:
            self._log.close()
        assert self.proc.returncode == 0, "%s failed:\n%s" % (self.dir.name, self.log_text())
        return out.decode()

    def records(self):
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def tags(self):
        return sorted(r["payload"]["tag"] for r in self.records())

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()
