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
- **On the way in**, every delivery is admitted through :meth:`waxseal.Bus.admit`, the
  one admission path, before oslo.messaging sees it: with the delivery's exchange and
  routing key (compared with the signed route by :func:`route_of`'s rule), what the
  consumer that received it declared (:func:`subscription_of`: a delivery through another
  exchange, an unbound routing key or the default exchange is ``route-not-subscribed``),
  whether it carried ``CC``/``BCC`` headers (``sender-routed``; RabbitMQ strips ``BCC``
  before delivery, so a BCC copy is caught by the subscription instead), the broker's
  redelivered flag and validated ``user_id``. Then signature, certificate path and CRLs,
  signed route, freshness, routing policy, claims and replay. What oslo.messaging then
  dispatches is the verified ``oslo.message`` text. A refused message is logged with its
  reason (escaped, one line) and acknowledged, so the broker does not redeliver it; it
  never reaches an endpoint and is never answered (an RPC caller waiting for it times
  out).
- **Replies** are admitted only as the answer to a call this process is waiting for:
  the driver remembers each call's ``_msg_id`` with its target (topic, server) while
  ``_send`` waits for it (at most :data:`MAX_PENDING_CALLS`). A reply naming no waiting
  call is ``reply-unexpected``; the bus checks that the signed reply carries the call's
  ``_msg_id`` (``reply-unbound``) and that its signer is allowed on the call's topic and,
  for a call to a server, is that server (``reply-not-from-callee``). The reply queue's
  own name is no longer a topic of the routing policy.
- **A failure of the receiver is not a verdict**: a refusal marked ``transient``
  (``crl-unavailable``, ``replay-store-unavailable``) is not acknowledged: in ``enforce``
  mode the message is requeued after a back-off (0.1 s doubling to 5 s while failures
  continue, reset by the next admission) and never dispatched. A broker redelivery of a
  message this process already admitted is dispatched again (at-least-once), logged at
  debug, not refused as ``replayed``.
- **Replay store, admitted then settled**: ``[waxseal] replay_store`` (else the policy
  file's ``replay_store``, else ``memory``) is where admitted messages are remembered.
  ``memory`` is this process's alone: a replayed copy that the broker hands to another
  worker or host on the same queue is not caught, so a service with several consumers
  sets ``redis://...`` (or ``file:PATH`` on one host). Each admitted delivery's
  ``acknowledge()`` also marks its key settled in the store once the acknowledgement
  went out (:meth:`Guard.settle`); from then on even a broker redelivery of it is
  ``replayed``. A settle that fails (the store out of reach) is logged and counted, not
  fatal: the key stays admitted. The store in use is logged at start (INFO).
- **Compression**: kombu decompresses a delivery carrying a ``compression`` header before
  any consumer callback runs (it offers no earlier hook). Such a delivery is refused
  (``compressed``) unless ``[waxseal] allow_compression = true``, and then its
  decompressed body is bounded by ``max_message_bytes`` (``message-too-large``); the
  memory of the decompression is spent by then, the bound keeps it from going further.

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
   ``Connection.declare_consumer(consumer)``, a ``Consumer`` with ``exchange_name``,
   ``queue_name``, ``routing_key`` and ``type`` (a reply queue: ``exchange_name ""``);
   ``Consumer.callback`` is the callable that
   ``Consumer._callback`` calls with ``RabbitMessage(kombu_message)``. The driver wraps
   that callable. ``RabbitMessage`` is a ``dict`` (the unwrapped message) whose
   ``_raw_message`` is the kombu message (``body``: the bytes received, decompressed;
   ``delivery_info``: ``exchange``, ``routing_key``, ``redelivered``; ``headers``;
   ``properties``), ``acknowledge()`` acks it and ``requeue()`` hands it back. Every
   acknowledgement of a delivered message goes through that ``acknowledge()`` (the RPC
   listener's before dispatch, the notification listener's after, the reply waiter's):
   the driver replaces it on each admitted message with one that settles its key after.
5. ``AMQPDriverBase._send(target, ...)`` makes a call's ``_msg_id``, publishes it and
   waits for its reply before returning; the driver wraps it to know each call's target.
6. ``oslo_messaging._drivers.common.serialize_msg`` / ``deserialize_msg``: the 2.0
   envelope ``{"oslo.version": "2.0", "oslo.message": "<json text>"}``; the driver wraps
   bare messages with the first and parses a verified ``oslo.message`` as the second
   does (``json.loads`` of the text, once the bus has checked the version).

A message that kombu cannot decode, or that oslo.messaging cannot unwrap (not JSON, an
unknown envelope version), fails in ``RabbitMessage`` before the wrapped callback runs:
oslo.messaging logs "Failed to process message ... skipping it" and rejects it without
requeueing, which also removes it from the queue; no endpoint runs.
"""

import abc
import contextlib
import inspect
import json
import logging
import os
import threading
import time

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
        "replay_store",
        help="Where admitted messages are remembered, shared by every consumer of a "
        "queue: memory (this process only), file:PATH (the processes of one host), "
        "redis://HOST[:PORT][/DB] or rediss://... (many hosts). Unset: the policy file's "
        "replay_store, else memory. A service with several workers or hosts needs a "
        "shared store, or a replay delivered to another consumer is not caught.",
    ),
    cfg.BoolOpt(
        "allow_compression",
        default=False,
        help="Accept deliveries published with kombu compression (a `compression` "
        "header). Off: refused (`compressed`). kombu decompresses a delivery before any "
        "check can run, so the decompressed size is bounded afterwards "
        "(max_message_bytes).",
    ),
    cfg.IntOpt(
        "max_message_bytes",
        default=1048576,
        min=1,
        help="With allow_compression: the largest decompressed body accepted "
        "(`message-too-large`).",
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
VERSION = "2.0"
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


def load_bus(policy, ca=(), crl=(), chain=None, mode="enforce", replay_store=None):
    """The :class:`waxseal.Bus` for ``[waxseal]``: the policy file, with ``ca`` added to
    its ``trust``, ``crl`` to its ``crls`` and ``chain`` to its ``certs``, and
    ``replay_store`` (when given) replacing its ``replay_store`` (a relative ``file:``
    path is in the current directory, as every path of ``[waxseal]``).

    Without ``ca``, ``crl``, ``chain`` and ``replay_store`` the policy file is loaded as it is
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
    if not (ca or crl or chain or replay_store or mode == "sign-only"):
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
    if replay_store:
        if replay_store.startswith("file:") and len(replay_store) > len("file:"):
            replay_store = "file:" + _abs(replay_store[len("file:") :])
        config["replay_store"] = replay_store
    if mode == "sign-only" and not config.get("trust"):
        config["validate_signatures"] = False
    return waxseal.Bus.from_json(json.dumps(config), base=os.path.dirname(os.path.abspath(policy)))


#: Reason codes of the driver's own refusals (the bus's are in README's table).
COMPRESSED = "compressed"
MESSAGE_TOO_LARGE = "message-too-large"
REPLY_UNEXPECTED = "reply-unexpected"

#: The most RPC calls one process may have waiting for a reply at once: a call beyond it
#: fails in the caller (nothing is sent) rather than having its reply refused.
MAX_PENDING_CALLS = 10000

#: The counts of :meth:`Guard.stats`.
STATS = ("admitted", "duplicates", "refused", "requeued", "settled", "settle_failed")

#: The requeue back-off after a transient failure (a CRL server or the replay store out of
#: reach): the consumer sleeps this long before handing the message back, doubling while
#: failures continue, reset by the next message admitted.
BACKOFF_MIN_SECS = 0.1
BACKOFF_MAX_SECS = 5.0


def subscription_of(consumer):
    """``(exchange, queue, [binding keys])``: what an impl_rabbit ``Consumer`` declared.

    - A direct consumer on the default exchange (the RPC reply queue): the queue by name.
    - A fanout consumer: its queue is bound to ``<topic>_fanout``, which ignores routing
      keys, so every key (``#``).
    - A topic consumer: its exchange and its one binding key (``topic``,
      ``topic.server``, ``topic.priority``).
    """
    exchange = consumer.exchange_name or ""
    queue = consumer.queue_name
    if not exchange:
        return ("", queue, [queue])
    if consumer.type == "fanout":
        return (exchange, queue, ["#"])
    return (exchange, queue, [consumer.routing_key])


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ("" if value is None else str(value))


class _Refusal(Exception):
    """A refusal decided by the driver itself (before or beside :meth:`waxseal.Bus.admit`)."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = False


class Guard:
    """Signs outgoing and verifies incoming messages for one driver (shared by all its
    connections and threads). Remembers the RPC calls waiting for a reply, so a reply is
    admitted only as the answer to one of them."""

    def __init__(
        self, bus, signer, mode="enforce", allow_compression=False, max_message_bytes=1048576
    ):
        if mode not in MODES:
            raise waxseal.ConfigError(
                "[waxseal] mode must be one of %s, not %s" % (", ".join(MODES), _escape(mode))
            )
        if mode != "sign-only" and not getattr(bus, "validate_signatures", True):
            raise waxseal.ConfigError(
                "[waxseal] mode=%s verifies every message, but the policy file turns "
                "validate_signatures off: turn it on, or use mode=sign-only" % mode
            )
        if not isinstance(max_message_bytes, int) or max_message_bytes < 1:
            raise waxseal.ConfigError("[waxseal] max_message_bytes must be a positive integer")
        self.bus = bus
        self.signer = signer
        self.mode = mode
        self.allow_compression = bool(allow_compression)
        self.max_message_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._pending = {}  # msg_id -> (topic, server)
        self._local = threading.local()
        self._backoff = 0.0
        self._stats = dict.fromkeys(STATS, 0)

    def _count(self, name):
        with self._lock:
            self._stats[name] += 1

    def stats(self):
        """What this guard did so far, a dict of counts (for a service to log or export):
        ``admitted`` (duplicates included), ``duplicates`` (broker redeliveries of a message
        admitted and not settled), ``refused`` (the message's own fault; acknowledged),
        ``requeued`` (a failure of this receiver: CRL or replay store out of reach),
        ``settled``, ``settle_failed`` (the store out of reach after the acknowledgement:
        the key stays admitted)."""
        with self._lock:
            return dict(self._stats)

    @classmethod
    def from_conf(cls, group):
        """From the ``[waxseal]`` options (``conf.waxseal``)."""
        if not group.cert or not group.key:
            raise waxseal.ConfigError(
                "[waxseal] cert and key are required: every message is signed in every mode"
            )
        signer = waxseal.Signer(group.cert, group.key, group.chain or None)
        bus = load_bus(
            group.policy, group.ca, group.crl, group.chain, group.mode, group.replay_store
        )
        return cls(
            bus,
            signer,
            group.mode,
            allow_compression=group.allow_compression,
            max_message_bytes=group.max_message_bytes,
        )

    # -- calls and their replies --------------------------------------------------------

    @contextlib.contextmanager
    def sending(self, target):
        """Around the driver's ``_send(target, ...)``: the calls published inside are
        remembered as addressed to ``target`` (topic, server) until it returns, which is
        when oslo.messaging stops waiting for their replies."""
        outer = getattr(self._local, "sending", None)
        mine = {"target": target, "msg_ids": []}
        self._local.sending = mine
        try:
            yield
        finally:
            self._local.sending = outer
            with self._lock:
                for msg_id in mine["msg_ids"]:
                    self._pending.pop(msg_id, None)

    def _remember_call(self, msg):
        """If ``msg`` (a 2.0 envelope dict) is an RPC call, remembers its ``_msg_id`` with
        the target it is sent to (not in ``sign-only`` mode: replies are not verified)."""
        if self.mode == "sign-only":
            return
        text = msg.get(MESSAGE_KEY)
        if isinstance(text, str) and "_reply_q" not in text and "\\" not in text:
            # Not a call (a reply, a cast, a notification), and no escape could spell the
            # key otherwise: nothing to parse.
            return
        try:
            inner = json.loads(text)
        except (TypeError, ValueError):
            return
        if not isinstance(inner, dict) or "_reply_q" not in inner:
            return
        msg_id = inner.get("_msg_id")
        sending = getattr(self._local, "sending", None)
        if not isinstance(msg_id, str) or sending is None:
            # Fail closed: a call not made through _send has no known callee, so its reply
            # would be refused; refuse to send it instead.
            raise waxseal.WaxsealError(
                "waxseal: an RPC call published outside the driver's _send: its reply "
                "could not be bound to the callee (oslo.messaging changed?)"
            )
        target = sending["target"]
        topic = _text(getattr(target, "topic", None))
        server = getattr(target, "server", None)
        server = _text(server) if server else None
        with self._lock:
            if msg_id not in self._pending and len(self._pending) >= MAX_PENDING_CALLS:
                raise waxseal.WaxsealError(
                    "waxseal: %d RPC calls already wait for a reply in this process"
                    % MAX_PENDING_CALLS
                )
            self._pending[msg_id] = (topic, server)
        sending["msg_ids"].append(msg_id)

    def _call_for(self, message):
        """The ``reply_to`` of a reply-queue delivery: the pending call its (not yet
        verified) ``_msg_id`` names; :class:`_Refusal` if none."""
        msg_id = message.get("_msg_id") if isinstance(message, dict) else None
        with self._lock:
            call = self._pending.get(msg_id) if isinstance(msg_id, str) else None
        if call is None:
            raise _Refusal(
                REPLY_UNEXPECTED,
                "a reply to no call this process is waiting for (msg_id %s)"
                % _escape(msg_id if isinstance(msg_id, str) else "(none)"),
            )
        return (msg_id, call[0], call[1])

    def _forget_call(self, msg_id):
        with self._lock:
            self._pending.pop(msg_id, None)

    # -- out ----------------------------------------------------------------------------

    def sign(self, msg, exchange, routing_key):
        """``msg`` (the 2.0 envelope dict, or a bare message dict that is wrapped in one)
        signed for the route of ``exchange`` (name) and ``routing_key``; a new dict. An
        RPC call is remembered (see :meth:`sending`)."""
        if not isinstance(msg, dict):
            raise waxseal.WaxsealError(
                "waxseal signs oslo messages (dicts), not %s" % type(msg).__name__
            )
        if VERSION_KEY not in msg or MESSAGE_KEY not in msg:
            # A 1.0 notification (the `messaging` notification driver) is sent bare; the
            # signature needs the envelope, which every receiver unwraps to the same dict.
            msg = rpc_common.serialize_msg(msg)
        topic, route_exchange = route_of(exchange, routing_key)
        text = msg.get(MESSAGE_KEY)
        signed = None
        if len(msg) == 2 and msg.get(VERSION_KEY) == VERSION and isinstance(text, str):
            # The envelope oslo.messaging makes (serialize_msg): its signature covers the
            # oslo.message text alone, so sign that and add the signature to a copy of
            # the dict: what sign_oslo makes of the envelope's JSON, without serialising
            # the envelope only to parse the result back.
            try:
                signature = self.bus.oslo_signature(
                    text, self.signer, topic=topic, exchange=route_exchange
                )
            except UnicodeEncodeError:
                pass  # a lone surrogate, not UTF-8: sign_oslo refuses it below
            else:
                signed = dict(msg)
                signed[SIGNATURE_KEY] = signature
        if signed is None:
            # Anything else goes through sign_oslo as it is (which refuses what it must).
            envelope = json.dumps(msg).encode("utf-8")
            signed = json.loads(
                self.bus.sign_oslo(envelope, self.signer, topic=topic, exchange=route_exchange)
            )
        self._remember_call(msg)
        return signed

    # -- in -----------------------------------------------------------------------------

    def _check_compression(self, headers, properties, body):
        compression = headers.get("compression") or properties.get("compression")
        if not compression:
            return
        if not self.allow_compression:
            raise _Refusal(
                COMPRESSED,
                "a compressed delivery (%s), and [waxseal] allow_compression is off"
                % _escape(_text(compression)),
            )
        # kombu has decompressed it before any consumer callback runs (it offers no
        # earlier hook): the memory is spent, the bound keeps it from going further.
        if len(body) > self.max_message_bytes:
            raise _Refusal(
                MESSAGE_TOO_LARGE,
                "%d bytes decompressed, more than [waxseal] max_message_bytes (%d)"
                % (len(body), self.max_message_bytes),
            )

    def _verify(self, message, subscription, reply_queue):
        """The verified inner message dict and the admission report; raises
        :class:`waxseal.Rejected`, :class:`_Refusal` or :class:`ValueError`."""
        raw = message._raw_message
        info = getattr(raw, "delivery_info", None) or {}
        headers = getattr(raw, "headers", None) or {}
        properties = getattr(raw, "properties", None) or {}
        body = raw.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = bytes(body)
        self._check_compression(headers, properties, body)
        user_id = properties.get("user_id")
        report = self.bus.admit(
            body,
            exchange=_text(info.get("exchange", "")),
            routing_key=_text(info.get("routing_key", "")),
            signed_exchange=True,
            subscription=subscription,
            redelivered=bool(info.get("redelivered", False)),
            user_id=_text(user_id) if user_id else None,
            sender_routed=("CC" in headers or "BCC" in headers),
            reply_to=self._call_for(message) if reply_queue else None,
        )
        # The verified text, parsed as oslo.messaging's deserialize_msg parses it (its
        # envelope version, "2.0", was checked by the bus).
        inner = json.loads(report["message_text"])
        if not isinstance(inner, dict):
            raise ValueError("the verified oslo.message is not a JSON object")
        return inner, report

    def admit(self, message, subscription=None):
        """Whether ``message`` (an impl_rabbit ``RabbitMessage``) may be dispatched; it
        came through ``subscription`` (:func:`subscription_of` the consumer that received
        it; ``None``: unknown, and then the default exchange is refused).

        Accepted: its content is replaced by the verified ``oslo.message``; a broker
        redelivery of a message already admitted is accepted too (at-least-once: the first
        consumer may have died before acknowledging it). Refused for the message's own
        fault: logged and, in ``enforce`` mode, acknowledged and ``False``; in ``log`` mode
        a warning and ``True`` (the message as it arrived). Refused for the receiver's
        fault (``transient``: a CRL server or the replay store out of reach): in
        ``enforce`` mode, requeued after a back-off and ``False``, never dispatched.
        """
        if self.mode == "sign-only":
            return True
        raw = message._raw_message
        info = getattr(raw, "delivery_info", None) or {}
        reply_queue = bool(subscription) and subscription[0] == ""
        transient = False
        try:
            inner, report = self._verify(message, subscription, reply_queue)
        except (waxseal.Rejected, _Refusal) as e:
            code, reason = e.code, getattr(e, "reason", str(e))
            transient = bool(getattr(e, "transient", False))
        except ValueError as e:
            code, reason = "malformed", str(e)
        else:
            if self._backoff:  # only after a transient failure: no lock for every message
                with self._lock:
                    self._backoff = 0.0
            if reply_queue and inner.get("ending", True):
                self._forget_call(inner.get("_msg_id"))
            self._count("admitted")
            key = report.get("replay_key")
            if key:
                self._settle_on_acknowledge(message, key)
            if report.get("duplicate"):
                self._count("duplicates")
                LOG.debug(
                    "waxseal: a broker redelivery of a message already admitted (replay "
                    "key %s): dispatched again (at-least-once)",
                    _escape(report.get("replay_key") or ""),
                )
            message.clear()
            message.update(inner)
            return True
        where = "exchange %s routing key %s" % (
            _escape(_text(info.get("exchange", ""))),
            _escape(_text(info.get("routing_key", ""))),
        )
        if self.mode == "log":
            LOG.warning(
                "waxseal: mode=log: delivering a message that enforce would refuse (%s): %s: %s",
                where,
                _escape(code),
                _escape(reason),
            )
            return True
        if transient:
            self._count("requeued")
            self._requeue(message, where, code, reason)
            return False
        self._count("refused")
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

    def _settle_on_acknowledge(self, message, key):
        """Makes ``message.acknowledge()`` (the ``RabbitMessage``'s: every listener of
        oslo.messaging acknowledges through it; the RPC listener before dispatching, the
        notification listener after, the reply waiter on arrival) mark ``key`` settled
        once the acknowledgement went out. An acknowledgement that fails settles nothing
        (the broker redelivers the message: a flagged duplicate)."""
        acknowledge = message.acknowledge

        def acknowledge_and_settle():
            acknowledge()
            self.settle(key)

        message.acknowledge = acknowledge_and_settle

    def settle(self, key):
        """Marks the admitted ``key`` settled (its acknowledgement went out). A store out
        of reach is logged and counted, never raised: the key stays admitted, so a broker
        redelivery of it would be a flagged duplicate (at-least-once), and the message
        itself is already acknowledged."""
        try:
            self.bus.settle(key)
        except Exception as e:  # noqa: BLE001 - nothing may undo an acknowledgement
            self._count("settle_failed")
            LOG.warning(
                "waxseal: acknowledged a message but could not mark it settled in the "
                "replay store (replay key %s): %s: %s; it stays admitted (a broker "
                "redelivery of it would be a flagged duplicate)",
                _escape(key),
                _escape(getattr(e, "code", type(e).__name__)),
                _escape(getattr(e, "reason", str(e))),
            )
        else:
            self._count("settled")

    def _requeue(self, message, where, code, reason):
        """A failure of ours, not the message's: back off, then hand it back to the
        broker (not acknowledged, not dispatched). The sleep holds this consumer (its
        connection's polling thread or green thread), which is the point: nothing is
        taken off the queue while the failure lasts."""
        with self._lock:
            delay = min(max(self._backoff * 2, BACKOFF_MIN_SECS), BACKOFF_MAX_SECS)
            self._backoff = delay
        LOG.warning(
            "waxseal: could not decide on a message (%s): %s: %s; a failure of this "
            "receiver, not of the message: requeued after %.1f s, not dispatched",
            where,
            _escape(code),
            _escape(reason),
            delay,
        )
        time.sleep(delay)
        try:
            message.requeue()
        except Exception as e:  # the connection is gone: the broker redelivers it anyway
            LOG.warning("waxseal: could not requeue the message: %s", _escape(e))


def _guarded(guard, callback, subscription):
    """``callback`` (a consumer's, called with a ``RabbitMessage``) behind ``guard``;
    ``subscription``: what that consumer declared."""

    def waxseal_guarded(message):
        if guard.admit(message, subscription):
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
            consumer.callback = _guarded(self._waxseal, callback, subscription_of(consumer))
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
    if not callable(getattr(impl_rabbit.RabbitDriver, "_send", None)):
        missing.append("AMQPDriverBase._send")
    consumer_args = inspect.signature(impl_rabbit.Consumer.__init__).parameters
    for name in ("exchange_name", "queue_name", "routing_key", "type", "callback"):
        if name not in consumer_args:
            missing.append("impl_rabbit.Consumer(%s)" % name)
    for name in ("acknowledge", "requeue"):
        if not callable(getattr(impl_rabbit.RabbitMessage, name, None)):
            missing.append("impl_rabbit.RabbitMessage.%s" % name)
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
        store = getattr(guard.bus, "replay_store", "memory")
        LOG.info(
            "waxseal: signing as %s, mode=%s, replay store %s%s",
            _escape(getattr(guard.signer, "subject", "?")),
            guard.mode,
            _escape(store),
            (
                " (this process only: a service with several workers or hosts on one "
                "queue needs [waxseal] replay_store = redis://... or file:PATH)"
                if store == "memory" and guard.mode == "enforce"
                else ""
            ),
        )

    def _send(self, target, *args, **kwargs):
        # Every call, cast, fanout and notification goes through AMQPDriverBase._send,
        # which makes the call's _msg_id, publishes, then waits for the reply; the guard
        # remembers the call's target for exactly that long.
        with self.waxseal_guard.sending(target):
            return super()._send(target, *args, **kwargs)
