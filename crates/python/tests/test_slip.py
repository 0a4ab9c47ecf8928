"""Routing slips: countersign, then verify_slip with route expectations."""

import datetime

import pytest

import waxseal
from conftest import COMPUTE, CONDUCTOR, REVOKED, SCHEDULER

CONTENT = b'{"method": "select_destinations", "args": {"host": "node01.example.org"}}'
ROUTE = [COMPUTE, CONDUCTOR, SCHEDULER]


def full_route(signers):
    env = signers[COMPUTE].sign(CONTENT)
    env = waxseal.countersign(env, signers[CONDUCTOR], role="conductor", action="forwarded")
    return waxseal.countersign(env, signers[SCHEDULER], role="scheduler", action="received")


def refused(code, fn, *args, **kwargs):
    with pytest.raises(waxseal.Rejected) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    return info.value


def test_the_expected_route_verifies(pki, signers):
    slip = pki.verifier().verify_slip(full_route(signers), expect=ROUTE, require=[COMPUTE, SCHEDULER])
    assert slip.content == CONTENT
    assert [h["name"] for h in slip.hops] == ROUTE
    assert [h["role"] for h in slip.hops] == [None, "conductor", "scheduler"]
    assert slip.hops[1]["action"] == "forwarded"
    assert all(h["signing_time"] for h in slip.hops)


def test_a_skipped_hop_is_refused(pki, signers):
    env = signers[COMPUTE].sign(CONTENT)
    skipped = waxseal.countersign(env, signers[SCHEDULER], role="scheduler")
    v = pki.verifier()
    # Each hop's signature is good: only the route is wrong.
    assert [h["name"] for h in v.verify_slip(skipped).hops] == [COMPUTE, SCHEDULER]
    e = refused("wrong-hop", v.verify_slip, skipped, expect=ROUTE)
    assert e.hop == 1
    refused("required-hop-missing", v.verify_slip, skipped, require=[COMPUTE, CONDUCTOR])


def test_a_tampered_slip_is_refused(pki, signers):
    env = full_route(signers)
    tampered = env.replace(b"node01", b"node66")
    refused("message-digest-mismatch", pki.verifier().verify_slip, tampered, expect=ROUTE)


def test_detached_slip(pki, signers):
    env = signers[COMPUTE].sign(CONTENT, detached=True)
    env = waxseal.countersign(env, signers[CONDUCTOR])
    v = pki.verifier()
    assert v.verify_slip(env, CONTENT, expect=[COMPUTE, CONDUCTOR]).content == CONTENT
    refused("message-digest-mismatch", v.verify_slip, env, CONTENT + b"x")


def test_a_loop_is_refused_unless_allowed(pki, signers):
    env = signers[COMPUTE].sign(CONTENT)
    env = waxseal.countersign(env, signers[CONDUCTOR])
    env = waxseal.countersign(env, signers[CONDUCTOR])
    v = pki.verifier()
    refused("repeated-hop", v.verify_slip, env)
    assert len(v.verify_slip(env, allow_repeats=True).hops) == 3


def test_too_many_hops(pki, signers):
    refused("too-many-hops", pki.verifier().verify_slip, full_route(signers), max_hops=2)


def test_an_old_slip_is_refused_by_max_age(pki, signers):
    env = full_route(signers)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    v = pki.verifier(at=later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert len(v.verify_slip(env, max_age=7200).hops) == 3
    refused("slip-too-old", v.verify_slip, env, max_age=60)


def test_a_revoked_hop_is_refused(pki, signers):
    env = signers[COMPUTE].sign(CONTENT)
    env = waxseal.countersign(env, signers[REVOKED])
    assert len(pki.verifier().verify_slip(env).hops) == 2
    e = refused("revoked", pki.verifier(crls=[pki.crl]).verify_slip, env)
    assert e.hop == 1


def test_an_untrusted_hop_is_refused(pki, other_pki, signers):
    env = signers[COMPUTE].sign(CONTENT)
    env = waxseal.countersign(env, other_pki.signer("bodhi-app01.example.org"))
    e = refused("untrusted", pki.verifier().verify_slip, env)
    assert e.hop == 1
