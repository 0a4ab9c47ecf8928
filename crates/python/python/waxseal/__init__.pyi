"""waxseal: signed message envelopes (CMS SignedData) for message buses.

Bytes in, bytes out. Every refusal raises :class:`Rejected` with the same reason code as
the ``waxseal`` command (``message-digest-mismatch``, ``untrusted``, ``revoked``,
``replayed``, ``topic-mismatch``...); an unusable configuration or file raises
:class:`ConfigError`. Verification and signing release the GIL, so one :class:`Verifier`
or :class:`Bus` shared by many threads uses as many cores.
"""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, final


__all__ = [
    "Bus",
    "ConfigError",
    "Rejected",
    "Signer",
    "Verified",
    "VerifiedSlip",
    "Verifier",
    "WaxsealError",
    "__version__",
    "countersign",
    "strip_credentials",
]

__version__: str

_Path = Union[str, "PathLike[str]"]
_PathOrBytes = Union[str, "PathLike[str]", bytes]

class WaxsealError(Exception):
    """Base class of waxseal's exceptions."""

class Rejected(WaxsealError):
    """A refused envelope, slip or message (fail closed: nothing of it is returned)."""

    code: str
    """The stable reason code, as the CLI's ``--json`` ``reason``."""
    stage: Optional[str]
    """For bus messages: ``format``, ``signature``, ``certificate``, ``route``,
    ``authorization`` or ``freshness``; ``None`` for plain envelopes and slips."""
    hop: Optional[int]
    """The routing-slip hop concerned (0: the origin), if any."""
    reason: str
    """One line for a person; ``str(exc)`` is ``"<code>: <reason>"``."""
    transient: bool
    """``True`` for a failure of the receiver, not of the message (``crl-unavailable``,
    ``replay-store-unavailable``), or of a signer's TSA out of reach (``tsa-unavailable``):
    retry it later (requeue), do not refuse it."""

class ConfigError(WaxsealError):
    """A configuration, certificate, key or CRL that cannot be used."""

@final
class Signer:
    """A signing identity: certificate, private key and chain.

    ``cert``, ``key`` and ``chain`` are file paths (PEM or DER). The key file must be
    readable by its owner only unless ``insecure_key_permissions``. A certificate whose
    keyUsage / extendedKeyUsage verifiers would refuse for ``purposes`` (default:
    emailProtection, any-eku, bus-signing) is refused (:class:`ConfigError`).
    """

    def __new__(
        cls,
        cert: _Path,
        key: _Path,
        chain: Optional[Union[_Path, Sequence[_Path]]] = None,
        *,
        insecure_key_permissions: bool = False,
        purposes: Optional[Sequence[str]] = None,
    ) -> "Signer": ...
    @staticmethod
    def from_pem(cert: bytes, key: bytes, chain: Optional[bytes] = None) -> "Signer":
        """A signer from the PEM (or DER) bytes of the certificate, the key and the chain."""
    @property
    def subject(self) -> str:
        """The certificate's subject, e.g. ``CN=bodhi-app01.example.org``."""
    @property
    def certificate_pem(self) -> str:
        """The signer's certificate then its chain, PEM."""
    def sign(
        self,
        content: bytes,
        *,
        detached: bool = False,
        certificates: bool = True,
        signed_attributes: bool = True,
        digest: Optional[str] = None,
    ) -> bytes:
        """A CMS SignedData (DER) over ``content``.

        ``detached``: leave the content out. ``certificates=False``: embed no
        certificates (verifiers find the signer in their ``certs``).
        ``signed_attributes=False``: sign the content directly (as Keystone PKI tokens).
        ``digest``: ``sha256``, ``sha384`` or ``sha512`` (default: the key's).
        """
    def sign_legacy_rsa_sha1(self, data: bytes, *, legacy_sha1: bool = False) -> bytes:
        """RSA PKCS #1 v1.5 with SHA-1 over raw ``data`` (no envelope), for legacy wires
        only (fedmsg 1.x's ``x509`` messages). Raises ``ValueError`` unless
        ``legacy_sha1=True`` or when the key is not RSA."""

@final
class Verified:
    """A verified envelope: the content and who signed it."""

    content: bytes
    signers: List[Dict[str, Any]]
    """Per verified signer: ``index``, ``subject``, ``common_name``, ``issuer``,
    ``serial``, ``signing_time`` (RFC 3339 or None), ``digest``,
    ``signature_algorithm``, ``path`` (subjects, signer first), ``revocation_checked``."""

@final
class VerifiedSlip:
    """A verified routing slip: the content and its hops, origin first."""

    content: bytes
    hops: List[Dict[str, Any]]
    """Per hop: ``index``, ``name`` (entity, the CN), ``subject``, ``serial``,
    ``signing_time``, ``role``, ``action``, ``signature_algorithm``, ``path``,
    ``revocation_checked``."""

@final
class Verifier:
    """Verifies CMS envelopes against trust anchors. Build it once, share it by threads.

    ``trust``, ``certs`` and ``crls``: each item a file or directory path (``str``), an
    http(s) URL (``str``; fetched once, now, within ``fetch_timeout`` seconds: a
    ``Verifier`` is a snapshot, a :class:`Bus` refreshes; trust anchors only over https;
    a CRL URL with no current CRL raises :class:`ConfigError` starting with
    ``crl-unavailable``) or PEM/DER bytes. With CRLs, revocation is checked for every certificate below the anchor
    (``crl_scope="all"``) or only the signer's (``"leaf"``). ``at``: verify as of this
    RFC 3339 time instead of now. ``purposes``: accepted extendedKeyUsage purposes
    (``emailProtection``, ``codeSigning``, ``serverAuth``, ``clientAuth``,
    ``bus-signing``, ``any-eku`` or dotted OIDs).
    """

    def __new__(
        cls,
        trust: Sequence[_PathOrBytes],
        *,
        certs: Sequence[_PathOrBytes] = ...,
        crls: Sequence[_PathOrBytes] = ...,
        crl_scope: str = "all",
        at: Optional[str] = None,
        allow_sha1: bool = False,
        purposes: Optional[Sequence[str]] = None,
        fetch_timeout: float = 10.0,
    ) -> "Verifier": ...
    def verify(self, envelope: bytes, content: Optional[bytes] = None) -> Verified:
        """Verifies ``envelope`` (DER, BER, PEM or S/MIME; ``content`` for a detached
        one). Raises :class:`Rejected`."""
    def cache_stats(self) -> Dict[str, int]:
        """What the verifier's caches did so far: ``path_hits``, ``path_misses`` (path
        lookups answered or not), ``signature_hits``, ``signature_misses`` (signature
        checks answered, or paid with a public-key operation), ``entries`` (held now:
        ``path_entries`` plus ``signature_entries``), ``capacity`` (most paths held) and
        ``generation`` (invalidations)."""
    def verify_slip(
        self,
        envelope: bytes,
        content: Optional[bytes] = None,
        *,
        expect: Optional[Sequence[str]] = None,
        require: Optional[Sequence[str]] = None,
        max_hops: int = 32,
        max_age: Optional[float] = None,
        clock_skew: float = 300.0,
        allow_repeats: bool = False,
    ) -> VerifiedSlip:
        """Verifies a routing slip: every hop's signature and path, then the route:
        ``expect`` the exact itinerary (entity names, origin first), ``require`` hops that
        must appear in this order, ``max_age`` seconds since the origin signed. Raises
        :class:`Rejected` (``itinerary-mismatch``, ``missing-required-hop``...)."""

def countersign(
    envelope: bytes,
    signer: Signer,
    *,
    role: Optional[str] = None,
    action: Optional[str] = None,
    max_hops: int = 32,
    certificates: bool = True,
) -> bytes:
    """Adds a routing-slip hop: ``signer`` countersigns the last hop of ``envelope``
    (DER in, DER out)."""

@final
class Bus:
    """A bus participant, from the same configuration file as
    ``waxseal msg validate --config``. Shared by threads; keeps a replay cache.

    ``trust``, ``certs`` and ``crls`` in the configuration may be http(s) URLs: fetched
    (``fetch.timeout_ms``), cached in ``fetch.cache_dir``, and refreshed before a
    validation when the cache expires (``fetch.crl_cache_expiry_secs``), when the CRL's
    nextUpdate is reached and when a file changes, so a long-running bus picks up a new
    CRL without :meth:`reload`. With no current CRL, validation raises
    :class:`Rejected` with code ``crl-unavailable``."""

    def __new__(cls, config: _Path, *, at: Optional[str] = None) -> "Bus":
        """Loads ``config`` (a path). ``at``: validate as of this RFC 3339 time.
        Raises :class:`ConfigError`."""
    @staticmethod
    def from_json(
        config: str, *, base: Optional[_Path] = None, at: Optional[str] = None
    ) -> "Bus":
        """A bus from configuration text (the configuration file's JSON); relative paths
        in it are resolved in ``base`` (default: the current directory). :meth:`reload`
        re-reads the files it names. Raises :class:`ConfigError`."""
    @property
    def sign_messages(self) -> bool:
        """The configuration's ``sign_messages`` switch (for the caller to honour)."""
    @property
    def validate_signatures(self) -> bool:
        """The configuration's ``validate_signatures`` switch."""
    def sign(self, message: bytes, signer: Signer) -> bytes:
        """Signs a fedmsg-style JSON object message (text in, signed text out: every
        member kept byte for byte, ``crypto``, ``signature``, ``certificate`` appended).
        Raises :class:`Rejected` for input waxseal refuses to sign (``malformed-json``,
        ``inexact-number``, ``malformed-topic``).

        With ``tsa_url`` in the configuration the signature is time-stamped at that RFC
        3161 TSA, each reply verified against ``tsa_trust`` before it is attached; when
        that fails nothing is returned (no message leaves unstamped): :class:`Rejected`
        with ``code`` ``tsa-unavailable`` and ``transient`` ``True`` for a TSA out of
        reach (try again later), or the reply's ``timestamp-*`` code (``transient``
        ``False``) for a reply refused."""
    def validate(
        self, message: bytes, topic: Optional[str] = None, *, replay: bool = True
    ) -> Dict[str, Any]:
        """Validates a fedmsg-style message (that arrived on ``topic``, which must then be
        its own ``topic``): format, signature, certificate path, CRLs, freshness, routing
        policy, claims, replay. Returns the report (``signed``, ``note``, ``signer``,
        ``entity``, ``authorization``). Raises :class:`Rejected`. ``replay=False``: every
        check but the replay store, and nothing recorded there, for a caller asking
        whether a message is valid (and may ask again about the same one, as
        ``waxseal.fedmsg.validate`` does) rather than taking a delivery: no replay
        protection."""
    def validate_signed_by(
        self,
        message: bytes,
        signer: str,
        topic: Optional[str] = None,
        *,
        replay: bool = True,
    ) -> Dict[str, Any]:
        """As :meth:`validate`, and signed by the entity ``signer``."""
    def sign_oslo(
        self,
        envelope: bytes,
        signer: Signer,
        *,
        topic: str,
        exchange: Optional[str] = None,
    ) -> bytes:
        """Adds ``oslo.signature`` to an oslo envelope (``{"oslo.version": "2.0",
        "oslo.message": "..."}``; a bare message object is wrapped first), bound to the
        route ``topic`` (and ``exchange``). Other members are kept byte for byte.
        Time-stamped at ``tsa_url`` when the configuration names one, as :meth:`sign`."""
    def oslo_signature(
        self,
        message: str,
        signer: Signer,
        *,
        topic: str,
        exchange: Optional[str] = None,
    ) -> str:
        """The ``oslo.signature`` that :meth:`sign_oslo` adds to the envelope
        ``{"oslo.version": "2.0", "oslo.message": message}``, bound to the route ``topic``
        (and ``exchange``): for a caller holding the envelope as a dict, which adds it
        there without serialising the envelope and parsing the result back. ``message``
        is parsed strictly (as :meth:`sign_oslo` does) and signed as the exact text it
        is. Raises :class:`Rejected` for a message it refuses, and time-stamps as
        :meth:`sign`."""
    def countersign_oslo(
        self,
        envelope: bytes,
        signer: Signer,
        *,
        topic: Optional[str] = None,
        exchange: Optional[str] = None,
        role: Optional[str] = None,
        action: Optional[str] = None,
    ) -> bytes:
        """Adds a routing-slip hop to a signed oslo envelope; ``topic`` (and
        ``exchange``): the route this hop forwards it on (default: the route it came
        with)."""
    def verify_oslo(
        self, envelope: bytes, *, topic: str, exchange: Optional[str] = None
    ) -> Dict[str, Any]:
        """Verifies an oslo envelope that arrived on ``topic`` (and ``exchange``).
        Returns the report: ``message_text`` (the exact ``oslo.message`` string),
        ``message`` (parsed), ``signed``, ``entity``, ``authorization``, ``hops``,
        ``route``. Raises :class:`Rejected` (``topic-mismatch``, ``unsigned``...)."""
    def admit(
        self,
        body: bytes,
        *,
        exchange: Optional[str] = None,
        routing_key: Optional[str] = None,
        signed_exchange: bool = False,
        subscription: Optional[Tuple[str, str, List[str]]] = None,
        redelivered: bool = False,
        user_id: Optional[str] = None,
        sender_routed: bool = False,
        reply_to: Optional[Tuple[str, str, Optional[str]]] = None,
        signed_by: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Admits a delivery, the one admission path every consumer takes: ``body`` as it
        came off the broker (a fedmsg-style message or an oslo envelope) and what the
        receiver knows of how it arrived. In order: the broker-side checks, the format,
        signature, certificate path and CRLs, the route, freshness, authorization, replay.

        - ``exchange``, ``routing_key``: the delivery's, as the broker reported them
          (``exchange=""``: the default exchange). With ``exchange``, ``routing_key`` is
          required (unless ``signed_exchange``). ``routing_key`` alone: the topic it
          arrived on. Neither: unrouted (an oslo envelope is then refused,
          ``topic-required``).
        - ``signed_exchange``: compare the exchange with the signed route too, by
          oslo.messaging's rules (a fanout exchange ``<topic>_fanout`` with an empty
          routing key is ``topic``): an oslo consumer of the sender's exchange.
        - ``subscription``: ``(exchange, queue, [binding keys])`` this consumer declared
          (AMQP topic patterns; a fanout: ``["#"]``; a reply queue: ``("", queue,
          [queue])``). A delivery it cannot have come through is refused
          (``route-not-subscribed``); without it, the default exchange is refused.
        - ``redelivered``: the broker's flag; a redelivery of a message already admitted
          is admitted with ``duplicate`` True instead of refused as ``replayed``.
        - ``user_id``: the broker-validated ``user_id`` property, copied to the report
          (never an identity).
        - ``sender_routed``: the delivery carried ``CC`` or ``BCC`` headers; refused
          (``sender-routed``).
        - ``reply_to``: for an RPC reply, the call it answers ``(msg_id, topic, server)``:
          the signed reply must carry that ``_msg_id`` (``reply-unbound``) and come from an
          entity the routing policy allows on the call's topic and, for a call to a
          server, that server (``reply-not-from-callee``).
        - ``signed_by``: the entity a fedmsg-style message must be signed by.

        Returns the report: the verified message (``format``: ``fedmsg`` or ``oslo``; for
        oslo, ``message_text``: the exact ``oslo.message`` string), ``replay_key`` (hex),
        ``duplicate``, ``user_id``. Raises :class:`Rejected` (see its ``transient``), or
        :class:`ValueError` for arguments that do not fit together."""
    def settle(self, replay_key: str) -> None:
        """Marks an admitted message settled once its acknowledgement went out: a broker
        redelivery of it is then refused (``replayed``) too, as any new delivery of it
        already is. ``replay_key``: the admission report's (64 hex digits); settling a
        key the store does not hold is not an error. Raises :class:`Rejected` with
        ``transient`` True (``replay-store-unavailable``) when the store is out of reach
        (the key stays admitted), :class:`ValueError` for a malformed key."""
    @property
    def replay_store(self) -> str:
        """The replay store in use (the configuration's ``replay_store``, default
        ``memory``), in a few words for logs, without credentials."""
    def cache_stats(self) -> Dict[str, int]:
        """What the bus's path and signature-outcome cache did so far, the keys of
        :meth:`Verifier.cache_stats`. A refresh that changes the anchors, certificates or
        CRLs drops the cached paths and adds one to ``generation``; :meth:`reload` starts
        a new cache."""
    def refresh_trust(self) -> bool:
        """Fetches every CA and CRL URL now and re-reads changed files, waiting for it
        (validations go on meanwhile with the held copies); ``True`` if anything changed.
        Validation itself refreshes in the background when a source is due."""
    def distribution_stats(self) -> Dict[str, Any]:
        """What became of fetched and cached CA bundles and CRLs: ``accepted``,
        ``fetch_failed``, ``refused_malformed``, ``refused_signature`` (no configured
        issuer verifies the CRL), ``refused_not_current``, ``refused_older`` (a CRL older
        than the held one: a stale mirror or a replay), ``refused_cache`` (a cached copy
        refused when read back), ``background_refreshes`` (ints) and ``last_problem``
        (str or None). A refused copy never replaces the held one."""
    def reload(self) -> None:
        """Re-reads the configuration file, anchors, certificates and CRLs (keeps the
        replay cache). Raises :class:`ConfigError` and keeps the old state."""
    def validate_legacy_x509(
        self,
        signed: bytes,
        signature: bytes,
        certificate: Union[bytes, str],
        *,
        signer: Optional[str] = None,
        legacy_sha1: bool = False,
    ) -> Dict[str, Any]:
        """Validates a fedmsg 1.x ``x509`` message (legacy: requires ``legacy_sha1=True``).
        ``signed``: the exact bytes its signature covers (fedmsg's canonical JSON of the
        message without ``signature`` and ``certificate``); ``signature``: the raw RSA
        PKCS #1 v1.5 SHA-1 signature; ``certificate``: the signer's certificate, PEM
        (``bytes``) or the message's ``certificate`` field (``str``, base64 of PEM without
        line breaks; each distinct field is decoded once), the first one only. The path is validated with this bus's anchors, certificates and
        CRLs; topic and claims are read from ``signed`` and authorized as :meth:`validate`
        does (by ``signer`` alone, when given). No freshness or replay check (the wire has
        no signing time). Returns the report; raises :class:`Rejected`."""

def strip_credentials(message: bytes) -> bytes:
    """The message without ``signature`` and ``certificate`` (other members byte for
    byte)."""
