"""The real fedmsg 1.x, run as a peer process by the tests.

Reads JSON requests, one per line on stdin: ``{"op": "sign" | "validate" |
"validate_signed_by", "config": {...}, "message": {...}, "signer": "..."}`` and writes
one reply per line on stdout: ``{"result": ..., "log": "...", "version": "1.1.7"}``.
The tests start a fresh process per request unless they want fedmsg's in-memory CA and
CRL cache to carry over (a long-running consumer).
"""

import importlib.metadata
import io
import json
import logging
import sys

import fedmsg.crypto


def handle(request, stream):
    config = request["config"]
    message = request["message"]
    op = request["op"]
    if op == "sign":
        return fedmsg.crypto.sign(message, **config)
    if op == "validate":
        return fedmsg.crypto.validate(message, **config)
    if op == "validate_signed_by":
        return fedmsg.crypto.validate_signed_by(message, request["signer"], **config)
    raise SystemExit("unknown op %r" % op)


def main():
    stream = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(stream))
    logging.getLogger().setLevel(logging.DEBUG)
    version = importlib.metadata.version("fedmsg")
    for line in sys.stdin:
        stream.seek(0)
        stream.truncate()
        result = handle(json.loads(line), stream)
        reply = {"result": result, "log": stream.getvalue(), "version": version}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
