"""waxseal for oslo.messaging: a transport driver that signs and verifies every message.

An unmodified service turns it on in its configuration file::

    [DEFAULT]
    transport_url = waxseal+rabbit://user:pass@rabbit.example.org:5672/

    [waxseal]
    cert = /etc/nova/waxseal/nova-compute01.example.org.crt
    key = /etc/nova/waxseal/nova-compute01.example.org.key
    chain = /etc/nova/waxseal/signing-ca.crt
    ca = /etc/waxseal/root-ca.crt
    crl = /etc/waxseal/crl.pem
    policy = /etc/waxseal/bus.json
    mode = enforce

oslo.messaging loads the driver from the ``oslo.messaging.drivers`` entry point named
``waxseal`` (the part of the URL scheme before ``+``); the driver is oslo.messaging's own
RabbitMQ driver with signing on the way out and verification on the way in. See
:mod:`waxseal.oslo.driver` for what it does and which oslo.messaging internals it relies
on. Importing this package does not import oslo.messaging.
"""

__all__ = ["MODES"]

#: The values of ``[waxseal] mode``, for a staged rollout: sign everywhere first
#: (``sign-only``), then log what would be refused (``log``), then refuse it (``enforce``).
MODES = ("enforce", "log", "sign-only")
