"""A real oslo.messaging peer for waxseal's compatibility tests (tests/broker.rs).

    python oslo_peer.py cast  URL TOPIC METHOD ARGS_JSON
        cast METHOD(**ARGS) to TOPIC with oslo.messaging's RPC client
    python oslo_peer.py serve URL TOPIC OUTFILE COUNT SECONDS
        run an oslo.messaging RPC server on TOPIC; every dispatched call is appended to
        OUTFILE as a JSON line; stops after COUNT calls or SECONDS. Writes OUTFILE.ready
        once its queues are declared.

Uses cfg.CONF: a private ConfigOpts fails in oslo.messaging 18.x.
"""

import json
import os
import sys
import time
import warnings

# oslo.service warns at import that eventlet is deprecated; that is about its own
# internals, not about this peer, and it would bury the test output.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from oslo_config import cfg
import oslo_messaging


def transport(url):
    cfg.CONF([], project="waxseal-compat")
    return oslo_messaging.get_rpc_transport(cfg.CONF, url=url)


class Endpoint:
    def __init__(self, out):
        self.out = out

    def _record(self, method, kwargs):
        with open(self.out, "a") as f:
            f.write(json.dumps({"method": method, "args": kwargs}, sort_keys=True) + "\n")

    def select_destinations(self, ctxt, **kwargs):
        self._record("select_destinations", kwargs)
        return "scheduled"


def cast(url, topic, method, args):
    t = transport(url)
    client = oslo_messaging.get_rpc_client(t, oslo_messaging.Target(topic=topic))
    client.cast({}, method, **json.loads(args))
    t.cleanup()


def serve(url, topic, out, count, seconds):
    t = transport(url)
    target = oslo_messaging.Target(topic=topic, server="waxseal-compat")
    # Threading is the default (and, from 18.x on, the only) executor.
    server = oslo_messaging.get_rpc_server(t, target, [Endpoint(out)])
    server.start()
    with open(out + ".ready", "w") as f:
        f.write("ready\n")
    deadline = time.time() + float(seconds)
    while time.time() < deadline:
        if os.path.exists(out) and sum(1 for _ in open(out)) >= int(count):
            break
        time.sleep(0.1)
    server.stop()
    server.wait()
    t.cleanup()


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    {"cast": cast, "serve": serve}[mode](*rest)
