"""The oslo.messaging internals the waxseal driver relies on, asserted on the installed
version (see the docstring of waxseal.oslo.driver). If one of these fails, oslo.messaging
changed under the driver: read the new impl_rabbit before changing the test."""

import importlib.metadata
import inspect

import pytest

from oslo_messaging import transport as om_transport
from oslo_messaging._drivers import amqpdriver
from oslo_messaging._drivers import common as rpc_common
from oslo_messaging._drivers import impl_rabbit
from oslo_messaging._drivers import pool as om_pool

from waxseal.oslo import driver


def params(fn):
    return list(inspect.signature(fn).parameters)


def test_oslo_messaging_version_is_reported():
    version = importlib.metadata.version("oslo.messaging")
    print("oslo.messaging", version, "kombu", importlib.metadata.version("kombu"))
    assert version


def test_check_internals_passes_on_this_version():
    driver.check_internals()


def test_entry_point_names_the_driver():
    eps = importlib.metadata.entry_points()
    group = (
        eps.select(group="oslo.messaging.drivers")
        if hasattr(eps, "select")
        else eps.get("oslo.messaging.drivers", [])
    )
    found = [ep for ep in group if ep.name == "waxseal"]
    assert len(found) == 1, "the oslo.messaging.drivers entry point 'waxseal' is not installed"
    assert found[0].value == "waxseal.oslo.driver:WaxsealDriver"
    assert found[0].load() is driver.WaxsealDriver


def test_driver_selection_uses_the_scheme_before_plus():
    # transport._get_transport loads url.transport.split('+')[0]
    src = inspect.getsource(om_transport._get_transport)
    assert "url.transport.split('+')[0]" in src


def test_rabbit_driver_builds_a_connection_pool_of_impl_rabbit_connection():
    assert params(impl_rabbit.RabbitDriver.__init__) == [
        "self",
        "conf",
        "url",
        "default_exchange",
        "allowed_remote_exmods",
    ]
    src = inspect.getsource(impl_rabbit.RabbitDriver.__init__)
    assert "pool.ConnectionPool(" in src and "url, Connection)" in src
    assert "self._connection_pool = connection_pool" in inspect.getsource(
        amqpdriver.AMQPDriverBase.__init__
    )
    assert params(om_pool.ConnectionPool.__init__) == [
        "self",
        "conf",
        "max_size",
        "min_size",
        "ttl",
        "url",
        "connection_cls",
    ]
    create = inspect.getsource(om_pool.ConnectionPool.create)
    assert "self.connection_cls(self.conf, self.url, purpose, retry=retry)" in create


def test_connection_turns_the_url_transport_into_the_broker_url():
    assert params(impl_rabbit.Connection.__init__) == ["self", "conf", "url", "purpose", "retry"]
    src = inspect.getsource(impl_rabbit.Connection._transform_transport_url)
    assert "url.transport" in src and "replace('rabbit', 'amqp')" in src
    assert params(om_transport.TransportURL.__init__) == [
        "self",
        "conf",
        "transport",
        "virtual_host",
        "hosts",
        "query",
    ]


def test_every_send_goes_through_ensure_publishing():
    assert params(impl_rabbit.Connection._ensure_publishing) == [
        "self",
        "method",
        "exchange",
        "msg",
        "routing_key",
        "timeout",
        "retry",
        "transport_options",
    ]
    for name in ("direct_send", "topic_send", "fanout_send", "notify_send"):
        src = inspect.getsource(getattr(impl_rabbit.Connection, name))
        assert "self._ensure_publishing(" in src, name
        assert "_producer" not in src, name
    # _publish is the one method that hands a message to kombu
    whole = inspect.getsource(impl_rabbit.Connection)
    assert whole.count("self._producer.publish(") == 1
    assert "self._producer.publish(" in inspect.getsource(impl_rabbit.Connection._publish)
    assert params(impl_rabbit.Connection._publish) == [
        "self",
        "exchange",
        "msg",
        "routing_key",
        "timeout",
        "transport_options",
    ]
    for name in ("_publish_and_creates_default_queue", "_publish_and_raises_on_missing_exchange"):
        assert "self._publish(" in inspect.getsource(getattr(impl_rabbit.Connection, name)), name
    # the amqp driver hands the connection the serialized envelope (or, for 1.0
    # notifications, the bare message)
    send = inspect.getsource(amqpdriver.AMQPDriverBase._send)
    assert "msg = rpc_common.serialize_msg(msg)" in send
    assert "conn.direct_send(self.reply_q, rpc_common.serialize_msg(msg))" in inspect.getsource(
        amqpdriver.AMQPIncomingMessage._send_reply
    )


def test_every_consumer_is_declared_through_declare_consumer():
    assert params(impl_rabbit.Connection.declare_consumer) == ["self", "consumer"]
    for name in ("declare_direct_consumer", "declare_topic_consumer", "declare_fanout_consumer"):
        src = inspect.getsource(getattr(impl_rabbit.Connection, name))
        assert "self.declare_consumer(consumer)" in src, name
        assert "callback=callback" in src, name


def test_consumer_calls_callback_with_a_rabbit_message():
    src = inspect.getsource(impl_rabbit.Consumer._callback)
    assert "self.callback(RabbitMessage(message))" in src
    assert "message.reject()" in src  # what happens to a message oslo cannot unwrap
    assert "self.callback = callback" in inspect.getsource(impl_rabbit.Consumer.__init__)
    assert "self.queue.consume(callback=self._callback" in inspect.getsource(
        impl_rabbit.Consumer.consume
    )


def test_rabbit_message_is_a_dict_keeping_the_kombu_message():
    assert issubclass(impl_rabbit.RabbitMessage, dict)
    init = inspect.getsource(impl_rabbit.RabbitMessage.__init__)
    assert "rpc_common.deserialize_msg(raw_message.payload)" in init
    assert "self._raw_message = raw_message" in init
    assert "self._raw_message.ack()" in inspect.getsource(impl_rabbit.RabbitMessage.acknowledge)


def test_every_listener_acknowledges_through_rabbit_message_acknowledge():
    # the driver settles an admitted key in the RabbitMessage's acknowledge(): every
    # listener must acknowledge a delivered message through it, never the kombu message
    assert "message.acknowledge()" in inspect.getsource(amqpdriver.ReplyWaiter.__call__)
    notification_ack = inspect.getsource(amqpdriver.NotificationAMQPIncomingMessage.acknowledge)
    assert "self.message.acknowledge()" in notification_ack
    for cls in (amqpdriver.AMQPListener, amqpdriver.RpcAMQPListener, amqpdriver.ReplyWaiter):
        src = inspect.getsource(cls)
        assert "_raw_message" not in src and ".ack()" not in src, cls


def test_rpc_listener_acknowledges_before_dispatch():
    # a refused RPC message is acknowledged by the driver instead; an accepted one by oslo
    assert "message.acknowledge()" in inspect.getsource(amqpdriver.RpcAMQPListener.__call__)


def test_envelope_format():
    msg = rpc_common.serialize_msg({"method": "m", "args": {"a": 1}})
    assert set(msg) == {"oslo.version", "oslo.message"}
    assert msg["oslo.version"] == "2.0" and isinstance(msg["oslo.message"], str)
    # extra members (oslo.signature) do not disturb the unwrapping
    assert rpc_common.deserialize_msg(dict(msg, **{"oslo.signature": "x"})) == {
        "method": "m",
        "args": {"a": 1},
    }


@pytest.mark.parametrize(
    "exchange, routing_key, route",
    [
        ("openstack", "compute", ("compute", "openstack")),
        ("openstack", "compute.node01", ("compute.node01", "openstack")),
        ("nova", "notifications.info", ("notifications.info", "nova")),
        ("", "reply_0123abcd", ("reply_0123abcd", None)),
        ("compute_fanout", "", ("compute", "compute_fanout")),
        ("compute_fanout", None, ("compute", "compute_fanout")),
        # a routing key on a fanout exchange is what the broker reports: kept
        ("compute_fanout", "scheduler", ("scheduler", "compute_fanout")),
    ],
)
def test_route_of(exchange, routing_key, route):
    assert driver.route_of(exchange, routing_key) == route


@pytest.mark.parametrize("exchange", ["", "openstack", "_fanout"])
def test_route_of_without_a_topic_is_refused(exchange):
    with pytest.raises(ValueError):
        driver.route_of(exchange, "")
