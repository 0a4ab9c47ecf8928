//! # waxseal-gateway
//!
//! A verifying gateway on RabbitMQ: it consumes a queue fed by an exchange where anyone may
//! publish, validates every message exactly as `waxseal msg validate --config bus.json
//! --topic ROUTING_KEY` does (signature, certificate path, CRLs, routing policy, claims,
//! freshness, replay), and republishes it to one of two exchanges it alone publishes to:
//!
//! - the **verified** exchange, same routing key and body, with `x-waxseal-entity` (the
//!   signer's entity) and `x-waxseal-id` (see [`check`]); with countersigning, an oslo
//!   envelope first gets the gateway's own routing-slip hop;
//! - the **rejected** exchange, with the reason code in `x-waxseal-reason`.
//!
//! Nothing is lost: the incoming message is acknowledged only after the broker confirmed
//! the outgoing one (publisher confirms), so after a crash a message may come out twice,
//! never zero times; consumers deduplicate by `x-waxseal-id`.
//!
//! Modules, one job each:
//!
//! - [`config`]: the options, from the command line or a configuration file;
//! - [`check`]: one message in, one [`check::Outcome`] out (no I/O);
//! - [`reload`]: the bus configuration, rebuilt on SIGHUP or when its files change;
//! - [`broker`]: broker URLs, checked with the options;
//! - [`amqp`]: exchanges, queue and message properties on the broker;
//! - [`admitter`]: admissions to a remote replay store, batched on a thread of their own;
//! - [`acks`]: acknowledgements, batched with `multiple` over runs of finished deliveries;
//! - [`publish`]: publishing so that a message the broker refuses is that message's
//!   outcome (`republish-refused`), not the session's;
//! - [`backoff`]: the delay before a message the gateway could not decide is requeued;
//! - [`service`]: the consume, validate, publish, confirm, acknowledge loop, reconnects,
//!   draining on SIGTERM;
//! - [`metrics`] and [`http`]: Prometheus text at `/metrics`, `/healthz`;
//! - [`log`]: one JSON object a line on standard error.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acks;
pub mod admitter;
pub mod amqp;
pub mod backoff;
pub mod broker;
pub mod check;
pub mod config;
pub mod http;
pub mod log;
pub mod metrics;
pub mod publish;
pub mod reload;
pub mod service;

pub use config::{GatewayConfig, GatewayOptions, QueueType};
pub use service::{GatewayError, run, run_blocking};
