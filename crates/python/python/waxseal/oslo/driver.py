"""The ``waxseal`` oslo.messaging driver: RabbitMQ with every message signed and verified.

``transport_url = waxseal+rabbit://user:pass@host:5672/`` loads this driver (oslo.messaging
picks the ``oslo.messaging.drivers`` entry point named by the part of the scheme before
``+``); it runs oslo.messaging's own RabbitMQ driver on the same URL with the transport
``rabbit``, and adds:

- **On the way out**, every message the RabbitMQ driver publishes (RPC call, cast,
  fanout, reply, notification) is signed with the service's certificate
  (:meth:`waxseal.Bus.sign_oslo`): an ``oslo.signature`` member beside ``oslo.message``,
  a detached CMS signature over the exact ``oslo.message`` text, bound to the route it is
  published on (see :func:`route_of`). Unmodified receivers ignore the extra member.
- **On the way in**, every delivery is verified (:meth:`waxseal.Bus.verify_oslo`) against
  the route it arrived on, as the broker reports it (the delivery's exchange and routing
  key): signature, certificate path and CRLs, signed route, freshness, routing policy,
  claims and replay, before oslo.messaging sees the message. What oslo.messaging then
  dispatches is the verified ``oslo.message`` text. A refused message is logged with its
  reason (escaped, one line) and acknowledged, so the broker does not redeliver it; it
  never reaches an endpoint and is never answered (an RPC caller waiting for it times
  out).

``[waxseal] mode``: ``enforce`` (the default) refuses; ``log`` logs a warning with the
reason and delivers the message anyway (as it arrived); ``sign-only`` signs and does not
verify. The staged rollout is ``sign-only`` everywhere, then ``log``, then ``enforce``.

oslo.messaging internals this module relies on
----------------------------------------------
oslo.messaging has no hook for a transport to see the raw message and its route, so the
driver subclasses the RabbitMQ driver and relies on these internals of
``oslo_messaging._drivers.impl_rabbit`` (checked by ``tests/oslo/test_internals.py`` on
every version of the test matrix, and at start-up by :func:`check_internals`):

1. ``RabbitDriver.__init__(conf, url, default_exchange, allowed_remote_exmods)`` builds
   ``self._connection_pool``, a ``pool.ConnectionPool`` that makes every connection
   (senders, listeners, the reply queue) with ``connection_cls(conf, url, purpose,
   retry=retry)``; the driver replaces ``connection_cls`` with :class:`WaxsealConnection`.
2. ``Connection.__init__`` turns ``url.transport`` into the broker URL (``rabbit`` →
   ``amqp``), hence the URL handed on has the transport ``rabbit``.
3. Publishing: ``direct_send`` (replies), ``topic_send`` (call, cast), ``fanout_send``
   and ``notify_send`` all go through ``Connection._ensure_publishing(method, exchange,
   msg, routing_key=None, timeout=None, retry=None, transport_options=None)`` with the
   kombu ``Exchange`` and the message (the 2.0 envelope dict, or a bare dict for 1.0
   notifications); the message is signed there, once, outside the retry loop.
   ``Connection._publish`` is the only method that hands a message to kombu; the
   subclass refuses there anything unsigned (a safety net should a new path appear).
4. Consuming: every consumer (topic, fanout, direct/reply) is registered through
   ``Connection.declare_consumer(consumer)``; ``Consumer.callback`` is the callable that
   ``Consumer._callback`` calls with ``RabbitMessage(kombu_message)``. The driver wraps
   that callable. ``RabbitMessage`` is a ``dict`` (the unwrapped message) whose
   ``_raw_message`` is the kombu message (``body``: the bytes received, decompressed;
   ``delivery_info``: ``exchange`` and ``routing_key``), and ``acknowledge()`` acks it.
5. ``oslo_messaging._drivers.common.serialize_msg`` / ``deserialize_msg``: the 2.0
   envelope ``{"oslo.version": "2.0", "oslo.message": "<json text>"}``.

A message that kombu cannot decode, or that oslo.messaging cannot unwrap (not JSON, an
unknown envelope version), fails in ``RabbitMessage`` before the wrapped callback runs:
oslo.messaging logs "Failed to process message ... skipping it" and rejects it without
requeueing, which also removes it from the queue; no endpoint runs.
"""

import abc
import json
import logging
import os

from oslo_config import cfg
from oslo_messaging import transport as om_transport  # type: ignore[import-untyped]
from oslo_messaging._drivers import common as rpc_common  # type: ignore[import-untyped]
from oslo_messaging._drivers import impl_rabbit  # type: ignore[import-untyped]
from oslo_messaging._drivers import pool as om_pool  # type: ignore[import-untyped]

import waxseal
from waxseal.oslo import MODES

LOG = logging.getLogger(__name__)

__all__ = [
    "WaxsealDriver",
    "WaxsealConnection",
    "Guard",
    "route_of",
    "check_internals",
    "waxseal_opts",
    "list_opts",
]

#: The configuration section.
GROUP = "waxseal"

waxseal_opts = [
    cfg.StrOpt(
        "cert",
        help="This service's signing certificate (PEM or DER file).",
    ),
    cfg.StrOpt(
        "key",
        help="The certificate's private key (file readable by its owner only).",
    ),
    cfg.StrOpt(
        "chain",
        help="Intermediate CA certificates sent with each signature (PEM file); also "
        "used to build paths of received signatures.",
    ),
    cfg.ListOpt(
        "ca",
        default=[],
        help="Trust anchors (CA certificate files), added to the policy file's trust.",
    ),
    cfg.ListOpt(
        "crl",
        default=[],
        help="CRL files (or URLs where the bus configuration accepts them), added to "
        "the policy file's crls.",
    ),
    cfg.StrOpt(
        "policy",
        help="The bus configuration file (JSON, as `waxseal msg validate --config`): "
        "trust, registry, routing policy, claims, freshness, replay cache.",
    ),
    cfg.StrOpt(
        "mode",
        default="enforce",
        choices=MODES,
        help="enforce: refuse (log and acknowledge) what fails verification; log: "
        "deliver it with a warning; sign-only: sign, do not verify.",
    ),
]


def list_opts():
    """The ``[waxseal]`` options, for oslo-config-generator."""
    return [(GROUP, waxseal_opts)]


VERSION_KEY = "oslo.version"
MESSAGE_KEY = "oslo.message"
SIGNATURE_KEY = "oslo.signature"
FANOUT_SUFFIX = "_fanout"


def route_of(exchange, routing_key):
    """The route ``(topic, exchange)`` a message is signed for and verified against.

    The same rule on both sides: the sender applies it to the exchange and routing key
    it publishes with, the receiver to the delivery's (as the broker reports them).

    - The default exchange (``""``: RPC replies, whose routing key is the caller's
      reply queue): ``(routing_key, None)``.
    - A fanout exchange (oslo's ``<topic>_fanout``, published without a routing key):
      ``(topic, "<topic>_fanout")``, so the routing policy for ``topic`` applies to its
      fanouts too, while the exchange keeps a fanout apart from a cast.
    - Otherwise: ``(routing_key, exchange)``; the routing key is ``topic`` or
      ``topic.server``, or ``topic.priority`` for notifications.

    Raises :class:`ValueError` when there is no topic (no routing key outside a fanout
    exchange).
    """
    exchange = exchange or ""
    routing_key = routing_key or ""
    if isinstance(exchange, bytes):
        exchange = exchange.decode("utf-8", "replace")
    if isinstance(routing_key, bytes):
        routing_key = routing_key.decode("utf-8", "replace")
    if routing_key:
        return routing_key, (exchange or None)
    if exchange.endswith(FANOUT_SUFFIX) and len(exchange) > len(FANOUT_SUFFIX):
        return exchange[: -len(FANOUT_SUFFIX)], exchange
    raise ValueError(
        "no route: exchange %s with an empty routing key" % _escape(exchange or "(default)")
    )


def _escape(text):
    """``text`` as one line of printable ASCII (JSON string escapes, quotes included)."""
    if not isinstance(text, str):
        text = str(text)
    return json.dumps(text, ensure_ascii=True)


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise waxseal.ConfigError("duplicate key %s in the bus configuration" % _escape(k))
        seen[k] = v
    return seen


def _abs(path):
    """A path from ``[waxseal]`` made absolute (in the current directory); URLs as they are."""
    if not isinstance(path, str) or "://" in path:
        return path
    return os.path.abspath(os.path.expanduser(path))


def load_bus(policy, ca=(), crl=(), chain=None, mode="enforce"):
    """The :class:`waxseal.Bus` for ``[waxseal]``: the policy file, with ``ca`` added to
    its ``trust``, ``crl`` to its ``crls`` and ``chain`` to its ``certs``.

    Without ``ca``, ``crl`` and ``chain`` the policy file is loaded as it is
    (:class:`waxseal.Bus`). Otherwise its JSON, with those additions, is loaded with
    :meth:`waxseal.Bus.from_json`, its own relative paths still resolved in the policy
    file's directory. In ``sign-only`` mode a policy without any trust anchor is loaded
    with ``validate_signatures`` off (nothing is verified). Raises
    :class:`waxseal.ConfigError`.
    """
    if not policy:
        raise waxseal.ConfigError("[waxseal] policy: the bus configuration file is required")
    ca = [c for c in (ca or []) if c]
    crl = [c for c in (crl or []) if c]
    if not (ca or crl or chain or mode == "sign-only"):
        return waxseal.Bus(policy)
    try:
        with open(policy, encoding="utf-8") as f:
            config = json.load(f, object_pairs_hook=_no_duplicates)
    except OSError as e:
        raise waxseal.ConfigError("[waxseal] policy: %s" % e) from None
    except ValueError as e:
        raise waxseal.ConfigError("[waxseal] policy %s: %s" % (policy, e)) from None
    if not isinstance(config, dict):
        raise waxseal.ConfigError("[waxseal] policy %s: not a JSON object" % policy)
    for key, extra in (("trust", ca), ("crls", crl), ("certs", [chain] if chain else [])):
        if extra:
            config[key] = list(config.get(key) or []) + [_abs(p) for p in extra]
    if mode == "sign-only" and not config.get("trust"):
        config["validate_signatures"] = False
    return waxseal.Bus.from_json(json.dumps(config), base=os.path.dirname(os.path.abspath(policy)))


class Guard:
    """Signs outgoing and verifies incoming messages for one driver (shared by all its
    connections and threads)."""

    def __init__(self, bus, signer, mode="enforce"):
        if mode not in MODES:
            raise waxseal.ConfigError(
                "[waxseal] mode must be one of %s, not %s" % (", ".join(MODES), _escape(mode))
            )
        if mode != "sign-only" and not getattr(bus, "validate_signatures", True):
            raise waxseal.ConfigError(
                "[waxseal] mode=%s verifies every message, but the policy file turns "
                "validate_signatures off: turn it on, or use mode=sign-only" % mode
            )
        self.bus = bus
        self.signer = signer
        self.mode = mode

    @classmethod
    def from_conf(cls, group):
        """From the ``[waxseal]`` options (``conf.waxseal``)."""
        if not group.cert or not group.key:
            raise waxseal.ConfigError(
                "[waxseal] cert and key are required: every message is signed in every mode"
            )
        signer = waxseal.Signer(group.cert, group.key, group.chain or None)
        bus = load_bus(group.policy, group.ca, group.crl, group.chain, group.mode)
        return cls(bus, signer, group.mode)

    def sign(self, msg, exchange, routing_key):
        """``msg`` (the 2.0 envelope dict, or a bare message dict that is wrapped in one)
        signed for the route of ``exchange`` (name) and ``routing_key``; a new dict."""
        if not isinstance(msg, dict):
            raise waxseal.WaxsealError(
                "waxseal signs oslo messages (dicts), not %s" % type(msg).__name__
            )
        if VERSION_KEY not in msg or MESSAGE_KEY not in msg:
            # A 1.0 notification (the `messaging` notification driver) is sent bare; the
            # signature needs the envelope, which every receiver unwraps to the same dict.
            msg = rpc_common.serialize_msg(msg)
        topic, route_exchange = route_of(exchange, routing_key)
        envelope = json.dumps(msg).encode("utf-8")
        signed = self.bus.sign_oslo(envelope, self.signer, topic=topic, exchange=route_exchange)
        return json.loads(signed)

    def admit(self, message):
        """Whether ``message`` (an impl_rabbit ``RabbitMessage``) may be dispatched.

        Accepted: its content is replaced by the verified ``oslo.message``. Refused: logged
        and, in ``enforce`` mode, acknowledged and ``False``; in ``log`` mode a warning and
        ``True`` (the message as it arrived).
        """
        if self.mode == "sign-only":
            return True
        raw = message._raw_message
        info = getattr(raw, "delivery_info", None) or {}
        exchange = info.get("exchange", "")
        routing_key = info.get("routing_key", "")
        try:
            topic, route_exchange = route_of(exchange, routing_key)
            body = raw.body
            if isinstance(body, str):
                body = body.encode("utf-8")
            report = self.bus.verify_oslo(bytes(body), topic=topic, exchange=route_exchange)
            inner = rpc_common.deserialize_msg(
                {VERSION_KEY: "2.0", MESSAGE_KEY: report["message_text"]}
            )
            if not isinstance(inner, dict):
                raise ValueError("the verified oslo.message is not a JSON object")
        except waxseal.Rejected as e:
            code, reason = e.code, getattr(e, "reason", str(e))
        except ValueError as e:
            code, reason = "malformed", str(e)
        else:
            message.clear()
            message.update(inner)
            return True
        where = "exchange %s routing key %s" % (
            _escape(exchange or ""),
            _escape(routing_key or ""),
        )
        if self.mode == "log":
            LOG.warning(
                "waxseal: mode=log: delivering a message that enforce would refuse (%s): %s: %s",
                where,
                _escape(code),
                _escape(reason),
            )
            return True
        LOG.warning(
            "waxseal: refused a message (%s): %s: %s; acknowledged, not dispatched",
            where,
            _escape(code),
            _escape(reason),
        )
        try:
            message.acknowledge()
        except Exception as e:  # the connection is gone: the broker redelivers it later
            LOG.warning("waxseal: could not acknowledge the refused message: %s", _escape(e))
        return False


def _guarded(guard, callback):
    """``callback`` (a consumer's, called with a ``RabbitMessage``) behind ``guard``."""

    def waxseal_guarded(message):
        if guard.admit(message):
            callback(message)

    waxseal_guarded.waxseal_guarded = True
    return waxseal_guarded


class WaxsealConnection(impl_rabbit.Connection):
    """oslo.messaging's RabbitMQ connection, signing what it publishes and verifying
    what its consumers receive (see the module's notes on the internals used)."""

    def __init__(self, conf, url, purpose, retry=None, *, guard):
        self._waxseal = guard
        super().__init__(conf, url, purpose, retry=retry)

    def declare_consumer(self, consumer):
        callback = getattr(consumer, "callback", None)
        if callback is not None and not getattr(callback, "waxseal_guarded", False):
            consumer.callback = _guarded(self._waxseal, callback)
        return super().declare_consumer(consumer)

    def _ensure_publishing(
        self,
        method,
        exchange,
        msg,
        routing_key=None,
        timeout=None,
        retry=None,
        transport_options=None,
    ):
        signed = self._waxseal.sign(msg, exchange.name, routing_key)
        return super()._ensure_publishing(
            method,
            exchange,
            signed,
            routing_key=routing_key,
            timeout=timeout,
            retry=retry,
            transport_options=transport_options,
        )

    def _publish(self, exchange, msg, routing_key=None, timeout=None, transport_options=None):
        if not (isinstance(msg, dict) and SIGNATURE_KEY in msg):
            LOG.error(
                "waxseal: refusing to publish an unsigned message to exchange %s: it did "
                "not come through Connection._ensure_publishing (oslo.messaging changed?)",
                _escape(getattr(exchange, "name", exchange)),
            )
            raise waxseal.WaxsealError("waxseal: refusing to publish an unsigned message")
        return super()._publish(
            exchange,
            msg,
            routing_key=routing_key,
            timeout=timeout,
            transport_options=transport_options,
        )


def rabbit_url(url):
    """``url`` (``waxseal+rabbit://...`` or ``waxseal://...``) with the transport
    ``rabbit``, everything else (hosts, credentials, virtual host, query) unchanged."""
    transport = url.transport or ""
    if transport not in ("waxseal", "waxseal+rabbit"):
        raise waxseal.ConfigError(
            "transport_url %s: waxseal runs over RabbitMQ only: waxseal+rabbit://"
            % _escape(transport)
        )
    return om_transport.TransportURL(
        url.conf,
        transport="rabbit",
        virtual_host=url.virtual_host,
        hosts=list(url.hosts),
        query=dict(url.query),
    )


def check_internals():
    """Raises :class:`RuntimeError` if oslo.messaging lacks an internal this driver
    relies on (see the module docstring)."""
    missing = []
    for name in ("_ensure_publishing", "_publish", "declare_consumer"):
        if not callable(getattr(impl_rabbit.Connection, name, None)):
            missing.append("impl_rabbit.Connection.%s" % name)
    if not (
        isinstance(getattr(impl_rabbit, "RabbitMessage", None), type)
        and issubclass(impl_rabbit.RabbitMessage, dict)
    ):
        missing.append("impl_rabbit.RabbitMessage (a dict)")
    if not hasattr(om_pool.ConnectionPool, "create"):
        missing.append("pool.ConnectionPool.create")
    if missing:
        raise RuntimeError(
            "waxseal: this oslo.messaging lacks internals the waxseal driver relies on: "
            + ", ".join(missing)
        )


class WaxsealDriver(impl_rabbit.RabbitDriver, metaclass=abc.ABCMeta):  # ABCMeta: as BaseDriver
    """The ``waxseal`` transport driver: :class:`impl_rabbit.RabbitDriver` whose
    connections are :class:`WaxsealConnection`\\ s sharing one :class:`Guard` built from
    ``[waxseal]``."""

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        check_internals()
        conf.register_group(cfg.OptGroup(name=GROUP, title="waxseal message signing"))
        conf.register_opts(waxseal_opts, group=GROUP)
        guard = Guard.from_conf(conf[GROUP])
        super().__init__(
            conf,
            rabbit_url(url),
            default_exchange=default_exchange,
            allowed_remote_exmods=allowed_remote_exmods,
        )
        pool = getattr(self, "_connection_pool", None)
        if not isinstance(pool, om_pool.ConnectionPool) or (
            getattr(pool, "connection_cls", None) is not impl_rabbit.Connection
        ):
            raise RuntimeError(
                "waxseal: RabbitDriver no longer keeps a ConnectionPool of "
                "impl_rabbit.Connection in _connection_pool; the driver cannot hook it"
            )

        def make_connection(conf, url, purpose, retry=None):
            return WaxsealConnection(conf, url, purpose, retry=retry, guard=guard)

        pool.connection_cls = make_connection
        self.waxseal_guard = guard
        LOG.info(
            "waxseal: signing as %s, mode=%s",
            _escape(getattr(guard.signer, "subject", "?")),
            guard.mode,
        )
