"""The driver's configuration: what starts, what refuses to start (fail closed), without
a broker (building the driver does not connect)."""

import json
import shutil

import pytest

from oslo_config import cfg
import oslo_messaging

import waxseal
from waxseal.oslo import driver

from .oslo_support import write_policy

URL = "waxseal+rabbit://guest:guest@127.0.0.1:1/"


def make_driver(tmp_path, pki, policy_file, url=URL, **overrides):
    section = {
        "cert": pki["server"][0],
        "key": pki["server"][1],
        "chain": pki["chain"],
        "ca": pki["root"],
        "crl": pki["crl"],
        "policy": policy_file,
        "mode": "enforce",
    }
    section.update(overrides)
    lines = ["[waxseal]"] + ["%s = %s" % (k, v) for k, v in section.items() if v is not None]
    path = tmp_path / "service.conf"
    path.write_text("\n".join(lines) + "\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    return driver.WaxsealDriver(
        conf, oslo_messaging.TransportURL.parse(conf, url), default_exchange="openstack"
    )


def test_a_configured_driver_hooks_every_connection(tmp_path, oslo_pki, policy):
    d = make_driver(tmp_path, oslo_pki, policy)
    assert d.waxseal_guard.mode == "enforce"
    assert d.waxseal_guard.signer.subject == "CN=rpcserver-node1.example.org"
    assert d._url.transport == "rabbit"
    assert d._connection_pool.connection_cls.__name__ == "make_connection"
    d.cleanup()


@pytest.mark.parametrize("missing", ["cert", "key", "policy"])
def test_a_missing_setting_stops_the_service(tmp_path, oslo_pki, policy, missing):
    with pytest.raises(waxseal.ConfigError):
        make_driver(tmp_path, oslo_pki, policy, **{missing: None})


def test_an_unknown_mode_stops_the_service(tmp_path, oslo_pki, policy):
    with pytest.raises(ValueError):  # oslo.config's choices
        make_driver(tmp_path, oslo_pki, policy, mode="warn")


def test_verifying_modes_need_validate_signatures(tmp_path, oslo_pki):
    off = write_policy(tmp_path / "off.json", {"validate_signatures": False})
    for mode in ("enforce", "log"):
        with pytest.raises(waxseal.ConfigError, match="validate_signatures"):
            make_driver(tmp_path, oslo_pki, off, mode=mode)
    assert make_driver(tmp_path, oslo_pki, off, mode="sign-only").waxseal_guard.mode == "sign-only"


def test_sign_only_needs_no_trust_anchor(tmp_path, oslo_pki, policy):
    d = make_driver(tmp_path, oslo_pki, policy, ca=None, crl=None, mode="sign-only")
    assert d.waxseal_guard.mode == "sign-only"


def test_enforce_needs_a_trust_anchor(tmp_path, oslo_pki, policy):
    with pytest.raises(waxseal.ConfigError):
        make_driver(tmp_path, oslo_pki, policy, ca=None, crl=None, chain=None)


@pytest.mark.parametrize("url", ["waxseal+kafka://h:9092/", "waxseal+kombu+memory:///"])
def test_only_rabbit_underneath(tmp_path, oslo_pki, policy, url):
    with pytest.raises(waxseal.ConfigError, match="RabbitMQ"):
        make_driver(tmp_path, oslo_pki, policy, url=url)


def test_a_bad_policy_file_stops_the_service(tmp_path, oslo_pki):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"routing_policy": {"a.b*": ["x"]}}))
    with pytest.raises(waxseal.ConfigError):
        make_driver(tmp_path, oslo_pki, bad)
    dup = tmp_path / "dup.json"
    dup.write_text('{"nitpicky": true, "nitpicky": false}')
    with pytest.raises(waxseal.ConfigError, match="duplicate"):
        make_driver(tmp_path, oslo_pki, dup)
    with pytest.raises(waxseal.ConfigError):
        make_driver(tmp_path, oslo_pki, tmp_path / "absent.json")


def test_policy_paths_stay_relative_to_the_policy_file(tmp_path, oslo_pki, monkeypatch):
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(oslo_pki["root"], etc / "root-ca.crt")
    policy = write_policy(etc / "bus.json", {"trust": ["root-ca.crt"]})
    monkeypatch.chdir(tmp_path)
    # crl from [waxseal] forces the merged copy; trust stays the policy's, resolved in etc/
    d = make_driver(tmp_path, oslo_pki, policy, ca=None, chain=None)
    assert d.waxseal_guard.bus.validate_signatures


def test_nothing_unsigned_reaches_kombu():
    exchange = type("Exchange", (), {"name": "openstack"})()
    with pytest.raises(waxseal.WaxsealError, match="unsigned"):
        driver.WaxsealConnection._publish(
            None, exchange, {"oslo.version": "2.0", "oslo.message": "{}"}, "t"
        )


def test_a_message_waxseal_cannot_sign_exactly_is_not_sent(tmp_path, oslo_pki, policy):
    """Fail closed on the way out too: the caller gets the exception, nothing unsigned
    is published (integers beyond 2**53 do not survive JSON as a double)."""
    guard = make_driver(tmp_path, oslo_pki, policy).waxseal_guard
    signed = guard.sign({"method": "m", "args": {"n": 2**53}}, "openstack", "waxtest.x")
    assert "oslo.signature" in signed and set(signed) >= {"oslo.version", "oslo.message"}
    with pytest.raises(waxseal.Rejected) as e:
        guard.sign({"method": "m", "args": {"n": 2**53 + 1}}, "openstack", "waxtest.x")
    assert e.value.code == "inexact-number"


def test_replay_store_setting_overrides_the_policy_file(tmp_path, oslo_pki, caplog, monkeypatch):
    """[waxseal] replay_store: unset, the policy file's (else memory); set, it wins (a
    relative file: path is in the current directory). The store is logged at start."""
    import logging

    monkeypatch.chdir(tmp_path)
    plain = write_policy(tmp_path / "plain.json")
    with caplog.at_level(logging.INFO, logger="waxseal.oslo.driver"):
        d = make_driver(tmp_path, oslo_pki, plain)
    assert d.waxseal_guard.bus.replay_store == "memory"
    (line,) = [r.getMessage() for r in caplog.records if "replay store" in r.getMessage()]
    assert 'replay store "memory" (this process only' in line
    d.cleanup()
    caplog.clear()
    journal = tmp_path / "policy.journal"
    with_store = write_policy(tmp_path / "store.json", {"replay_store": "file:%s" % journal})
    d = make_driver(tmp_path, oslo_pki, with_store)
    assert str(journal) in d.waxseal_guard.bus.replay_store
    d.cleanup()
    d = make_driver(tmp_path, oslo_pki, with_store, replay_store="file:mine.journal")
    assert str(tmp_path / "mine.journal") in d.waxseal_guard.bus.replay_store
    d.cleanup()
    with caplog.at_level(logging.INFO, logger="waxseal.oslo.driver"):
        d = make_driver(tmp_path, oslo_pki, plain, replay_store="redis://127.0.0.1:1/0")
    assert d.waxseal_guard.bus.replay_store == "redis 127.0.0.1:1"
    (line,) = [r.getMessage() for r in caplog.records if "replay store" in r.getMessage()]
    assert "this process only" not in line
    d.cleanup()
    # the twin: a setting that names no store stops the service
    for bad in ("memcached://x", "file:", "Memory"):
        with pytest.raises(waxseal.ConfigError):
            make_driver(tmp_path, oslo_pki, plain, replay_store=bad)
