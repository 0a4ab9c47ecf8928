"""Bus: fedmsg-style sign / validate / validate_signed_by / strip_credentials, oslo
envelopes with their route, configuration errors and reload."""

import base64
import json
import subprocess

import pytest

import waxseal
from conftest import BODHI, COMPUTE, CONDUCTOR, REVOKED

TOPIC = "org.example.prod.bodhi.update.comment"
MESSAGE = b'{"topic": "org.example.prod.bodhi.update.comment", "msg": {"text": "LGTM", "karma": 1.0}}'


def message(n):
    """Distinct messages: two signatures of the same message in the same second are the
    same message to the replay cache (same signed attributes)."""
    return MESSAGE.replace(b"LGTM", b"LGTM %d" % n)


def refused(code, fn, *args, **kwargs):
    with pytest.raises(waxseal.Rejected) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


# fedmsg-style messages


def test_sign_keeps_the_message_text_and_validate_accepts(bus, signers):
    signed = bus.sign(MESSAGE, signers[BODHI])
    # Members byte for byte (1.0 stays 1.0), then crypto, signature, certificate.
    assert signed.startswith(b'{"topic": "org.example.prod.bodhi.update.comment","msg": {"text": "LGTM", "karma": 1.0},"crypto":"cms","signature":')
    fields = json.loads(signed)
    assert fields["crypto"] == "cms"
    assert "BEGIN CERTIFICATE" in base64.b64decode(fields["certificate"]).decode()
    report = bus.validate(signed)
    assert report["signed"] is True
    assert report["signer"].endswith(BODHI)
    assert report["entity"]["id"] == BODHI
    assert report["authorization"]["allowed"] is True


def test_validate_on_its_arrival_topic(bus, signers):
    signed = bus.sign(MESSAGE, signers[BODHI])
    assert bus.validate(signed, topic=TOPIC)["signed"]
    other = bus.sign(message(1), signers[BODHI])
    e = refused("topic-mismatch", bus.validate, other, topic="org.example.prod.fas.user")
    assert e.stage == "route"


def test_tampered_message_is_refused(bus, signers):
    signed = bus.sign(MESSAGE, signers[BODHI])
    e = refused("message-digest-mismatch", bus.validate, signed.replace(b"LGTM", b"NACK"))
    assert e.stage == "signature"


def test_forged_certificate_field_is_refused(bus, signers):
    """A signature by the bodhi key presented with another service's certificate."""
    signed = json.loads(bus.sign(MESSAGE, signers[BODHI]))
    signed["certificate"] = base64.b64encode(signers[COMPUTE].certificate_pem.encode()).decode()
    e = refused("signer-certificate-not-found", bus.validate, json.dumps(signed).encode())
    assert e.stage == "certificate"


def test_unsigned_message_is_refused(bus):
    e = refused("unsigned", bus.validate, MESSAGE)
    assert e.stage == "signature"


def test_unauthorized_topic_is_refused(bus, signers):
    """compute may publish on scheduler, not on bodhi's topics."""
    signed = bus.sign(MESSAGE, signers[COMPUTE])
    e = refused("routing-policy-denied", bus.validate, signed)
    assert e.stage == "authorization"


def test_replayed_message_is_refused(bus, signers):
    signed = bus.sign(MESSAGE, signers[BODHI])
    bus.validate(signed)
    e = refused("replayed", bus.validate, signed)
    assert e.stage == "freshness"
    # Another message from the same signer is accepted.
    assert bus.validate(bus.sign(message(1), signers[BODHI]))["signed"]


def test_replay_false_runs_every_other_check_and_records_nothing(bus, signers):
    """validate(replay=False) (what waxseal.fedmsg asks): the same message any number of
    times, nothing recorded; every other check still refuses."""
    signed = bus.sign(message(300), signers[BODHI])
    for _ in range(3):
        report = bus.validate(signed, replay=False)
        assert report["signed"] is True and "replay_key" not in report
        assert bus.validate_signed_by(signed, BODHI, replay=False)["entity"]["id"] == BODHI
    assert bus.validate(signed, topic=TOPIC, replay=False)["signed"]
    # Nothing was recorded: its first validation with the replay store passes, the
    # second is a replay.
    assert bus.validate(signed)["signed"]
    refused("replayed", bus.validate, signed)
    # The twins: tampered, another signer, another arrival topic, unauthorized, revoked.
    refused("message-digest-mismatch", bus.validate, signed.replace(b"LGTM", b"NACK"),
            replay=False)
    refused("routing-policy-denied", bus.validate_signed_by, signed, COMPUTE, replay=False)
    refused("topic-mismatch", bus.validate, signed, topic="org.example.prod.fas.user",
            replay=False)
    refused("routing-policy-denied", bus.validate, bus.sign(message(301), signers[COMPUTE]),
            replay=False)
    refused("revoked", bus.validate, bus.sign(message(302), signers[REVOKED]), replay=False)


def serialized_report(waxseal_bin, config, signed, tmp_path, *args):
    """What `waxseal msg validate --json` reports for the same checks: its `result` is the
    verified message as serde writes it (JSON parsed keeping the key order)."""
    path = tmp_path / "message.json"
    path.write_bytes(signed)
    out = subprocess.run(
        [waxseal_bin, "msg", "validate", "--json", "--config", config, "--in", str(path), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout)
    assert report["valid"] is True
    return report["result"]


def test_the_validation_report_is_the_serialized_one(bus_config, signers, waxseal_bin, tmp_path):
    """Bus.validate and Bus.admit build their reports directly; they are the dicts the
    serialized report holds: the same keys in the same (sorted) order, the same values,
    None where serde writes null and no key where it leaves one out."""
    config = bus_config()
    bus = waxseal.Bus(config)
    for n in range(2):
        signed = bus.sign(message(400 + n), signers[BODHI])
        ours = bus.validate(signed, replay=False)
        theirs = bus.admit(signed)
        assert list(theirs) == sorted(theirs)
        assert theirs.pop("format") == "fedmsg" and len(theirs.pop("replay_key")) == 64
        assert theirs.pop("duplicate") is False
        serialized = serialized_report(waxseal_bin, config, signed, tmp_path)
        assert ours == theirs == serialized
        assert json.dumps(ours) == json.dumps(theirs) == json.dumps(serialized), "the same order"
        assert ours["entity"]["fields"] == {"service": "bodhi", "host": "app01.example.org"}
        assert [d["rule"] is None for d in ours["authorization"]["decisions"]] == [True, False]
    # An unsigned message on an unsigned topic: no signer, entity or authorization keys.
    bus = waxseal.Bus(bus_config(unsigned_topics=["org.example.prod.bodhi.#"]))
    ours = bus.validate(MESSAGE, replay=False)
    theirs = bus.admit(MESSAGE)
    assert theirs.pop("format") == "fedmsg" and theirs.pop("duplicate") is False
    assert ours == theirs and list(ours) == ["note", "signed"] and ours["signed"] is False
    # The twin: no entity rule matches the signer: refused, not reported.
    bus = waxseal.Bus(bus_config(entity_rules=[{"source": "cn", "pattern": "^nobody$"}]))
    e = refused("entity-unmapped", bus.validate, bus.sign(MESSAGE, signers[BODHI]), replay=False)
    assert e.stage == "authorization"


def test_revoked_signer_is_refused(bus_config, signers):
    bus = waxseal.Bus(bus_config(routing_policy={"org.example.prod.#": ["bodhi-*", "fas-*"]}))
    signed = bus.sign(MESSAGE, signers[REVOKED])
    e = refused("revoked", bus.validate, signed)
    assert e.stage == "certificate"


def test_cache_stats_of_a_bus(bus, signers):
    s = bus.cache_stats()
    assert (s["path_hits"], s["path_misses"], s["generation"]) == (0, 0, 0)
    for n in range(3):
        bus.validate(bus.sign(message(100 + n), signers[BODHI]))
    s = bus.cache_stats()
    assert (s["path_hits"], s["path_misses"], s["path_entries"]) == (2, 1, 1)
    # Twin: a tampered message is refused, and its signer's cached path does not help it.
    signed = bytearray(bus.sign(message(200), signers[BODHI]))
    i = signed.index(b"LGTM 200")
    signed[i + 5] = ord("3")
    refused("message-digest-mismatch", bus.validate, bytes(signed))


def test_untrusted_signer_is_refused(bus, other_pki):
    signed = bus.sign(MESSAGE, other_pki.signer(BODHI))
    refused("untrusted", bus.validate, signed)


def test_validate_signed_by(bus, signers):
    signed = bus.sign(MESSAGE, signers[BODHI])
    assert bus.validate_signed_by(signed, BODHI)["entity"]["id"] == BODHI
    other = bus.sign(message(1), signers[BODHI])
    e = refused("routing-policy-denied", bus.validate_signed_by, other, "fas-app02.example.org")
    assert e.stage == "authorization"
    third = bus.sign(message(2), signers[BODHI])
    refused("topic-mismatch", bus.validate_signed_by, third, BODHI, topic="org.example.prod.x")


def test_sign_refuses_what_it_cannot_sign_exactly(bus, signers):
    refused("malformed-json", bus.sign, b'{"topic": "a", "topic": "b"}', signers[BODHI])
    refused("inexact-number", bus.sign, b'{"topic": "a", "n": 9007199254740993}', signers[BODHI])
    refused("malformed-topic", bus.sign, b'{"topic": "a b"}', signers[BODHI])
    refused("malformed-json", bus.validate, b"\xff")


def test_strip_credentials(bus, signers):
    signed = bus.sign(MESSAGE, signers[BODHI])
    stripped = json.loads(waxseal.strip_credentials(signed))
    assert "signature" not in stripped and "certificate" not in stripped
    assert stripped["crypto"] == "cms"
    assert stripped["msg"] == {"text": "LGTM", "karma": 1.0}
    refused("malformed-json", waxseal.strip_credentials, b"[")


def test_switches_and_unsigned_topics(bus_config):
    bus = waxseal.Bus(bus_config(unsigned_topics=["org.example.prod.heartbeat"], sign_messages=False))
    assert bus.sign_messages is False and bus.validate_signatures is True
    assert bus.validate(b'{"topic": "org.example.prod.heartbeat"}')["signed"] is False
    refused("unsigned", bus.validate, b'{"topic": "org.example.prod.heartbeats"}')


# Configuration


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"trust": []}',
        '{"trust": ["missing.crt"]}',
        '{"trust": ["PKI_ROOT"], "routing_polic": {}}',
        '{"trust": ["PKI_ROOT"], "routing_policy": {"a.b*": ["x"]}}',
    ],
)
def test_bad_configuration_is_a_config_error(pki, tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text.replace("PKI_ROOT", pki.root))
    with pytest.raises(waxseal.ConfigError):
        waxseal.Bus(str(path))


def test_missing_configuration_is_a_config_error(tmp_path):
    with pytest.raises(waxseal.ConfigError):
        waxseal.Bus(str(tmp_path / "absent.json"))


def test_reload_applies_the_new_policy_and_keeps_the_replay_cache(bus_config, signers):
    path = bus_config()
    bus = waxseal.Bus(path)
    seen = bus.sign(MESSAGE, signers[BODHI])
    bus.validate(seen)
    with open(path) as f:
        config = json.load(f)
    config["routing_policy"]["org.example.prod.bodhi.#"] = ["fas-*"]
    with open(path, "w") as f:
        json.dump(config, f)
    bus.reload()
    refused("routing-policy-denied", bus.validate, bus.sign(message(1), signers[BODHI]))
    config["routing_policy"]["org.example.prod.bodhi.#"] = ["bodhi-*"]
    with open(path, "w") as f:
        json.dump(config, f)
    bus.reload()
    refused("replayed", bus.validate, seen)
    # A broken file: ConfigError, and the bus keeps working as before.
    with open(path, "w") as f:
        f.write("{")
    with pytest.raises(waxseal.ConfigError):
        bus.reload()
    assert bus.validate(bus.sign(message(2), signers[BODHI]))["signed"]


# oslo.messaging envelopes

RPC = b'{"method": "select_destinations", "args": {"host": "node01.example.org"}}'


def oslo_envelope(message=RPC):
    return json.dumps({"oslo.version": "2.0", "oslo.message": message.decode()}).encode()


def test_oslo_sign_and_verify_on_its_route(bus, signers):
    signed = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler", exchange="nova")
    env = json.loads(signed)
    assert env["oslo.version"] == "2.0" and env["oslo.message"] == RPC.decode()
    report = bus.verify_oslo(signed, topic="scheduler", exchange="nova")
    assert report["signed"] is True
    assert report["message_text"] == RPC.decode()
    assert report["message"]["args"]["host"] == "node01.example.org"
    assert report["route"] == {"topic": "scheduler", "exchange": "nova"}
    assert [h["entity"] for h in report["hops"]] == [COMPUTE]


def test_the_oslo_reports_are_the_serialized_ones(bus_config, signers, waxseal_bin, tmp_path):
    """Bus.admit and Bus.verify_oslo build their oslo reports directly: the serialized
    report (`waxseal msg validate --json`) with `message_text` and the admission's
    members added, in the same (sorted) order throughout, hops with their optional keys
    (role, action) and the route with and without its exchange."""
    config = bus_config()
    bus = waxseal.Bus(config)
    on_exchange = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler",
                                exchange="nova")
    forwarded = bus.countersign_oslo(
        bus.sign_oslo(oslo_envelope(RPC.replace(b"select", b"choose")), signers[COMPUTE],
                      topic="conductor"),
        signers[CONDUCTOR], topic="scheduler", role="conductor", action="forwarded",
    )
    for signed, exchange in ((on_exchange, "nova"), (forwarded, None)):
        route = ["--topic", "scheduler"] + (["--exchange", exchange] if exchange else [])
        serialized = serialized_report(waxseal_bin, config, signed, tmp_path, *route)
        checked = waxseal.Bus(config).verify_oslo(signed, topic="scheduler", exchange=exchange)
        delivery = {"exchange": exchange, "signed_exchange": True} if exchange else {}
        admitted = waxseal.Bus(config).admit(signed, routing_key="scheduler", **delivery)
        for report in (checked, admitted):
            assert list(report) == sorted(report)
            assert report.pop("message_text") == json.loads(signed)["oslo.message"]
        assert admitted.pop("format") == "oslo" and len(admitted.pop("replay_key")) == 64
        assert admitted.pop("duplicate") is False
        assert checked == admitted == serialized
        assert json.dumps(checked) == json.dumps(admitted) == json.dumps(serialized)
        assert serialized["route"] == dict({"exchange": exchange} if exchange else {},
                                           topic="scheduler")
    assert [h.get("role") for h in serialized["hops"]] == [None, "conductor"]
    assert serialized["hops"][1]["action"] == "forwarded"
    # The twin: the route it was not signed for is refused, not reported.
    refused("topic-mismatch", bus.verify_oslo, on_exchange, topic="scheduler")


def test_oslo_signature_is_the_member_sign_oslo_adds(bus, signers):
    """Bus.oslo_signature: the `oslo.signature` of the 2.0 envelope of a text, bound to
    its route and to that text; refused as sign_oslo refuses the envelope."""
    text = RPC.decode()
    signature = bus.oslo_signature(text, signers[COMPUTE], topic="scheduler", exchange="nova")
    envelope = {"oslo.version": "2.0", "oslo.message": text, "oslo.signature": signature}
    report = bus.verify_oslo(json.dumps(envelope).encode(), topic="scheduler", exchange="nova")
    assert report["message_text"] == text and [h["entity"] for h in report["hops"]] == [COMPUTE]
    # Twins: on another route, with another text, from a signer not allowed there.
    for n, (signer, topic, exchange, code) in enumerate((
        (COMPUTE, "scheduler", "cinder", "topic-mismatch"),
        (COMPUTE, "scheduler.sch01", "nova", "topic-mismatch"),
        (BODHI, "scheduler", "nova", "routing-policy-denied"),
    )):
        text = RPC.decode().replace("select", "select%d" % n)
        signature = bus.oslo_signature(text, signers[signer], topic="scheduler", exchange="nova")
        envelope = {"oslo.version": "2.0", "oslo.message": text, "oslo.signature": signature}
        refused(code, bus.verify_oslo, json.dumps(envelope).encode(), topic=topic,
                exchange=exchange)
    envelope["oslo.message"] = text.replace("select", "delete")
    refused("message-digest-mismatch", bus.verify_oslo, json.dumps(envelope).encode(),
            topic="scheduler", exchange="nova")
    for bad in ('{"method": "m", "method": "n"}', '{"n": 1e400}'):
        e = refused(refused_code(bus, bad, signers), bus.oslo_signature, bad, signers[COMPUTE],
                    topic="scheduler")
        assert e.stage == "format"


def refused_code(bus, text, signers):
    """The reason code sign_oslo refuses `text`'s envelope with."""
    with pytest.raises(waxseal.Rejected) as info:
        bus.sign_oslo(oslo_envelope(text.encode()), signers[COMPUTE], topic="scheduler")
    return info.value.code


def test_oslo_bare_message_is_wrapped(bus, signers):
    signed = bus.sign_oslo(RPC, signers[COMPUTE], topic="scheduler")
    assert bus.verify_oslo(signed, topic="scheduler")["message_text"] == RPC.decode()


def test_oslo_misrouted_is_refused(bus, signers):
    signed = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler", exchange="nova")
    e = refused("topic-mismatch", bus.verify_oslo, signed, topic="scheduler.sch01")
    assert e.stage == "route"
    refused("topic-mismatch", bus.verify_oslo, signed, topic="scheduler", exchange="cinder")
    refused("topic-mismatch", bus.verify_oslo, signed, topic="scheduler")


def test_oslo_tampered_unsigned_replayed_unauthorized(bus, signers):
    signed = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler")
    tampered = signed.replace(b"select_destinations", b"delete_everything__")
    refused("message-digest-mismatch", bus.verify_oslo, tampered, topic="scheduler")
    refused("unsigned", bus.verify_oslo, oslo_envelope(), topic="scheduler")
    bus.verify_oslo(signed, topic="scheduler")
    refused("replayed", bus.verify_oslo, signed, topic="scheduler")
    # bodhi may not send to the scheduler.
    bodhi = bus.sign_oslo(oslo_envelope(), signers[BODHI], topic="scheduler")
    refused("routing-policy-denied", bus.verify_oslo, bodhi, topic="scheduler")
    # A claim about another host than the signer's.
    lying = oslo_envelope(b'{"method": "m", "args": {"host": "node99.example.org"}}')
    signed = bus.sign_oslo(lying, signers[COMPUTE], topic="scheduler")
    e = refused("claim-mismatch", bus.verify_oslo, signed, topic="scheduler")
    assert e.stage == "authorization"


def test_oslo_countersigned_hop_rebinds_the_route(bus, signers):
    signed = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="conductor")
    forwarded = bus.countersign_oslo(
        signed, signers[CONDUCTOR], topic="scheduler", role="conductor", action="forwarded"
    )
    report = bus.verify_oslo(forwarded, topic="scheduler")
    assert [h["entity"] for h in report["hops"]] == [COMPUTE, CONDUCTOR]
    assert report["hops"][1]["role"] == "conductor"
    refused("topic-mismatch", bus.verify_oslo, forwarded, topic="conductor")


def test_bus_from_json_text(pki, signers, tmp_path):
    config = {
        "trust": ["root-ca.crt"],
        "certs": ["signing-ca.crt"],
        "crls": ["crl.pem"],
        "routing_policy": {"org.example.prod.bodhi.#": ["bodhi-*"]},
    }
    bus = waxseal.Bus.from_json(json.dumps(config), base=str(pki.dir))
    assert bus.validate(bus.sign(message(7), signers[BODHI]))["signed"]
    refused("routing-policy-denied", bus.validate, bus.sign(message(7), signers[COMPUTE]))
    bus.reload()
    with pytest.raises(waxseal.ConfigError):
        waxseal.Bus.from_json(json.dumps(config), base=str(tmp_path))
    with pytest.raises(waxseal.ConfigError):
        waxseal.Bus.from_json('{"trust": ["root-ca.crt"], "unknown": 1}', base=str(pki.dir))


# Replay: admitted, then settled


def test_settle_turns_a_redelivery_of_an_admitted_message_into_a_replay(bus_config, signers):
    bus = waxseal.Bus(bus_config())
    assert bus.replay_store == "memory"
    first = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler")
    report = bus.admit(first, routing_key="scheduler")
    key = report["replay_key"]
    assert len(key) == 64 and report["duplicate"] is False
    # Admitted, not settled: a broker redelivery is a flagged duplicate, a new delivery
    # of the same message a replay.
    assert bus.admit(first, routing_key="scheduler", redelivered=True)["duplicate"] is True
    refused("replayed", bus.admit, first, routing_key="scheduler")
    bus.settle(key)
    # Settled: a redelivery is a replay too.
    e = refused("replayed", bus.admit, first, routing_key="scheduler", redelivered=True)
    assert e.transient is False
    # Another message is untouched by that settle (its redelivery is still a duplicate).
    other = bus.sign_oslo(
        oslo_envelope(RPC.replace(b"select", b"choose")), signers[COMPUTE], topic="scheduler"
    )
    other_key = bus.admit(other, routing_key="scheduler")["replay_key"]
    assert other_key != key
    assert bus.admit(other, routing_key="scheduler", redelivered=True)["duplicate"] is True
    # Settling a key the store does not hold is not an error; a malformed key is.
    bus.settle("00" * 32)
    for bad in ("", "zz" * 32, "00" * 31, key + "00"):
        with pytest.raises(ValueError):
            bus.settle(bad)


def test_replay_store_setting_of_the_bus_and_from_json(pki, bus_config, signers, tmp_path):
    journal = tmp_path / "replay.journal"
    path = bus_config(replay_store="file:%s" % journal)
    a = waxseal.Bus(path)
    b = waxseal.Bus(path)
    assert a.replay_store.startswith("file ") and str(journal) in a.replay_store
    signed = a.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler")
    key = a.admit(signed, routing_key="scheduler")["replay_key"]
    # The other bus shares the journal: it sees the admission, then the settle.
    assert b.admit(signed, routing_key="scheduler", redelivered=True)["duplicate"] is True
    a.settle(key)
    refused("replayed", b.admit, signed, routing_key="scheduler", redelivered=True)
    # Bus.from_json honours replay_store too (a relative file: path is in `base`).
    with open(path) as f:
        config = json.load(f)
    config["replay_store"] = "file:relative.journal"
    c = waxseal.Bus.from_json(json.dumps(config), base=str(tmp_path))
    assert str(tmp_path / "relative.journal") in c.replay_store
    config["replay_store"] = "redis://127.0.0.1:1/0"
    assert waxseal.Bus.from_json(json.dumps(config)).replay_store == "redis 127.0.0.1:1"
    # Separate memory stores do not share anything: the twin of the journal above.
    m1 = waxseal.Bus(bus_config())
    m2 = waxseal.Bus(bus_config())
    fresh = m1.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler")
    m1.admit(fresh, routing_key="scheduler")
    assert m2.admit(fresh, routing_key="scheduler")["duplicate"] is False
    for bad in ("Memory", "file:", "http://x"):
        config["replay_store"] = bad
        with pytest.raises(waxseal.ConfigError):
            waxseal.Bus.from_json(json.dumps(config))


def test_settle_with_the_store_out_of_reach_is_transient(bus_config, signers):
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    bus = waxseal.Bus(bus_config(replay_store="redis://127.0.0.1:1/0"))
    signed = bus.sign_oslo(oslo_envelope(), signers[COMPUTE], topic="scheduler")
    e = refused("replay-store-unavailable", bus.admit, signed, routing_key="scheduler")
    assert e.transient is True
    e = refused("replay-store-unavailable", bus.settle, "00" * 32)
    assert e.transient is True
