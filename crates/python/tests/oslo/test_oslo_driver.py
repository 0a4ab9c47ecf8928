"""The waxseal oslo.messaging driver between real processes on a real RabbitMQ.

Every peer is an unmodified oslo.messaging program (peer.py) whose configuration file
alone turns signing on. Messages injected on the broker with a plain AMQP client (kombu)
test what a receiver refuses: each is acknowledged (its queue drains), logged with its
reason, and never runs an endpoint (the endpoints record every call to a file).
"""

import json
import uuid

import pytest

from oslo_messaging._drivers.common import serialize_msg

import waxseal
from waxseal.oslo import driver

from .oslo_support import EXCHANGE, wait_for, write_conf, write_policy


def rpc_message(tag, method="record", **args):
    return {
        "method": method,
        "args": dict(tag=tag, **args),
        "version": "1.0",
        "_unique_id": uuid.uuid4().hex,
    }


def envelope(msg):
    return json.dumps(serialize_msg(msg)).encode()


@pytest.fixture(scope="module")
def tester(oslo_pki, policy):
    """Signing on behalf of the test PKI's identities, outside any oslo process."""

    class Tester:
        bus = driver.load_bus(
            str(policy),
            ca=[str(oslo_pki["root"])],
            crl=[str(oslo_pki["crl"])],
            chain=str(oslo_pki["chain"]),
        )

        def signer(self, role):
            cert, key = oslo_pki[role]
            return waxseal.Signer(str(cert), str(key), str(oslo_pki["chain"]))

        def sign(self, msg, role, topic, exchange=EXCHANGE):
            return self.bus.sign_oslo(
                envelope(msg), self.signer(role), topic=topic, exchange=exchange
            )

    return Tester()


def refusals(log, mode="enforce"):
    marker = "waxseal: refused a message" if mode == "enforce" else "waxseal: mode=log: delivering"
    return [line for line in log.splitlines() if marker in line]


def conf(tmp_path, name, broker, pki, policy, role, **kw):
    return write_conf(tmp_path / (name + ".conf"), broker, pki, policy, role, **kw)


def start_server(peers, tmp_path, broker, pki, policy, topic, **kw):
    """The usual enforcing (or kw-configured) server "node1", ready to receive."""
    return peers(
        "node1",
        "server",
        conf(tmp_path, "server", broker, pki, policy, "server", **kw),
        topic,
        "node1",
    ).wait_ready()


def test_rpc_call_cast_fanout_between_processes(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester
):
    server_conf = conf(tmp_path, "server", broker, oslo_pki, policy, "server")
    server2_conf = conf(tmp_path, "server2", broker, oslo_pki, policy, "server2")
    client_conf = conf(tmp_path, "client", broker, oslo_pki, policy, "client")
    s1 = peers("node1", "server", server_conf, topic, "node1").wait_ready()
    s2 = peers("node2", "server", server2_conf, topic, "node2").wait_ready()
    wire = broker.spy(EXCHANGE, topic)
    fanout_wire = broker.spy(topic + "_fanout", "", exchange_type="fanout")
    try:
        caller = peers("call", "call", client_conf, topic, "call-1")
        # read it at once: a call is published with the call's timeout as its TTL
        seen = wait_for(wire.messages, what="the call on the wire")
        answer = json.loads(caller.finish())
        assert answer["echo"] == "call-1" and answer["server"] in ("node1", "node2")
        answer = json.loads(
            peers("call2", "call", client_conf, topic, "call-node2", "node2").finish()
        )
        assert answer == {"echo": "call-node2", "server": "node2"}
        peers("cast", "cast", client_conf, topic, "cast-1").finish()
        peers("fanout", "fanout", client_conf, topic, "fanout-1").finish()
        wait_for(
            lambda: sorted(s1.tags() + s2.tags())
            == ["call-1", "call-node2", "cast-1", "fanout-1", "fanout-1"],
            what="every call, cast and fanout to run",
        )
        s1.stop()
        s2.stop()
        assert "call-node2" in s2.tags() and "fanout-1" in s1.tags() and "fanout-1" in s2.tags()
        for p in (s1, s2):
            assert refusals(p.log_text()) == [], p.log_text()
        # On the wire: signed, bound to the route, verifiable by anyone with the policy.
        seen += wire.messages()
        assert len(seen) == 2  # call-1 and cast-1 (call-node2 went to topic.node2)
        for body, info in seen:
            assert "oslo.signature" in json.loads(body)
            report = tester.bus.verify_oslo(body, topic=topic, exchange=EXCHANGE)
            assert report["message"]["args"]["tag"] in ("call-1", "cast-1")
            assert report["entity"]["id"] == "rpcclient-api1.example.org"
            with pytest.raises(waxseal.Rejected) as e:  # and only on that route
                tester.bus.verify_oslo(body, topic=topic + ".node1", exchange=EXCHANGE)
            assert e.value.code == "topic-mismatch"
        ((body, info),) = fanout_wire.messages()
        report = tester.bus.verify_oslo(body, topic=topic, exchange=topic + "_fanout")
        assert report["message"]["args"]["tag"] == "fanout-1"
    finally:
        wire.close()
        fanout_wire.close()


def test_notifier_and_listener(broker, oslo_pki, policy, peers, tmp_path, tester):
    ntopic = "waxnotify.n" + uuid.uuid4().hex[:12]
    listener = peers(
        "listener", "listen", conf(tmp_path, "listener", broker, oslo_pki, policy, "server"), ntopic
    ).wait_ready()
    wire = broker.spy(EXCHANGE, ntopic + ".info")
    try:
        notifier_conf = conf(
            tmp_path, "notifier", broker, oslo_pki, policy, "notifier", notify_topic=ntopic
        )
        peers("notify", "notify", notifier_conf, ntopic, "note-1").finish()
        # negative twins: an entity the policy does not allow on notifications, and an
        # unsigned notification injected on the broker
        wrong_conf = conf(
            tmp_path, "wrong", broker, oslo_pki, policy, "client", notify_topic=ntopic
        )
        peers("notify-wrong", "notify", wrong_conf, ntopic, "note-wrong").finish()
        unsigned = {
            "message_id": uuid.uuid4().hex,
            "publisher_id": "x",
            "event_type": "waxtest.event",
            "priority": "INFO",
            "payload": {"tag": "note-unsigned"},
            "timestamp": "2026-01-01 00:00:00",
        }
        broker.publish(envelope(unsigned), EXCHANGE, ntopic + ".info")
        wait_for(lambda: len(refusals(listener.log_text())) == 2, what="two refusals")
        wait_for(lambda: listener.tags() == ["note-1"], what="the notification")
        listener.stop()
        assert listener.tags() == ["note-1"]
        assert listener.records()[0]["payload"]["event_type"] == "waxtest.event"
        log = "\n".join(refusals(listener.log_text()))
        assert '"unsigned"' in log
        assert "notifier-host1" not in log and "rpcclient-api1.example.org" in log
        assert broker.message_count(ntopic + ".info") == 0
        bodies = wire.messages()
        assert len(bodies) == 3
        report = tester.bus.verify_oslo(bodies[0][0], topic=ntopic + ".info", exchange=EXCHANGE)
        assert report["entity"]["id"] == "notifier-host1.example.org"
    finally:
        wire.close()


def injections(tester, topic):
    """(name, body, exchange, routing key, reason code or None for the genuine one)."""
    genuine = tester.sign(rpc_message("genuine"), "client", topic)
    signed = tester.sign(rpc_message("tamper-me"), "client", topic)
    tampered = json.loads(signed)
    tampered["oslo.message"] = tampered["oslo.message"].replace("tamper-me", "tampered!")
    return [
        ("genuine", genuine, EXCHANGE, topic, None),
        ("replayed", genuine, EXCHANGE, topic, "replayed"),
        ("unsigned", envelope(rpc_message("unsigned")), EXCHANGE, topic, "unsigned"),
        ("tampered", json.dumps(tampered).encode(), EXCHANGE, topic, "message-digest-mismatch"),
        (
            "other-topic",
            tester.sign(rpc_message("other-topic"), "client", "waxtest.elsewhere"),
            EXCHANGE,
            topic,
            "topic-mismatch",
        ),
        (
            "other-server",
            tester.sign(rpc_message("other-server"), "client", topic + ".node2"),
            EXCHANGE,
            topic + ".node1",
            "topic-mismatch",
        ),
        (
            "other-exchange",
            tester.sign(rpc_message("other-exchange"), "client", topic, "nova"),
            EXCHANGE,
            topic,
            "topic-mismatch",
        ),
        (
            "fanout-as-cast",
            tester.sign(rpc_message("fanout-as-cast"), "client", topic, topic + "_fanout"),
            EXCHANGE,
            topic,
            "topic-mismatch",
        ),
        (
            "intruder",
            tester.sign(rpc_message("intruder"), "intruder", topic),
            EXCHANGE,
            topic,
            "routing-policy-denied",
        ),
        (
            "revoked",
            tester.sign(rpc_message("revoked"), "revoked", topic),
            EXCHANGE,
            topic,
            "revoked",
        ),
    ]


def test_injected_messages_never_run_an_endpoint(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester
):
    server = start_server(peers, tmp_path, broker, oslo_pki, policy, topic)
    cases = injections(tester, topic)
    for _, body, exchange, key, _ in cases:
        broker.publish(body, exchange, key)
    broker.publish(b"this is not JSON", EXCHANGE, topic)  # oslo cannot unwrap it
    expected = [c for c in cases if c[4]]
    wait_for(lambda: len(refusals(server.log_text())) == len(expected), what="every refusal")
    wait_for(lambda: server.tags() == ["genuine"], what="the genuine cast")
    wait_for(
        lambda: "Failed to process message" in server.log_text(),
        what="oslo to drop the non-JSON message",
    )
    server.stop()
    assert server.tags() == ["genuine"]
    lines = refusals(server.log_text())
    for name, _, _, key, code in expected:
        assert any('"%s"' % code in line and '"%s"' % key in line for line in lines), (
            name,
            code,
            lines,
        )
    assert all("acknowledged, not dispatched" in line for line in lines)
    # acknowledged: nothing is left for the next consumer, though the server is gone
    assert broker.message_count(topic) == 0
    assert broker.message_count(topic + ".node1") == 0


def test_mode_log_delivers_with_a_warning(broker, oslo_pki, policy, peers, topic, tmp_path, tester):
    server = start_server(peers, tmp_path, broker, oslo_pki, policy, topic, mode="log")
    cases = injections(tester, topic)
    for _, body, exchange, key, _ in cases:
        broker.publish(body, exchange, key)
    expected = [c for c in cases if c[4]]
    wait_for(lambda: len(refusals(server.log_text(), "log")) == len(expected), what="every warning")
    # oslo itself drops the replay: it remembers the _unique_id it just dispatched
    wait_for(lambda: len(server.records()) == len(cases) - 1, what="every message to run")
    server.stop()
    assert sorted(server.tags()) == sorted(
        [
            "genuine",
            "unsigned",
            "tampered!",
            "other-topic",
            "other-server",
            "other-exchange",
            "fanout-as-cast",
            "intruder",
            "revoked",
        ]
    )
    warnings = refusals(server.log_text(), "log")
    for name, _, _, key, code in expected:
        assert any('"%s"' % code in line for line in warnings), (name, code, warnings)
    assert all(" WARNING " in line for line in warnings)
    assert refusals(server.log_text()) == []


def test_sign_only_signs_and_does_not_verify(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester
):
    server = start_server(peers, tmp_path, broker, oslo_pki, policy, topic, mode="sign-only")
    wire = broker.spy(EXCHANGE, topic)
    try:
        broker.publish(envelope(rpc_message("unsigned")), EXCHANGE, topic)
        client_conf = conf(tmp_path, "client", broker, oslo_pki, policy, "client", mode="sign-only")
        peers("cast", "cast", client_conf, topic, "signed").finish()
        wait_for(lambda: server.tags() == ["signed", "unsigned"], what="both casts")
        server.stop()
        assert "waxseal: " not in "\n".join(
            line for line in server.log_text().splitlines() if "signing as" not in line
        )
        bodies = [json.loads(b) for b, _ in wire.messages()]
        assert ["oslo.signature" in b for b in bodies] == [False, True]
    finally:
        wire.close()


def test_plain_rabbit_client_is_refused_by_an_enforcing_server(
    broker, oslo_pki, policy, peers, topic, tmp_path
):
    """Why the rollout signs everywhere first: an unsigned sender is refused."""
    server = start_server(peers, tmp_path, broker, oslo_pki, policy, topic)
    plain = conf(tmp_path, "plain", broker, oslo_pki, policy, "client", scheme="rabbit")
    peers("cast", "cast", plain, topic, "plain").finish()
    wait_for(lambda: refusals(server.log_text()), what="the refusal")
    server.stop()
    assert server.tags() == []
    assert '"unsigned"' in refusals(server.log_text())[0]
    assert broker.message_count(topic) == 0


def test_forged_replies_are_refused(broker, oslo_pki, policy, peers, topic, tmp_path, tester):
    """A reply is admitted only from the server the call went to, for a call waiting."""
    server = start_server(peers, tmp_path, broker, oslo_pki, policy, topic)
    wire = broker.spy(EXCHANGE, topic + ".node1")
    try:
        client = peers(
            "call",
            "slowcall",
            conf(tmp_path, "client", broker, oslo_pki, policy, "client"),
            topic,
            "slow-1",
            "node1",
        )
        ((body, _),) = wait_for(wire.messages, what="the call on the wire")
        call = json.loads(json.loads(body)["oslo.message"])
        reply_q, msg_id = call["_reply_q"], call["_msg_id"]

        def reply(result, msg_id=msg_id):
            return {
                "result": result,
                "failure": None,
                "ending": True,
                "_msg_id": msg_id,
                "_unique_id": uuid.uuid4().hex,
            }

        forged = {"echo": "slow-1", "server": "forged"}
        forgeries = [
            ("unsigned", envelope(reply(forged))),
            ("routing-policy-denied", tester.sign(reply(forged), "intruder", reply_q, None)),
            # allowed on the topic, but not the server the call was addressed to
            ("reply-not-from-callee", tester.sign(reply(forged), "client", reply_q, None)),
            # another server, validly signed, the right msg_id
            ("reply-not-from-callee", tester.sign(reply(forged), "server2", reply_q, None)),
            # the callee itself, answering a call nobody waits for
            ("reply-unexpected", tester.sign(reply(forged, "0" * 32), "server", reply_q, None)),
        ]
        for _, forgery in forgeries:
            broker.publish(forgery, "", reply_q)
        answer = json.loads(client.finish())
        assert answer == {"echo": "slow-1", "server": "node1"}
        lines = refusals(client.log_text())
        assert len(lines) == len(forgeries), client.log_text()
        for (code, _), line in zip(forgeries, lines):
            assert '"%s"' % code in line, (code, line)
        server.stop()
    finally:
        wire.close()


def test_log_lines_escape_what_they_quote():
    assert driver._escape('a"b\nc\x1b[31m\u00e9') == '"a\\"b\\nc\\u001b[31m\\u00e9"'


def test_a_refused_call_is_never_answered(broker, oslo_pki, policy, peers, topic, tmp_path):
    """The caller of a refused RPC call gets no reply, not even an error: it times out."""
    server = start_server(peers, tmp_path, broker, oslo_pki, policy, topic)
    intruder = conf(tmp_path, "intruder", broker, oslo_pki, policy, "intruder")
    caller = peers("call", "call", intruder, topic, "no-answer")
    caller.proc.communicate(timeout=60)
    assert caller.proc.returncode != 0
    assert "MessagingTimeout" in caller.log_text()
    server.stop()
    assert server.tags() == []
    (line,) = refusals(server.log_text())
    assert '"routing-policy-denied"' in line and "intruder-evil.example.org" in line
    assert refusals(caller.log_text()) == []  # nothing came back to refuse


def test_sender_routed_and_default_exchange_deliveries_are_refused(
    broker, oslo_pki, policy, peers, topic, tmp_path, tester
):
    """A cast signed for topic.node1 reaches node2 only by CC, BCC or the default
    exchange: all refused there. RabbitMQ strips BCC before delivery, so node2 refuses
    that copy because its routing key (topic.node1) matches none of node2's bindings;
    node1 refuses the CC copy (it carries CC) and runs the BCC and plain copies, which
    are signed for it and arrived by its own binding."""
    s1 = start_server(peers, tmp_path, broker, oslo_pki, policy, topic)
    s2 = peers(
        "node2",
        "server",
        conf(tmp_path, "server2", broker, oslo_pki, policy, "server2"),
        topic,
        "node2",
    ).wait_ready()
    # RabbitMQ copies it to topic.node2 as well; both copies keep the key topic.node1
    cc = tester.sign(rpc_message("cc"), "client", topic + ".node1")
    broker.publish(cc, EXCHANGE, topic + ".node1", headers={"CC": [topic + ".node2"]})
    bcc = tester.sign(rpc_message("bcc"), "client", topic + ".node1")
    broker.publish(bcc, EXCHANGE, topic + ".node1", headers={"BCC": [topic + ".node2"]})
    # straight into node2's queue by name
    default = tester.sign(rpc_message("default-exchange"), "client", topic + ".node1")
    broker.publish(default, "", topic + ".node2")
    plain = tester.sign(rpc_message("plain"), "client", topic + ".node1")
    broker.publish(plain, EXCHANGE, topic + ".node1")
    wait_for(lambda: s1.tags() == ["bcc", "plain"], what="the plain and BCC casts on node1")
    wait_for(lambda: refusals(s1.log_text()), what="node1's refusal")
    wait_for(lambda: len(refusals(s2.log_text())) == 3, what="node2's three refusals")
    s1.stop()
    s2.stop()
    assert s1.tags() == ["bcc", "plain"] and s2.tags() == []
    (line1,) = refusals(s1.log_text())
    assert '"sender-routed"' in line1
    cc_line, bcc_line, default_line = refusals(s2.log_text())
    assert '"sender-routed"' in cc_line
    assert '"route-not-subscribed"' in bcc_line and '"%s.node1"' % topic in bcc_line
    assert '"route-not-subscribed"' in default_line and "default exchange" in default_line
    assert broker.message_count(topic + ".node2") == 0


def test_a_transient_failure_requeues_until_it_clears(
    broker, oslo_pki, peers, topic, tmp_path, tester
):
    """The CRL server is down: the cast is neither dispatched nor dropped; once the CRL
    can be fetched, it runs. The message's own faults are still refused (not requeued)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = "http://127.0.0.1:%d/crl.pem" % port
    crl_policy = write_policy(
        tmp_path / "crl-url.json", {"fetch": {"crl_cache_expiry_secs": 0, "timeout_ms": 2000}}
    )
    server = start_server(
        peers, tmp_path, broker, oslo_pki, crl_policy, topic, crl=url
    )
    broker.publish(tester.sign(rpc_message("waited"), "client", topic), EXCHANGE, topic)
    requeued = "could not decide on a message"
    wait_for(
        lambda: server.log_text().count(requeued) >= 3, what="the cast requeued three times"
    )
    assert server.tags() == []
    assert refusals(server.log_text()) == []
    assert '"crl-unavailable"' in server.log_text()
    http = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=str(oslo_pki["dir"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: server.tags() == ["waited"], what="the cast once the CRL is back")
        # the twin: a message's own fault is refused and acknowledged, not requeued
        broker.publish(envelope(rpc_message("unsigned")), EXCHANGE, topic)
        wait_for(lambda: refusals(server.log_text()), what="the unsigned cast refused")
        server.stop()
    finally:
        http.kill()
        http.wait()
    assert server.tags() == ["waited"]
    assert '"unsigned"' in refusals(server.log_text())[0]
    assert broker.message_count(topic) == 0


def test_compressed_deliveries(broker, oslo_pki, policy, peers, topic, tmp_path, tester):
    """Refused by default; with allow_compression, admitted up to max_message_bytes
    decompressed."""
    strict = start_server(peers, tmp_path, broker, oslo_pki, policy, topic)
    broker.publish(
        tester.sign(rpc_message("zipped"), "client", topic), EXCHANGE, topic, compression="zlib"
    )
    broker.publish(tester.sign(rpc_message("flat"), "client", topic), EXCHANGE, topic)
    wait_for(lambda: strict.tags() == ["flat"], what="the uncompressed cast")
    wait_for(lambda: refusals(strict.log_text()), what="the compressed cast refused")
    strict.stop()
    assert strict.tags() == ["flat"]
    (line,) = refusals(strict.log_text())
    assert '"compressed"' in line

    topic2 = topic + "z"
    lenient = peers(
        "lenient",
        "server",
        conf(
            tmp_path,
            "lenient",
            broker,
            oslo_pki,
            policy,
            "server",
            waxseal_extra=["allow_compression = true", "max_message_bytes = 4096"],
        ),
        topic2,
        "node1",
    ).wait_ready()
    broker.publish(
        tester.sign(rpc_message("zipped"), "client", topic2), EXCHANGE, topic2, compression="zlib"
    )
    # compresses to far less than 4096 bytes, decompresses to more
    big = rpc_message("too-big")
    big["args"]["padding"] = "x" * 8000
    broker.publish(tester.sign(big, "client", topic2), EXCHANGE, topic2, compression="zlib")
    wait_for(lambda: lenient.tags() == ["zipped"], what="the compressed cast")
    wait_for(lambda: refusals(lenient.log_text()), what="the oversized cast refused")
    lenient.stop()
    assert lenient.tags() == ["zipped"]
    (line,) = refusals(lenient.log_text())
    assert '"message-too-large"' in line


def test_a_broker_redelivery_is_dispatched_not_refused_as_replayed(broker, tester, topic):
    """The guard admits a delivery, the channel closes before it is acknowledged, and
    the broker redelivers it: admitted again (a duplicate, for the consumer to
    deduplicate). The same body published again (not a redelivery) is `replayed`."""
    import kombu
    from oslo_messaging._drivers import impl_rabbit

    guard = driver.Guard(tester.bus, tester.signer("server"))
    queue = "waxseal-redelivery-" + uuid.uuid4().hex
    exchange = kombu.Exchange(EXCHANGE, type="topic", durable=False)
    q = kombu.Queue(queue, exchange=exchange, routing_key=topic, auto_delete=False)
    subscription = (EXCHANGE, queue, [topic])
    body = tester.sign(rpc_message("once"), "client", topic)

    def take():
        with broker.connection() as c:
            m = wait_for(lambda: q(c.default_channel).get(), what="a delivery")
            message = impl_rabbit.RabbitMessage(m)
            admitted = guard.admit(message, subscription)
            redelivered = m.delivery_info["redelivered"]
            if admitted:
                m.ack()  # never reached in enforce for a refusal: the guard acked it
            return admitted, redelivered, dict(message)

    try:
        with broker.connection() as c:
            q(c.default_channel).declare()
        broker.publish(body, EXCHANGE, topic)
        with broker.connection() as c:  # admitted, then the channel closes unacked
            m = wait_for(lambda: q(c.default_channel).get(), what="the first delivery")
            assert guard.admit(impl_rabbit.RabbitMessage(m), subscription)
            assert not m.delivery_info["redelivered"]
        admitted, redelivered, message = take()
        assert redelivered and admitted
        assert message["args"]["tag"] == "once"
        broker.publish(body, EXCHANGE, topic)  # a replay, not a redelivery
        with broker.connection() as c:
            m = wait_for(lambda: q(c.default_channel).get(), what="the replay")
            assert not m.delivery_info["redelivered"]
            assert not guard.admit(impl_rabbit.RabbitMessage(m), subscription)
        assert broker.message_count(queue) == 0
    finally:
        broker.delete_queue(queue)


def test_every_call_signed_is_remembered_and_nothing_else(tester, topic):
    """Guard.sign remembers each RPC call it signs inside _send (so that its reply is
    admitted), however its text spells the keys, and nothing that is not a call: a cast
    with `_reply_q` deeper in it, a reply mentioning it. Outside _send a call is refused."""
    import types

    guard = driver.Guard(tester.bus, tester.signer("client"))
    target = types.SimpleNamespace(topic=topic, server="node1")
    call = dict(rpc_message("plain"), _msg_id="id-plain", _reply_q="reply_x")
    escaped = json.dumps(dict(rpc_message("escaped"), _msg_id="id-escaped", _reply_q="reply_x"))
    escaped = escaped.replace('"_reply_q"', '"\\u005freply_q"')
    assert "_reply_q" not in escaped and json.loads(escaped)["_reply_q"] == "reply_x"
    cast = dict(rpc_message("cast", note="_reply_q"), _msg_id="id-cast")
    reply = {"result": {"_reply_q": 1}, "ending": True, "_msg_id": "id-reply"}
    with guard.sending(target):
        for msg, exchange, key in (
            (serialize_msg(call), EXCHANGE, topic),
            ({"oslo.version": "2.0", "oslo.message": escaped}, EXCHANGE, topic),
            (serialize_msg(cast), EXCHANGE, topic),
            (serialize_msg(reply), "", "reply_x"),
        ):
            signed = guard.sign(msg, exchange, key)
            assert driver.SIGNATURE_KEY in signed
        assert set(guard._pending) == {"id-plain", "id-escaped"}
        assert guard._call_for({"_msg_id": "id-escaped"}) == ("id-escaped", topic, "node1")
    assert guard._pending == {}, "forgotten once _send returns"
    for text in (json.dumps(call), escaped):
        with pytest.raises(waxseal.WaxsealError):
            guard.sign({"oslo.version": "2.0", "oslo.message": text}, EXCHANGE, topic)


def test_guard_sign_is_sign_oslo_of_the_envelope(tester, topic):
    """Guard.sign signs oslo.messaging's envelope (its two members) with
    Bus.oslo_signature on the dict, anything else with Bus.sign_oslo of its JSON: either
    way the receiver admits it on its route only, and what sign_oslo refuses is refused
    with the same reason code."""
    guard = driver.Guard(tester.bus, tester.signer("client"))
    receiver = tester.bus

    def verify(signed, route_topic=topic):
        return receiver.verify_oslo(
            json.dumps(signed).encode(), topic=route_topic, exchange=EXCHANGE
        )

    msg = serialize_msg(rpc_message("fast"))
    signed = guard.sign(msg, EXCHANGE, topic)
    assert list(signed) == ["oslo.version", "oslo.message", "oslo.signature"]
    assert signed["oslo.message"] == msg["oslo.message"] and "oslo.signature" not in msg
    assert verify(signed)["message_text"] == msg["oslo.message"]
    # Its twins: on another route, or with its text changed, it is refused.
    moved = guard.sign(serialize_msg(rpc_message("moved")), EXCHANGE, topic)
    with pytest.raises(waxseal.Rejected) as e:
        verify(moved, topic + ".elsewhere")
    assert e.value.code == "topic-mismatch"
    tampered = dict(signed, **{"oslo.message": msg["oslo.message"].replace("fast", "FAST")})
    with pytest.raises(waxseal.Rejected) as e:
        verify(tampered)
    assert e.value.code == "message-digest-mismatch"
    # An envelope with another member goes through sign_oslo: kept, and signed.
    extra = dict(serialize_msg(rpc_message("extra")), **{"x-extra": 1})
    signed = guard.sign(extra, EXCHANGE, topic)
    assert signed["x-extra"] == 1 and verify(signed)["signed"] is True
    # What sign_oslo refuses, Guard.sign refuses alike (a duplicate key, a version that
    # is not 2.0, a lone surrogate: not UTF-8, so not the fast path).
    for bad in (
        {"oslo.version": "2.0", "oslo.message": '{"method": "m", "method": "n"}'},
        {"oslo.version": "1.0", "oslo.message": json.dumps(rpc_message("old"))},
        {"oslo.version": "2.0", "oslo.message": '{"method": "\udc80"}'},
    ):
        with pytest.raises(waxseal.WaxsealError) as ours:
            guard.sign(bad, EXCHANGE, topic)
        with pytest.raises(waxseal.WaxsealError) as theirs:
            tester.bus.sign_oslo(
                json.dumps(bad).encode(), tester.signer("client"), topic=topic, exchange=EXCHANGE
            )
        assert type(ours.value) is type(theirs.value), (bad, ours.value)
        assert str(ours.value) == str(theirs.value)
        assert getattr(ours.value, "code", None) == getattr(theirs.value, "code", None)
