"""An unmodified oslo.messaging service, run as a separate process by the tests.

Nothing in it knows about waxseal: signing is turned on (or not) by its configuration
file alone (``transport_url = waxseal+rabbit://...`` and a ``[waxseal]`` section).

    python peer.py server   CONF TOPIC SERVER OUT DIR   RPC server (call, cast, fanout)
    python peer.py listen   CONF TOPIC OUT DIR           notification listener
    python peer.py call     CONF TOPIC TAG [SERVER]      prints the result as JSON
    python peer.py cast     CONF TOPIC TAG
    python peer.py fanout   CONF TOPIC TAG
    python peer.py notify   CONF TOPIC TAG

A server or listener appends every call its endpoint runs to OUT (one JSON line), writes
DIR/ready once listening and stops when DIR/stop appears (or after 120 s). Logs go to
standard error.
"""

import json
import logging
import os
import sys
import time
import warnings

# oslo.service warns at import that eventlet is deprecated (its own internals).
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from oslo_config import cfg  # noqa: E402
import oslo_messaging  # noqa: E402


def setup(conf_file):
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    cfg.CONF(["--config-file", conf_file], project="waxseal-oslo-test")


class Endpoint:
    """Records every call to OUT before answering it."""

    def __init__(self, out, server):
        self.out = out
        self.server = server

    def _record(self, kind, ctxt, payload):
        with open(self.out, "a") as f:
            f.write(json.dumps({"kind": kind, "server": self.server, "payload": payload}) + "\n")

    def record(self, ctxt, tag):
        self._record("rpc", ctxt, {"tag": tag})
        return {"echo": tag, "server": self.server}

    def slow(self, ctxt, tag, seconds):
        time.sleep(seconds)
        self._record("rpc", ctxt, {"tag": tag})
        return {"echo": tag, "server": self.server}


class NotificationEndpoint(Endpoint):
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record(
            "notification",
            ctxt,
            {"publisher_id": publisher_id, "event_type": event_type, **payload},
        )


def run_until_stopped(server, out, rundir):
    server.start()
    with open(os.path.join(rundir, "ready"), "w") as f:
        f.write("ready\n")
    deadline = time.time() + 120
    while time.time() < deadline and not os.path.exists(os.path.join(rundir, "stop")):
        time.sleep(0.1)
    server.stop()
    server.wait()


def serve(conf_file, topic, server_name, out, rundir):
    setup(conf_file)
    transport = oslo_messaging.get_rpc_transport(cfg.CONF)
    target = oslo_messaging.Target(topic=topic, server=server_name)
    server = oslo_messaging.get_rpc_server(transport, target, [Endpoint(out, server_name)])
    run_until_stopped(server, out, rundir)
    transport.cleanup()


def listen(conf_file, topic, out, rundir):
    setup(conf_file)
    transport = oslo_messaging.get_notification_transport(cfg.CONF)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic)], [NotificationEndpoint(out, "listener")]
    )
    run_until_stopped(listener, out, rundir)
    transport.cleanup()


def client(conf_file, topic, action, tag, server_name=None):
    setup(conf_file)
    transport = oslo_messaging.get_rpc_transport(cfg.CONF)
    target = oslo_messaging.Target(topic=topic, server=server_name or None)
    rpc = oslo_messaging.get_rpc_client(transport, target, timeout=10)
    try:
        if action == "call":
            print(json.dumps(rpc.call({}, "record", tag=tag)))
        elif action == "slowcall":
            print(json.dumps(rpc.call({}, "slow", tag=tag, seconds=3)))
        elif action == "cast":
            rpc.cast({}, "record", tag=tag)
        elif action == "fanout":
            rpc.prepare(fanout=True).cast({}, "record", tag=tag)
        else:
            raise SystemExit("unknown action %s" % action)
    finally:
        transport.cleanup()


def notify(conf_file, topic, tag):
    setup(conf_file)
    transport = oslo_messaging.get_notification_transport(cfg.CONF)
    notifier = oslo_messaging.Notifier(
        transport, publisher_id="waxtest.host1", driver="messagingv2", topics=[topic]
    )
    notifier.info({}, "waxtest.event", {"tag": tag})
    transport.cleanup()


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "server":
        serve(*args)
    elif mode == "listen":
        listen(*args)
    elif mode == "notify":
        notify(*args)
    else:
        client(args[0], args[1], mode, *args[2:])
