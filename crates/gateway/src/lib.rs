//! # waxseal-gateway
//!
//! A verifying gateway on RabbitMQ: it consumes a queue fed by an exchange where anyone
//! may publish, validates every message exactly as `waxseal msg validate` does, and
//! republishes it to the **verified** exchange (same routing key and body, with
//! `x-waxseal-entity` and `x-waxseal-id`; an oslo envelope may first get the gateway's own
//! routing-slip hop) or the **rejected** one (reason code in `x-waxseal-reason`). The
//! incoming message is acknowledged only after the broker confirmed the outgoing one, so
//! after a crash a message may come out twice, never zero times.
//!
//! 1. Configure: [`config`] (options, command line or file), [`broker`] (URLs),
//!    [`reload`] (the bus configuration, rebuilt on SIGHUP or when its files change).
//! 2. Consume: [`amqp`] (exchanges, queue, message properties) and [`service`] (the
//!    consume, validate, publish, confirm, acknowledge loop; reconnects; SIGTERM).
//! 3. Decide: [`check`], one message in, one [`check::Outcome`] out (no I/O); [`admitter`]
//!    batches admissions to a remote replay store.
//! 4. Publish: [`publish`] (a message the broker refuses is that message's outcome,
//!    `republish-refused`), then [`acks`] (batched with `multiple`); [`backoff`] delays
//!    the requeue of a message the gateway could not decide.
//! 5. Observe: [`metrics`] and [`http`] (`/metrics`, `/healthz`), [`log`] (one JSON object
//!    a line on standard error).
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
