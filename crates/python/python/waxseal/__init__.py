"""waxseal: signed message envelopes (CMS SignedData) for message buses.

See ``__init__.pyi`` for the API. Bytes in, bytes out; refusals raise
:class:`Rejected` with the CLI's reason code, unusable configuration :class:`ConfigError`.
"""

from ._waxseal import (
    Bus,
    ConfigError,
    Rejected,
    Signer,
    Verified,
    VerifiedSlip,
    Verifier,
    WaxsealError,
    __version__,
    countersign,
    strip_credentials,
)

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
