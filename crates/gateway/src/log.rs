//! Logs: one JSON object a line on standard error, e.g.
//!
//! ```text
//! {"ts":"2026-01-01T00:00:00Z","level":"info","event":"connected","queue":"waxseal.in"}
//! ```
//!
//! `ts` (RFC 3339, UTC), `level` (`info`, `warn`, `error`), `event` (a stable kebab-case
//! name), then the event's fields, all strings. Every field value is escaped with
//! [`waxseal_trust::display::Escaped`] before JSON encoding (routing keys, reasons and
//! subjects are attacker-controlled), so a value is printable ASCII whatever it held.
//! Quiet by default: the service's own events only (start, connect, reload, reconnect,
//! drain, stop); each refused message with `--verbose`.

use std::io::Write;

use serde_json::{Map, Value};
use waxseal_trust::display::Escaped;

/// Writes one event at `level`.
pub fn event(level: &str, event: &str, fields: &[(&str, &str)]) {
    let mut m = Map::new();
    m.insert(
        "ts".into(),
        Value::String(waxseal_trust::time::format(waxseal_trust::time::now())),
    );
    m.insert("level".into(), Value::String(level.into()));
    m.insert("event".into(), Value::String(event.into()));
    for (k, v) in fields {
        m.insert((*k).into(), Value::String(Escaped(v).to_string()));
    }
    let mut line = serde_json::to_string(&Value::Object(m)).expect("values serialise");
    line.push('\n');
    // One write per line, so that lines of several threads do not interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// An `info` event.
pub fn info(name: &str, fields: &[(&str, &str)]) {
    event("info", name, fields)
}

/// A `warn` event.
pub fn warn(name: &str, fields: &[(&str, &str)]) {
    event("warn", name, fields)
}

/// An `error` event.
pub fn error(name: &str, fields: &[(&str, &str)]) {
    event("error", name, fields)
}
