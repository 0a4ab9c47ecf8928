"""``waxseal.fedmsg``: a drop-in for ``fedmsg.crypto``.

The same functions with the same signatures and return values as fedmsg 1.x's
``fedmsg.crypto``::

    init(**config)
    sign(message, **config)                      -> the signed message (a new dict)
    validate(message, **config)                  -> True or False (the reason is logged)
    validate_signed_by(message, signer, **config) -> True or False
    strip_credentials(message)                   -> a copy without signature and certificate

reading fedmsg's configuration keys as they are (``/etc/fedmsg.d/*.py``): ``ssldir``,
``certnames``, ``certname``, ``cert_prefix``, ``crypto_backend``,
``crypto_validate_backends``, ``ca_cert_location``, ``ca_cert_cache``,
``ca_cert_cache_expiry``, ``crl_location``, ``crl_cache``, ``crl_cache_expiry``,
``routing_policy``, ``routing_nitpicky``. ``validate_signatures`` is not read, as
fedmsg.crypto does not read it: it is the hub's and each consumer's switch for whether
to call :func:`validate` at all, so a consumer that validates on a hub whose
configuration says False still refuses forgeries.

Two wires:

- ``crypto_backend='cms'`` (the default): waxseal's envelope, a detached CMS SignedData
  over the RFC 8785 canonical form of the message, validated by :class:`waxseal.Bus`
  (SHA-256 or better, a signing time, the full RFC 5280 path with CRLs).
- ``crypto_backend='x509'``: fedmsg 1.x's own wire (RSA PKCS #1 v1.5 with SHA-1 over
  fedmsg's ``json.dumps`` canonical form, the certificate in the message), so that
  consumers still running fedmsg accept waxseal's messages during a migration.

``validate`` accepts the wires listed in ``crypto_validate_backends`` (default
``['cms']``). Listing ``'x509'`` accepts messages from fedmsg 1.x publishers. That wire
is weaker: its signature is RSA-SHA1 (SHA-1 collisions are practical, so a signer can be
made to sign one message whose signature also fits another; waxseal accepts SHA-1 only
there), it carries no signing time (no freshness check, and an old message replays as
well as a new one), its canonical form is Python's ``json.dumps`` (not a standard, so
every implementation must reproduce CPython's float and escape formatting) and it signs
with RSA keys only. Accept it only while fedmsg publishers remain, then remove it.

Differences from fedmsg 1.x, each on the side of refusing:

- ``validate`` never raises for anything a message can hold (it returns False) and
  never trusts a message it could not check: a CA or CRL it cannot read when it first
  validates under a configuration, or a location it cannot fetch, is logged and the
  message refused.
- Trust anchors: every certificate in ``ca_cert_location`` (fedmsg uses the first only;
  a bundle lets the old and the new root both be trusted during a CA rotation). Every
  CRL in ``crl_location`` is used.
- One :class:`waxseal.Bus` per configuration, built at the first validation under it and
  kept (at most :data:`BUS_CACHE_SIZE` configurations, the least recently used dropped
  first), so a validation costs one verification. The configuration is what shapes the
  bus: the CA and CRL locations, ``routing_policy``, ``routing_nitpicky``, the cache and
  expiry keys and ``waxseal_fetch_timeout``, read at every call (a policy changed between
  calls is honoured).
- The CA and CRL files are checked before every validation (one stat each: size,
  modification time, inode) and read again when they changed, so a new CRL counts from
  the next validation on (fedmsg keeps them in memory until some validation fails, so a
  running fedmsg keeps accepting a revoked signer). A file removed or unreadable after
  it was first read keeps the copy last read, as :class:`waxseal.Bus` does (a file
  being rewritten is not a revocation; a CRL serves only until its nextUpdate).
- http(s) locations are fetched (``waxseal_fetch_timeout`` seconds at most, default
  10) and the copy kept for ``crl_cache_expiry`` seconds (default 3600, as fedmsg's) or
  ``ca_cert_cache_expiry`` (default 86400; fedmsg's 0 would fetch a CA for every
  validation): the validation that finds a copy that old fetches it again and waits for
  it, so a revocation published on the server counts within ``crl_cache_expiry``; a CRL
  is also fetched again at its nextUpdate, beside validation. After each fetch at expiry
  the file named by ``crl_cache`` (``ca_cert_cache``) holds the CRL (CA) as served, as
  older fedmsg wrote it (fedmsg 1.1.7 keeps it in memory only). waxseal's own copy, from
  which it decides freshness, sits beside that file in a directory of its own
  (``.<file name>.waxseal/``, mode 0700; refused if others may write it); without either
  key the copy is kept in memory. A failed fetch keeps the copy while it is current;
  once no current CRL can be had every message is refused (``crl-unavailable``). fedmsg
  fetches only https and opens ``http://`` as a file path; waxseal fetches a CRL over
  http (it is signed) but a CA only over https.
- ``routing_policy`` topics and names are read as waxseal patterns (``*`` and ``#`` in
  topics, ``*`` in names); fedmsg's exact topics and certificate names mean the same.
  The signer's name is the certificate's CN, as in fedmsg.
- The configuration given to each call wins over the one :func:`init` saw (fedmsg keeps
  the first).
- :func:`sign` does not modify the message it is given; it returns a new one.
- Strings are I-JSON (RFC 7493 section 2.1): a surrogate code point in a ``str`` (what
  Python's ``json`` makes of an escaped lone surrogate, ``"\\ud800"``) is refused by
  :func:`sign` (``waxseal.Rejected``, ``malformed-json``) and by :func:`validate`, on
  both wires; fedmsg signs and accepts it, though decoders disagree on what it means.
- No replay cache: fedmsg's ``validate`` is a question about a message, asked by every
  consumer of a hub about the same message, so a second ``True`` is the right answer.
"""

import base64
import copy
import datetime
import hashlib
import json
import logging
import os
import re
import socket
import stat
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import waxseal

__all__ = [
    "init",
    "sign",
    "validate",
    "validate_signed_by",
    "strip_credentials",
    "BACKENDS",
]

log = logging.getLogger(__name__)

#: The wires ``crypto_backend`` and ``crypto_validate_backends`` may name.
BACKENDS = ("cms", "x509")

# fedmsg's defaults, kept so that a configuration that relied on them means the same.
_DEFAULT_SSLDIR = "/etc/pki/fedmsg"
_DEFAULT_CA = "https://fedoraproject.org/fedmsg/ca.crt"
_DEFAULT_CRL = "https://fedoraproject.org/fedmsg/crl.pem"
# fedmsg's crl_cache_expiry default; ca_cert_cache_expiry defaults to waxseal's (fedmsg's
# 0 would fetch the CA for every validation).
_DEFAULT_CRL_EXPIRY = 3600
_DEFAULT_CA_EXPIRY = 86400

_CREDENTIALS = ("signature", "certificate")

_lock = threading.Lock()
_implementation: Optional[str] = None
_validate_implementations: Optional[List[str]] = None
# (cert path, key path) -> (file stamps, signer, the certificate's PEM)
_signers: Dict[Tuple[str, str], Tuple[Any, "waxseal.Signer", bytes]] = {}


class _Refused(Exception):
    """A message refused before waxseal saw it (the reason is logged)."""


def _escape(text):
    """Text from a message, safe for one log line: control and non-ASCII characters
    escaped."""
    return str(text).encode("unicode_escape").decode("ascii")


# A surrogate code point (U+D800-U+DFFF) in a Python ``str``: not a Unicode character.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(message):
    """Where ``message`` (dicts, lists, tuples, strings; keys included) holds a surrogate
    code point, else None. Python's ``json`` decodes an escaped lone surrogate
    (``"\\ud800"``) to one and writes it back as the same escape, so a message can carry
    one; I-JSON (RFC 7493 section 2.1) refuses it, because decoders disagree on what it
    means (U+FFFD for some). A surrogate pair in a ``str`` is refused too: Python's ``json``
    writes it as an escaped pair, which decodes to another string (the character)."""
    stack = [("", message)]
    seen = set()
    while stack:
        path, value = stack.pop()
        if isinstance(value, (dict, list, tuple)):
            # A container met twice (a reference cycle, or shared) is searched once.
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path or "the message"
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and _SURROGATE.search(k):
                    return "a key of %s" % (path or "the message")
                stack.append(("%s/%s" % (path, _escape(k)), v))
        elif isinstance(value, (list, tuple)):
            stack.extend(("%s/%d" % (path, i), v) for i, v in enumerate(value))
    return None


def _check_strings(message):
    """Raises :class:`waxseal.Rejected` (``malformed-json``) for a surrogate in
    ``message``."""
    where = _lone_surrogate(message)
    if where is not None:
        _refuse_surrogate(where)


def _checked_text(encode, message):
    """``encode(message)`` (an encoder writing non-ASCII characters as they are, so a
    surrogate code point in a ``str`` stays one in the text), refused (as
    :func:`_check_strings`) if it holds a surrogate: one search of the serialised text
    instead of a walk of the message, which also covers what only serialisation reaches
    (``__json__``, sets)."""
    text = encode(message)
    # An ASCII string (known in constant time) holds no surrogate.
    if not text.isascii() and _SURROGATE.search(text):
        _refuse_surrogate(_lone_surrogate(message) or "a value serialised from the message")
    return text


def _refuse_surrogate(where):
    reason = (
        "%s holds a lone surrogate, which is not a character (I-JSON, RFC 7493 "
        "section 2.1)" % where
    )
    error = waxseal.Rejected("malformed-json: " + reason)
    error.code = "malformed-json"
    error.reason = reason
    error.stage = "format"
    error.hop = None
    raise error


def _backend(name, key):
    if name not in BACKENDS:
        raise ValueError(
            "%r is not a valid crypto backend (%s: waxseal.fedmsg knows %s)"
            % (name, key, ", ".join(BACKENDS))
        )
    return name


def init(**config):
    """Reads ``crypto_backend`` (``'cms'``, the default, or ``'x509'``) and
    ``crypto_validate_backends`` (default ``['cms']``). Raises ``ValueError`` for any
    other backend name (fedmsg's ``'gpg'`` included)."""
    global _implementation, _validate_implementations
    implementation = _backend(config.get("crypto_backend") or "cms", "crypto_backend")
    accepted = [
        _backend(b, "crypto_validate_backends")
        for b in (config.get("crypto_validate_backends") or ["cms"])
    ]
    with _lock:
        _implementation = implementation
        _validate_implementations = accepted


def _implementation_for(config):
    if "crypto_backend" in config:
        return _backend(config.get("crypto_backend") or "cms", "crypto_backend")
    if _implementation is None:
        init(**config)
    return _implementation


def _accepted_for(config):
    if "crypto_validate_backends" in config:
        return [
            _backend(b, "crypto_validate_backends")
            for b in (config.get("crypto_validate_backends") or ["cms"])
        ]
    if _validate_implementations is None:
        init(**config)
    return _validate_implementations


class _Encoder(json.JSONEncoder):
    """fedmsg.encoding's encoder: what fedmsg 1.x serialises, and so what it signs."""

    def default(self, obj):
        if hasattr(obj, "__json__"):
            return obj.__json__()
        if isinstance(obj, (datetime.datetime, datetime.date)):
            return time.mktime(obj.timetuple())
        if isinstance(obj, time.struct_time):
            return time.mktime(obj)
        if isinstance(obj, set):
            return list(obj)
        return super().default(obj)


# fedmsg.encoding.dumps: keys sorted, no spaces, ASCII only. The x509 wire signs exactly
# these bytes.
_fedmsg_dumps = _Encoder(sort_keys=True, separators=(",", ":")).encode
# The same with non-ASCII characters as they are: the same text when it is all printable
# ASCII (ensure_ascii also escapes DEL, U+007F).
_fedmsg_dumps_unicode = _Encoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False
).encode
# The cms wire signs the RFC 8785 form computed by waxseal from this text.
_to_text = _Encoder().encode
# The same with non-ASCII characters as they are (waxseal parses either).
_to_text_unicode = _Encoder(ensure_ascii=False).encode


def _wrap76(b64):
    """fedmsg 1.x (after M2Crypto): base64 in lines of 76 with a final newline."""
    return "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)) + "\n"


def _certname(config):
    """fedmsg's choice of key pair: ``certname``, else ``certnames`` looked up by
    ``<cert_prefix>.<short hostname>`` (or by the process's ``name``), as fedmsg.core
    does."""
    certname = config.get("certname")
    if certname:
        return certname
    certnames = config.get("certnames") or {}
    if config.get("cert_prefix"):
        hostname = socket.gethostname().split(".", 1)[0]
        index = "%s.%s" % (config["cert_prefix"], hostname)
    elif config.get("name"):
        index = config["name"]
    else:
        index = None
    if index is not None and index in certnames:
        return certnames[index]
    raise ValueError(
        "You must set the ssldir and certname keyword arguments "
        "(or certnames with cert_prefix)."
    )


def _stat(path):
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _signer(ssldir, certname):
    """The signer of ``<ssldir>/<certname>.crt`` and ``.key``, reloaded when a file
    changes (a renewed certificate is used at once)."""
    crt = os.path.join(ssldir, certname + ".crt")
    key = os.path.join(ssldir, certname + ".key")
    stamp = (_stat(crt), _stat(key))
    with _lock:
        cached = _signers.get((crt, key))
    if cached is not None and cached[0] == stamp:
        return cached[1], cached[2]
    with open(crt, "rb") as f:
        pem = f.read()
    end = b"-----END CERTIFICATE-----"
    first = pem[: pem.index(end) + len(end)] + b"\n" if end in pem else pem
    signer = waxseal.Signer(crt, key)
    with _lock:
        _signers[(crt, key)] = (stamp, signer, first)
    return signer, first


def sign(message, **config):
    """Signs ``message`` (a dict) as ``crypto_backend`` says and returns a new dict with
    ``crypto``, ``signature`` and ``certificate``. The key pair is
    ``<ssldir>/<certname>.key`` and ``.crt`` (``certname`` directly or through
    ``certnames``). Raises ``ValueError`` without them, ``waxseal.WaxsealError`` when
    the key or the message cannot be used (as fedmsg raises): ``waxseal.Rejected`` with
    ``malformed-json`` for a string holding a surrogate (a lone ``\\ud800``), on both
    wires."""
    backend = _implementation_for(config)
    ssldir = config.get("ssldir")
    if not ssldir:
        raise ValueError("You must set the ssldir and certname keyword arguments.")
    signer, cert_pem = _signer(ssldir, _certname(config))
    unsigned = strip_credentials(message)
    _check_strings(unsigned)
    if backend == "x509":
        unsigned["crypto"] = "x509"
        signature = signer.sign_legacy_rsa_sha1(
            _fedmsg_dumps(unsigned).encode("utf-8"), legacy_sha1=True
        )
        signed = dict(unsigned)
        signed["signature"] = _wrap76(base64.b64encode(signature).decode("ascii"))
        signed["certificate"] = _wrap76(base64.b64encode(cert_pem).decode("ascii"))
        return signed
    text = _signing_bus().sign(_to_text(unsigned).encode("utf-8"), signer)
    return json.loads(text)


def strip_credentials(message):
    """A copy of ``message`` without ``signature`` and ``certificate`` (the original is
    not modified). A dict gives a dict; JSON text (``bytes``) gives bytes, every other
    member kept byte for byte."""
    if isinstance(message, (bytes, bytearray)):
        return waxseal.strip_credentials(bytes(message))
    message = copy.deepcopy(message)
    for field in _CREDENTIALS:
        message.pop(field, None)
    return message


def validate(message, **config):
    """True if ``message`` is signed on an accepted wire by a certificate that chains to
    ``ca_cert_location``, is not revoked in ``crl_location`` and may publish on its
    topic under ``routing_policy`` / ``routing_nitpicky``; False otherwise, with the
    reason logged. Never raises for a bad message. ``validate_signatures`` is not read:
    it is the hub's and each consumer's switch for whether to call this at all (a
    consumer may validate on a hub whose configuration says False), as in fedmsg."""
    return _validate(message, None, config)


def validate_signed_by(message, signer, **config):
    """As :func:`validate`, and signed by the certificate named ``signer`` (its CN): the
    routing policy becomes ``{topic: [signer]}``, nitpicky, as in fedmsg."""
    if not isinstance(signer, str):
        log.error("message refused: the signer to require must be a name (a str)")
        return False
    return _validate(message, signer, config)


def _describe(message):
    if isinstance(message, dict):
        return "message %s on %s" % (
            _escape(message.get("msg_id", "(no msg_id)")),
            _escape(message.get("topic", "(no topic)")),
        )
    return "message"


def _what(message):
    """:func:`_describe`, for a log line; never raises."""
    try:
        return _describe(message)
    except Exception:  # noqa: BLE001 - a message's __str__ may raise
        return "message"


def _validate(message, signer, config):
    accepted = _accepted_for(config)
    try:
        return _check(message, signer, config, accepted)
    except _Refused as e:
        log.error("%s refused: %s", _what(message), e)
    except waxseal.Rejected as e:
        log.error(
            "%s refused: %s (%s): %s",
            _what(message),
            _escape(e.code),
            _escape(e.stage or "envelope"),
            _escape(e.reason),
        )
    except waxseal.WaxsealError as e:
        log.error("%s refused: cannot validate: %s", _what(message), _escape(e))
    except Exception as e:  # noqa: BLE001 - the contract: False, never an exception
        # Whatever a message holds (a recursion too deep to serialise, an int too long
        # to print, an object whose __json__ raises): fedmsg's callers do not expect an
        # exception from validate, and a message not checked is a message refused.
        log.error("%s refused: %s: %s", _what(message), type(e).__name__, _escape(e))
    return False


def _check(message, signer, config, accepted):
    """True, or raises why ``message`` is refused."""
    if not isinstance(message, dict):
        raise _Refused("a message must be a dict, not %s" % type(message).__name__)
    crypto = message.get("crypto")
    if crypto is None:
        # fedmsg 0.7.2 and earlier did not name the backend.
        if "certificate" in message:
            crypto = "x509"
        elif "signature" in message:
            crypto = "gpg"
        else:
            raise _Refused("unsigned (no signature, certificate or crypto)")
    if not isinstance(crypto, str) or crypto not in accepted:
        raise _Refused(
            "crypto backend %s is not accepted (crypto_validate_backends: %s)"
            % (_escape(crypto), ", ".join(accepted))
        )
    bus = _validating_bus(config)
    if crypto == "cms":
        text = _checked_text(_to_text_unicode, message).encode("utf-8")
        # No replay store: see the module's notes.
        if signer is None:
            report = bus.validate(text, replay=False)
        else:
            report = bus.validate_signed_by(text, signer, replay=False)
    else:
        signed, signature, certificate = _x509_parts(message)
        report = bus.validate_legacy_x509(
            signed, signature, certificate, signer=signer, legacy_sha1=True
        )
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s accepted: %s", _what(message), _escape(report.get("note", "")))
    return True


# A certificate field as fedmsg writes it once its line breaks are removed: strict base64.
_STRICT_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _x509_parts(message):
    """fedmsg 1.x's x509 wire: (signed bytes, signature, certificate). The certificate is
    the field itself when it is strict base64 once its line breaks are removed (decoded,
    once per distinct field, by the bus), else the PEM that Python's lenient decoding (as
    fedmsg's) makes of it."""
    fields = []
    for field in _CREDENTIALS:
        value = message.get(field)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise _Refused("no %s field (a string)" % field)
        fields.append(value)
    # fedmsg decodes leniently (its own lines of 76 included).
    signature = base64.b64decode(fields[0])
    certificate = fields[1].replace("\n", "")
    if not _STRICT_BASE64.fullmatch(certificate):
        certificate = base64.b64decode(fields[1])
    # A shallow copy: serialised, never modified.
    unsigned = {k: v for k, v in message.items() if k not in _CREDENTIALS}
    text = _checked_text(_fedmsg_dumps_unicode, unsigned)
    if not text.isascii() or "\x7f" in text:
        text = _fedmsg_dumps(unsigned)
    return text.encode("ascii"), signature, certificate


# --- bus configurations -------------------------------------------------------------


_sign_bus: Optional["waxseal.Bus"] = None


def _signing_bus():
    global _sign_bus
    if _sign_bus is None:
        _sign_bus = waxseal.Bus.from_json(json.dumps({"validate_signatures": False}))
    return _sign_bus


def _fetch_settings(settings, cache_dir):
    """fedmsg's expiry keys (seconds, as in fedmsg) and ``waxseal_fetch_timeout`` as the
    bus configuration's ``fetch``, with ``cache_dir`` (None: in memory only)."""
    fetch = {
        "crl_cache_expiry_secs": settings.crl_expiry,
        "ca_cache_expiry_secs": settings.ca_expiry,
    }
    if cache_dir is not None:
        fetch["cache_dir"] = cache_dir
    if settings.timeout_ms is not None:
        fetch["timeout_ms"] = settings.timeout_ms
    return fetch


def _private_dir(path):
    """Creates ``path`` (mode 0700) if needed and checks that it is a directory of this
    user that no one else may write: the copies of the CA and CRL kept there are trusted
    as fetched."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if (
        not stat.S_ISDIR(st.st_mode)
        or st.st_uid != os.geteuid()
        or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise _Refused(
            "%s is not a directory of this user that only it may write; the fetched CA "
            "and CRL are kept there" % _escape(path)
        )


def _staging(settings, kind, url):
    """Where the fetched copy of ``url`` (``kind`` ``'crl'`` or ``'ca'``) is kept:
    (a private directory, the file to mirror it to) or (None, None) when neither
    ``crl_cache`` nor ``ca_cert_cache`` is set.

    fedmsg's ``crl_cache`` and ``ca_cert_cache`` name the files that hold the fetched
    copies. waxseal's fetcher keeps its copy (and decides when it is stale) in a cache
    directory of its own, so each URL gets a directory beside the file:
    ``<dir>/.<file name>.waxseal/<kind>-<hash of the URL>/``, holding that one copy,
    which is then copied to the named file. When only the other key is set, the copy is
    kept under its directory and no file is written for this one."""
    own, other = ("crl_cache", "ca_cert_cache")[:: 1 if kind == "crl" else -1]
    for key in (own, other):
        target = getattr(settings, key)
        if target:
            parent = os.path.dirname(target)
            os.makedirs(parent, exist_ok=True)
            root = os.path.join(parent, ".%s.waxseal" % os.path.basename(target))
            _private_dir(root)
            digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
            staging = os.path.join(root, "%s-%s" % (kind, digest))
            _private_dir(staging)
            return staging, (target if key == own else None)
    return None, None


#: The first bytes of a waxseal cache file (see waxseal_message::distribution).
_CACHE_MAGIC = b"waxseal-cache "


def _the_copy(staging):
    """The one file in ``staging``, or None (none yet, or another process is writing a
    new one this instant)."""
    files = [
        e.path for e in os.scandir(staging) if e.is_file(follow_symlinks=False)
    ]
    return files[0] if len(files) == 1 else None


def _mirror(staging, target):
    """Copies the fetched copy in ``staging`` to ``target`` (atomically, with its
    modification time: when it was fetched) unless ``target`` already holds it."""
    if staging is None or target is None:
        return
    try:
        source = _the_copy(staging)
        if source is None:
            return
        with open(source, "rb") as f:
            data = f.read()
        # waxseal's cache file starts with one line of its own (format, kind, scheme,
        # provenance); the file fedmsg names holds the fetched bytes only.
        if data.startswith(_CACHE_MAGIC):
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        fetched = os.stat(source).st_mtime_ns
        try:
            with open(target, "rb") as f:
                if f.read() == data and os.stat(target).st_mtime_ns == fetched:
                    return
        except OSError:
            pass
        tmp = "%s.tmp%d" % (target, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.utime(tmp, ns=(fetched, fetched))
        os.replace(tmp, target)
    except OSError as e:
        log.warning("cannot write the fetched copy to %s: %s", _escape(target), _escape(e))


class _Settings(NamedTuple):
    """What shapes the validating bus of a configuration: two configurations with the
    same settings share one bus (see :func:`_validating_bus`)."""

    #: ``ca_cert_location`` and ``crl_location``: a URL, an absolute path (a relative one
    #: is made absolute: it depends on the current directory) or None.
    ca: Optional[str]
    crl: Optional[str]
    #: ``routing_policy`` as ``((topic, (name, ...)), ...)``, in the dict's order.
    routing_policy: Tuple[Tuple[str, Tuple[str, ...]], ...]
    nitpicky: bool
    #: ``crl_cache`` and ``ca_cert_cache``, absolute, or None.
    crl_cache: Optional[str]
    ca_cert_cache: Optional[str]
    #: ``crl_cache_expiry`` and ``ca_cert_cache_expiry``, seconds.
    crl_expiry: int
    ca_expiry: int
    #: ``waxseal_fetch_timeout``, milliseconds, or None (the bus's default, 10 s).
    timeout_ms: Optional[int]


def _where(config, key, default):
    value = config.get(key, default)
    if not value:
        return None
    value = str(value)
    if value.startswith(("https://", "http://")) or os.path.isabs(value):
        return value
    return os.path.abspath(value)


def _settings(config):
    """The :class:`_Settings` of ``config`` (computed on every validation: a mutable
    ``routing_policy`` changed between calls is honoured)."""
    policy = config.get("routing_policy") or {}
    timeout = config.get("waxseal_fetch_timeout")
    crl_expiry = config.get("crl_cache_expiry")
    ca_expiry = config.get("ca_cert_cache_expiry")
    return _Settings(
        _where(config, "ca_cert_location", _DEFAULT_CA),
        _where(config, "crl_location", _DEFAULT_CRL),
        tuple((str(t), tuple([str(n) for n in names])) for t, names in policy.items()),
        bool(config.get("routing_nitpicky", False)),
        _where(config, "crl_cache", None),
        _where(config, "ca_cert_cache", None),
        _DEFAULT_CRL_EXPIRY if crl_expiry is None else max(0, int(crl_expiry)),
        _DEFAULT_CA_EXPIRY if ca_expiry is None else max(0, int(ca_expiry)),
        None if timeout is None else max(1, int(float(timeout) * 1000)),
    )


def _is_url(location):
    return location.startswith(("https://", "http://"))


class _Entry:
    """The validating bus of one :class:`_Settings`, kept between validations, and what
    keeps it current.

    - Local CA and CRL files: the bus checks them (size, modification time, inode: one
      stat each) before every validation and reads a changed one again, so a new CRL
      counts from the next validation on. A file that cannot be read when the bus is
      built refuses the message (and the next validation tries again); one removed or
      unreadable later keeps the copy last read, as :class:`waxseal.Bus` does (a file
      being rewritten is not a revocation; a CRL copy serves until its nextUpdate).
    - URLs: the copy is fetched again once it is ``crl_cache_expiry``
      (``ca_cert_cache_expiry``) seconds old, by the validation that finds it due, which
      waits for it (:meth:`refresh_if_due`; the others go on with the copy held), and
      the file named by ``crl_cache`` is then rewritten from the fetched copy. A CRL is
      also fetched again at its nextUpdate, beside validation (that copy reaches the file
      at the next expiry).
    """

    def __init__(self, settings):
        self.settings = settings
        # One refresh at a time; validations never wait for it unless they found it due.
        self.lock = threading.Lock()
        # How often the URLs are fetched again (None: no URL).
        every = [
            expiry
            for location, expiry in (
                (settings.ca, settings.ca_expiry),
                (settings.crl, settings.crl_expiry),
            )
            if location is not None and _is_url(location)
        ]
        self.every = min(every) if every else None
        for key, path in (("ca_cert_location", settings.ca), ("crl_location", settings.crl)):
            if path is not None and not _is_url(path) and not os.path.isfile(path):
                raise _Refused("%s %s: no such file" % (key, _escape(path)))
        self.bus, self.ca_path, self.crl_staging, self.crl_target = self._build()
        _mirror(self.crl_staging, self.crl_target)
        self.due = time.monotonic() + self.every if self.every is not None else None

    def _build(self):
        settings = self.settings
        if settings.ca is None:
            raise _Refused("ca_cert_location is not set: nothing to trust")
        ca, crl = settings.ca, settings.crl
        if _is_url(ca):
            ca = self._fetched_ca(ca)
        cache_dir = crl_target = None
        if crl and _is_url(crl):
            # Fetched (with a timeout), a copy kept in the file named by crl_cache /
            # ca_cert_cache (see _staging). A CA is never fetched over plain http
            # (refused: anyone on the path could replace it); a CRL is signed, so http is
            # fine.
            cache_dir, crl_target = _staging(settings, "crl", crl)
        config = {
            "trust": [ca],
            "crls": [crl] if crl else [],
            "fetch": _fetch_settings(settings, cache_dir),
            # The signer's name is the certificate's CN, taken whole, as in fedmsg.
            "entity_rules": [{"source": "cn"}],
            "routing_policy": {topic: list(names) for topic, names in settings.routing_policy},
            "nitpicky": settings.nitpicky,
        }
        return waxseal.Bus.from_json(json.dumps(config)), ca, cache_dir, crl_target

    def _fetched_ca(self, url):
        """The CA of ``url`` as a file: fetched (or read from its kept copy while that is
        fresh) by a bus of its own, whose cache directory holds that one copy; the URL
        itself when no cache key is set."""
        staging, target = _staging(self.settings, "ca", url)
        if staging is None:
            return url
        waxseal.Bus.from_json(
            json.dumps({"trust": [url], "fetch": _fetch_settings(self.settings, staging)})
        )
        copy_path = _the_copy(staging)
        if copy_path is None:
            raise _Refused(
                "ca_cert_location %s: no single fetched copy in %s"
                % (_escape(url), _escape(staging))
            )
        _mirror(staging, target)
        return copy_path

    def refresh_if_due(self):
        """Fetches the URLs again when their copies are ``*_cache_expiry`` old."""
        if self.due is None or time.monotonic() < self.due:
            return
        with self.lock:
            if time.monotonic() < self.due:
                return  # another thread did it meanwhile
            try:
                if _is_url(self.settings.ca) and self.ca_path != self.settings.ca:
                    # The CA comes from its kept copy: fetch it again there first.
                    if self._fetched_ca(self.settings.ca) != self.ca_path:
                        self.bus, self.ca_path, self.crl_staging, self.crl_target = (
                            self._build()
                        )
                self.bus.refresh_trust()
                _mirror(self.crl_staging, self.crl_target)
            finally:
                # A failed fetch keeps the copy held while it is current (the bus tries
                # again beside validation); the next fetch that waits is one expiry away.
                self.due = time.monotonic() + self.every


#: The most configurations :func:`validate` keeps a bus for (the least recently used is
#: dropped first). A process normally validates under one configuration.
BUS_CACHE_SIZE = 16

_buses: "OrderedDict[_Settings, _Entry]" = OrderedDict()
_buses_lock = threading.Lock()


def _validating_bus(config):
    """The bus for ``config``: one per distinct :class:`_Settings`, built at the first
    validation under it and kept (at most :data:`BUS_CACHE_SIZE`), so that a validation
    costs one verification; the CA and CRL stay current as :class:`_Entry` says."""
    settings = _settings(config)
    with _buses_lock:
        entry = _buses.get(settings)
        if entry is not None:
            _buses.move_to_end(settings)
    if entry is None:
        # Built outside the lock (it may fetch URLs); a failed build is not kept, so the
        # next validation tries again. Two threads may build at once: one bus is kept.
        built = _Entry(settings)
        with _buses_lock:
            entry = _buses.setdefault(settings, built)
            _buses.move_to_end(settings)
            while len(_buses) > BUS_CACHE_SIZE:
                _buses.popitem(last=False)
        return entry.bus
    entry.refresh_if_due()
    return entry.bus
