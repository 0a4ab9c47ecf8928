//! Strict JSON in, canonical JSON out.
//!
//! **In**: a message is parsed with duplicate object keys rejected (`{"topic": "a",
//! "topic": "b"}` means different things to different parsers: a classic
//! signature-wrapping hole), integers limited to the I-JSON range of ±(2^53 − 1) (larger
//! ones would collapse onto their neighbours in the canonical form), and invalid UTF-8
//! refused. `serde_json` has no duplicate-key mode, so the value is built by a small
//! visitor here.
//!
//! **Out**: the signed bytes are the RFC 8785 JSON Canonicalization Scheme form, made by
//! the `serde_jcs` crate (keys sorted by UTF-16 code units, ECMAScript number formatting,
//! minimal escaping, no white space).
//!
//! **How this differs from fedmsg**: fedmsg signs Python's
//! `json.dumps(msg, sort_keys=True, separators=(',', ':'))`: keys sorted by code point,
//! non-ASCII escaped as `\uXXXX`, floats as Python's `repr`. JCS sorts by UTF-16 code units
//! (different only for keys beyond U+FFFF mixed with U+E000-U+FFFF), writes non-ASCII as
//! UTF-8, and formats numbers as ECMAScript does (`1e+21`, not `1e21`; `1.0` as `1`). So a
//! waxseal signature is not a fedmsg signature and vice versa, by design: JCS is the
//! standard a non-Python consumer can reproduce.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The largest integer magnitude accepted (I-JSON, RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A message that is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(E::custom(format!(
                "integer {v} is outside the I-JSON range of ±(2^53 - 1)"
            )));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER {
            return Err(E::custom(format!(
                "integer {v} is outside the I-JSON range of ±(2^53 - 1)"
            )));
        }
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(Strict)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON strictly (see the module docs).
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut d = serde_json::Deserializer::from_slice(bytes);
    let v = Strict
        .deserialize(&mut d)
        .map_err(|e| JsonError(e.to_string()))?;
    d.end().map_err(|e| JsonError(e.to_string()))?;
    Ok(v)
}

/// Checks a value built in memory against the same rules (integers in range).
pub fn check(value: &Value) -> Result<(), JsonError> {
    match value {
        Value::Number(n) => {
            let ok = n.as_u64().is_none_or(|u| u <= MAX_SAFE_INTEGER)
                && n.as_i64()
                    .is_none_or(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if ok {
                Ok(())
            } else {
                Err(JsonError(format!(
                    "integer {n} is outside the I-JSON range of ±(2^53 - 1)"
                )))
            }
        }
        Value::Array(a) => a.iter().try_for_each(check),
        Value::Object(o) => o.values().try_for_each(check),
        _ => Ok(()),
    }
}

/// The RFC 8785 canonical bytes of `value`.
pub fn canonical(value: &Value) -> Result<Vec<u8>, JsonError> {
    check(value)?;
    serde_jcs::to_vec(value).map_err(|e| JsonError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(
            parse(br#"{"topic": "a", "topic": "b"}"#)
                .unwrap_err()
                .0
                .contains("duplicate key")
        );
        assert!(parse(br#"{"msg": {"x": 1, "x": 2}}"#).is_err());
        assert!(parse(br#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }

    #[test]
    fn numbers_beyond_i_json_are_refused() {
        assert!(parse(b"9007199254740991").is_ok());
        assert!(parse(b"9007199254740993").is_err());
        assert!(parse(b"-9007199254740993").is_err());
        assert!(parse(b"1.5e300").is_ok());
    }

    #[test]
    fn invalid_utf8_and_trailing_data_are_refused() {
        assert!(parse(b"{\"a\": \"\xff\"}").is_err());
        assert!(parse(b"{} {}").is_err());
    }

    #[test]
    fn canonical_form_is_rfc_8785() {
        // RFC 8785 §3.2.3: keys sorted by UTF-16 code units; numbers as ECMAScript.
        let v = parse("{\"b\": 1.0, \"a\": [1e21, 0.000001, \"\u{20ac}\"], \"\u{1f600}\": 1, \"\u{e000}\": 2}".as_bytes()).unwrap();
        let c = String::from_utf8(canonical(&v).unwrap()).unwrap();
        assert_eq!(
            c,
            "{\"a\":[1e+21,0.000001,\"\u{20ac}\"],\"b\":1,\"\u{1f600}\":1,\"\u{e000}\":2}"
        );
    }
}
