"""The real fedmsg 1.x, run as a peer process by the tests.

Reads one JSON request on stdin: ``{"op": "sign" | "validate" | "validate_signed_by",
"config": {...}, "message": {...}, "signer": "..."}`` and writes ``{"result": ...,
"log": "..."}`` on stdout. A fresh process per request, so fedmsg's in-memory CA and CRL
cache never carries over from one request to the next.
"""

import importlib.metadata
import io
import json
import logging
import sys

import fedmsg.crypto


def main():
    request = json.load(sys.stdin)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    config = request["config"]
    message = request["message"]
    op = request["op"]
    if op == "sign":
        result = fedmsg.crypto.sign(message, **config)
    elif op == "validate":
        result = fedmsg.crypto.validate(message, **config)
    elif op == "validate_signed_by":
        result = fedmsg.crypto.validate_signed_by(message, request["signer"], **config)
    else:
        raise SystemExit("unknown op %r" % op)
    json.dump(
        {"result": result, "log": stream.getvalue(), "version": importlib.metadata.version("fedmsg")},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
