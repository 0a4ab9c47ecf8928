"""Replay protection across oslo.messaging workers and hosts: the replay store.

Every RPC server is an unmodified oslo.messaging program in its own process (peer.py)
with its own ``[waxseal]`` section. The shared store is a real ``redis-server`` each test
starts on a free loopback port in its own directory (append-only file on, as
scripts/redis.sh runs it) and stops by PID. A replay is the very bytes of a signed
message published again with a plain AMQP client (kombu).

Why Redis: two servers consuming one topic's queue are competing consumers, so a replayed
copy may be handed to the server that did not see the original. With ``memory`` stores
that server admits it (the twin test shows it, and oslo.messaging's own duplicate check
is per process too); with one Redis both servers share one record.
"""

import shutil
import socket
import subprocess
import time
import uuid

import pytest

from waxseal.oslo import driver

from .oslo_support import EXCHANGE, wait_for, write_conf
from .test_oslo_driver import refusals, rpc_message, tester  # noqa: F401 (a fixture)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of this test: started, stopped (SIGTERM, by PID) and started again
    on the same port and directory (its append-only file keeps the keys)."""

    def __init__(self, workdir):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def cli(self, *args):
        out = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip()

    def start(self):
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.dir),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--logfile", str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up():
            assert self.proc.poll() is None, (self.dir / "redis.log").read_text()
            return self.cli("ping") == "PONG"

        wait_for(up, what="redis-server to answer")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    r = Redis(tmp_path / "redis").start()
    yield r
    r.stop()


def server_conf(tmp_path, name, broker, pki, policy, role, store):
    return write_conf(
        tmp_path / (name + ".conf"),
        broker,
        pki,
        policy,
        role,
        waxseal_extra=["replay_store = %s" % store],
    )


def two_servers(peers, tmp_path, broker, pki, policy, topic, store):
    """node1 and node2, each its own process and [waxseal] section, consuming ``topic``."""
    s1 = peers(
        "node1", "server", server_conf(tmp_path, "s1", broker, pki, policy, "server", store),
        topic, "node1",
    )
    s2 = peers(
        "node2", "server", server_conf(tmp_path, "s2", broker, pki, policy, "server2", store),
        topic, "node2",
    )
    return s1.wait_ready(), s2.wait_ready()


def tags(*servers):
    return sorted(t for s in servers for t in s.tags())


def replay_refusals(*servers):
    return [line for s in servers for line in refusals(s.log_text())]


def split_replay(broker, tester, topic, s1, s2, tag):
    """Publishes a signed cast; once a server ran it, stops that one and publishes the
    same bytes again, so the other server (which never saw it) receives the replay.
    Returns (the server that ran the original, the other)."""
    body = tester.sign(rpc_message(tag), "client", topic)
    broker.publish(body, EXCHANGE, topic)
    first = wait_for(
        lambda: next((s for s in (s1, s2) if tag in s.tags()), None), what="the original cast"
    )
    other = s2 if first is s1 else s1
    first.stop()
    broker.publish(body, EXCHANGE, topic)
    return first, other


def test_a_replay_split_across_two_servers_is_refused_with_a_shared_redis_store(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester, redis
):
    s1, s2 = two_servers(peers, tmp_path, broker, oslo_pki, policy, topic, redis.url)
    for s in (s1, s2):
        assert 'replay store "redis 127.0.0.1:%d"' % redis.port in s.log_text()
    # positive twin: two distinct casts both run
    for tag in ("distinct-1", "distinct-2"):
        broker.publish(tester.sign(rpc_message(tag), "client", topic), EXCHANGE, topic)
    wait_for(lambda: tags(s1, s2) == ["distinct-1", "distinct-2"], what="both casts")
    # a cast and its replay while both servers consume: run once, refused once
    body = tester.sign(rpc_message("both-up"), "client", topic)
    broker.publish(body, EXCHANGE, topic)
    broker.publish(body, EXCHANGE, topic)
    wait_for(lambda: len(replay_refusals(s1, s2)) == 1, what="the replay refused")
    wait_for(lambda: "both-up" in tags(s1, s2), what="the cast")
    # the split: the replay goes to the server that did not run the original
    first, other = split_replay(broker, tester, topic, s1, s2, "split")
    wait_for(lambda: len(refusals(other.log_text())) >= 1 and len(replay_refusals(s1, s2)) == 2,
             what="the split replay refused")
    other.stop()
    assert tags(s1, s2) == ["both-up", "distinct-1", "distinct-2", "split"]
    assert "split" not in other.tags()
    lines = replay_refusals(s1, s2)
    assert len(lines) == 2 and all('"replayed"' in line for line in lines), lines
    assert any('"replayed"' in line for line in refusals(other.log_text()))
    assert broker.message_count(topic) == 0
    # the store holds every admitted key, settled once acknowledged
    keys = redis.cli("--scan", "--pattern", "waxseal:replay:*").split()
    assert len(keys) == 4
    assert {redis.cli("get", k) for k in keys} == {"s"}


def test_with_memory_stores_a_split_replay_is_not_caught(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester
):
    """The reason for a shared store: the same split with each server's own memory store
    runs the replayed cast a second time, on the other server."""
    s1, s2 = two_servers(peers, tmp_path, broker, oslo_pki, policy, topic, "memory")
    for s in (s1, s2):
        assert 'replay store "memory" (this process only' in s.log_text()
    first, other = split_replay(broker, tester, topic, s1, s2, "split")
    wait_for(lambda: "split" in other.tags(), what="the replay run by the other server")
    other.stop()
    assert first.tags() == ["split"] and other.tags() == ["split"]
    assert replay_refusals(s1, s2) == []


def test_redis_stopped_mid_stream_loses_nothing_and_admits_nothing_unchecked(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester, redis
):
    """While the store is down, casts are requeued (backing off), neither run nor
    refused; once it is back they all run, exactly once; the keys admitted before the
    outage are still there (append-only file), so their replays are refused."""
    s1, s2 = two_servers(peers, tmp_path, broker, oslo_pki, policy, topic, redis.url)
    before = tester.sign(rpc_message("before"), "client", topic)
    broker.publish(before, EXCHANGE, topic)
    wait_for(lambda: tags(s1, s2) == ["before"], what="the cast before the outage")
    redis.stop()
    down = ["down-%d" % n for n in range(4)]
    bodies = {t: tester.sign(rpc_message(t), "client", topic) for t in down}
    for t in down:
        broker.publish(bodies[t], EXCHANGE, topic)
    requeued = "could not decide on a message"
    wait_for(
        lambda: sum(s.log_text().count(requeued) for s in (s1, s2)) >= 8,
        what="the casts requeued while the store is down",
    )
    assert tags(s1, s2) == ["before"]
    assert replay_refusals(s1, s2) == []
    assert any('"replay-store-unavailable"' in s.log_text() for s in (s1, s2))
    redis.start()
    wait_for(lambda: tags(s1, s2) == sorted(["before", *down]), what="every cast once back")
    # nothing accepted unchecked: the keys from before the outage and from after it
    broker.publish(before, EXCHANGE, topic)
    broker.publish(bodies["down-0"], EXCHANGE, topic)
    wait_for(lambda: len(replay_refusals(s1, s2)) == 2, what="both replays refused")
    s1.stop()
    s2.stop()
    assert tags(s1, s2) == sorted(["before", *down])
    assert all('"replayed"' in line for line in replay_refusals(s1, s2))
    assert broker.message_count(topic) == 0


def test_a_settled_key_is_replayed_even_when_redelivered(
    broker, oslo_pki, policy, tester, topic, redis
):
    """Admitted, then acknowledged through the RabbitMessage (settled): a broker
    redelivery of another copy of it is `replayed`. The twin: acknowledged on the kombu
    message itself (never settled), the same redelivery is a flagged duplicate, admitted.
    And the store out of reach after the acknowledgement: logged and counted, not raised."""
    import kombu
    from oslo_messaging._drivers import impl_rabbit

    bus = driver.load_bus(
        str(policy),
        ca=[str(oslo_pki["root"])],
        crl=[str(oslo_pki["crl"])],
        chain=str(oslo_pki["chain"]),
        replay_store=redis.url,
    )
    assert bus.replay_store == "redis 127.0.0.1:%d" % redis.port
    guard = driver.Guard(bus, tester.signer("server"))
    queue = "waxseal-settle-" + uuid.uuid4().hex
    exchange = kombu.Exchange(EXCHANGE, type="topic", durable=False)
    q = kombu.Queue(queue, exchange=exchange, routing_key=topic, auto_delete=False)
    subscription = (EXCHANGE, queue, [topic])

    def redelivered_copy(body, settle):
        """Two copies of ``body`` in the queue: the first admitted and acknowledged
        (through the guard's acknowledge when ``settle``), the second taken and handed
        back unacknowledged, so the broker redelivers it; returns that redelivery."""
        broker.publish(body, EXCHANGE, topic)
        broker.publish(body, EXCHANGE, topic)
        with broker.connection() as c:
            m = wait_for(lambda: q(c.default_channel).get(), what="the first copy")
            message = impl_rabbit.RabbitMessage(m)
            assert guard.admit(message, subscription)
            if settle:
                message.acknowledge()
            else:
                m.ack()
        with broker.connection() as c:  # taken, then the channel closes unacked
            m = wait_for(lambda: q(c.default_channel).get(), what="the second copy")
            assert not m.delivery_info["redelivered"]
        c = broker.connection()
        m = wait_for(lambda: q(c.default_channel).get(), what="the redelivery")
        assert m.delivery_info["redelivered"]
        return c, m

    try:
        with broker.connection() as c:
            q(c.default_channel).declare()
        # settled: the redelivery is refused (and acknowledged by the guard)
        c, m = redelivered_copy(tester.sign(rpc_message("settled"), "client", topic), True)
        with c:
            assert not guard.admit(impl_rabbit.RabbitMessage(m), subscription)
        assert guard.stats()["settled"] == 1 and guard.stats()["refused"] == 1
        # the twin: never settled, the redelivery is a duplicate, admitted
        c, m = redelivered_copy(tester.sign(rpc_message("unsettled"), "client", topic), False)
        with c:
            message = impl_rabbit.RabbitMessage(m)
            assert guard.admit(message, subscription)
            assert message["args"]["tag"] == "unsettled"
            assert guard.stats()["duplicates"] == 1
            # the store goes away before the acknowledgement: acknowledged all the same,
            # the settle failure counted (the key stays admitted)
            redis.stop()
            message.acknowledge()
        assert guard.stats()["settle_failed"] == 1
        assert broker.message_count(queue) == 0
    finally:
        broker.delete_queue(queue)


def test_failover_to_the_second_host_of_the_transport_url(
    broker, oslo_pki, policy, peers, topic, tmp_path
):
    """oslo.messaging's own cluster handling: transport_url lists several hosts and kombu
    fails over between them; here a host that drops every connection, and the broker. RPC works through the waxseal driver on every host of the list; the twin:
    a plain rabbit:// client on the same hosts is refused (unsigned).

    The dead host accepts TCP connections and closes them at once (a broker node going
    down), counting them: that shows the peers did try it and moved on. oslo.messaging
    shuffles the hosts of each connection, so the dead one is listed seven times before
    the broker: each of the peers' five or so connections tries it first with probability
    7/8, and the chance that none does is below 1 in 30000."""
    import threading

    dead_socket = socket.socket()
    dead_socket.bind(("127.0.0.1", 0))
    dead_socket.listen(16)
    dead_socket.settimeout(0.2)
    dead = dead_socket.getsockname()[1]
    tried = []
    stopping = threading.Event()

    def refuse():
        while not stopping.is_set():
            try:
                conn, _ = dead_socket.accept()
            except OSError:
                continue
            tried.append(1)
            conn.close()

    refuser = threading.Thread(target=refuse, daemon=True)
    refuser.start()

    def conf(name, role, scheme):
        path = write_conf(
            tmp_path / (name + ".conf"), broker, oslo_pki, policy, role, scheme=scheme
        )
        url = broker.transport_url(scheme)
        host = "%s:%d" % (broker.host, broker.port)
        dead_hosts = "".join(
            "127.0.0.1:%d,%s:%s@" % (dead, broker.user, broker.password) for _ in range(7)
        )
        two = url.replace("@" + host, "@" + dead_hosts + host)
        text = path.read_text()
        assert "transport_url = %s\n" % url in text and two != url
        path.write_text(text.replace(url, two))
        return path

    try:
        server = peers(
            "node1", "server", conf("server", "server", "waxseal+rabbit"), topic, "node1"
        ).wait_ready()
        call = peers("call", "call", conf("client", "client", "waxseal+rabbit"), topic, "fo-1")
        assert '"echo": "fo-1"' in call.finish()
        peers("plain", "cast", conf("plain", "client", "rabbit"), topic, "plain-1").finish()
        wait_for(lambda: refusals(server.log_text()), what="the unsigned cast refused")
        server.stop()
    finally:
        stopping.set()
        refuser.join()
        dead_socket.close()
    assert len(tried) >= 1
    assert server.tags() == ["fo-1"]
    (line,) = refusals(server.log_text())
    assert '"unsigned"' in line
