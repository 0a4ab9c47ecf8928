//! Strict JSON in, canonical JSON out.
//!
//! **In**: a message is parsed with duplicate object keys rejected (`{"topic": "a",
//! "topic": "b"}` means different things to different parsers: a classic
//! signature-wrapping hole), invalid UTF-8 refused (`malformed-json`), and every number
//! checked against its text: a number that does not survive a round trip through an
//! IEEE-754 double (RFC 7493 §2.2, which RFC 8785 builds on) is refused as
//! `inexact-number`. `9007199254740993` would become `9007199254740992` and
//! `0.10000000000000000001` would become `0.1`, so two different texts would sign the same
//! canonical bytes; `-0` is refused too (the canonical form writes it `0`). A number is
//! exact when the decimal value of its text equals the value of the double it parses to
//! (`1.0`, `1e2` and `100` are exact; their canonical form is `1`, `100`). `serde_json` has
//! no duplicate-key mode and drops the number text, so the value is built by a small
//! visitor here and the number texts are checked by a scan of the input ([`parse`]).
//!
//! **Strings are Unicode** (I-JSON, RFC 7493 §2.1): an escaped lone surrogate (`"\ud800"`
//! with no low surrogate after it, or a low surrogate `"\udc00"` alone) is refused as
//! `malformed-json`. It names no character: one decoder replaces it with U+FFFD, Python's
//! `json` keeps it as a surrogate code point, so the string a consumer reads would not be
//! the string that was signed. An unescaped surrogate cannot occur: its UTF-8 form
//! (`ED A0 80`...) is not valid UTF-8 and is refused as such, and a `&str`, a `String` or
//! a [`Value`] built in Rust hold Unicode scalar values only, so what [`canonical`] signs
//! has none either. serde_json refuses lone surrogate escapes when it decodes a string;
//! [`parse`] checks for them again ([`check_surrogates`]) so that the rule and its message
//! do not depend on how a dependency treats them.
//!
//! **Nothing is rewritten**: [`splice`] adds and removes top-level members of an object
//! while copying every other member's text byte for byte, which is how `msg sign` writes
//! its output.
//!
//! **Out**: the signed bytes are the RFC 8785 JSON Canonicalization Scheme form (keys
//! sorted by UTF-16 code units, ECMAScript number formatting, minimal escaping, no white
//! space), written by [`canonical`]: byte for byte what the `serde_jcs` crate writes (a
//! test compares the two on thousands of values), without its per-key re-parsing.
//!
//! **How this differs from fedmsg**: fedmsg signs Python's
//! `json.dumps(msg, sort_keys=True, separators=(',', ':'))`: keys sorted by code point,
//! non-ASCII escaped as `\uXXXX`, floats as Python's `repr`. JCS sorts by UTF-16 code units
//! (different only for keys beyond U+FFFF mixed with U+E000-U+FFFF), writes non-ASCII as
//! UTF-8, and formats numbers as ECMAScript does (`1e+21`, not `1e21`; `1.0` as `1`). So a
//! waxseal signature is not a fedmsg signature and vice versa, by design: JCS is the
//! standard a non-Python consumer can reproduce.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The largest integer magnitude below which every integer is exact (I-JSON, RFC 7493
/// §2.2); larger integers are accepted only when the double they parse to is the same
/// number.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The reason code of JSON that cannot be parsed or breaks the strict rules.
pub const MALFORMED_JSON: &str = "malformed-json";
/// The reason code of a number that does not survive a round trip through a double.
pub const INEXACT_NUMBER: &str = "inexact-number";

/// A message that is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JsonError {
    /// [`MALFORMED_JSON`] or [`INEXACT_NUMBER`].
    pub code: &'static str,
    /// What is wrong, in a line.
    pub message: String,
}

impl JsonError {
    fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: MALFORMED_JSON,
            message: message.into(),
        }
    }

    fn inexact(text: &str) -> Self {
        Self {
            code: INEXACT_NUMBER,
            message: format!(
                "the number {text} does not survive a round trip through an IEEE-754 double \
                 (RFC 7493): send it as a string"
            ),
        }
    }
}

/// Whether the number `text` (JSON syntax) is exactly the double it parses to.
pub fn is_exact_number(text: &str) -> bool {
    // The usual case first: an integer of at most 15 digits is below 2^53, so exact,
    // except negative zero.
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return !(text.len() != digits.len() && digits.bytes().all(|b| b == b'0'));
    }
    let Ok(x) = text.parse::<f64>() else {
        return false;
    };
    if !x.is_finite() || (x == 0.0 && text.starts_with('-')) {
        return false;
    }
    decimal(text) == decimal(&format!("{x:e}"))
}

/// A number's decimal value: (negative, significant digits, exponent of the last digit).
fn decimal(text: &str) -> Option<(bool, String, i128)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i128>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut exponent = exponent - frac.len() as i128;
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    exponent += (digits.len() - trimmed.len()) as i128;
    if trimmed.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, trimmed.to_string(), exponent))
}

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

    // Number texts are checked by `scan_numbers`; the values are kept as parsed.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
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
            // One lookup: the vacant entry takes the value.
            match out.entry(key) {
                serde_json::map::Entry::Occupied(e) => {
                    return Err(de::Error::custom(format!("duplicate key {:?}", e.key())));
                }
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(map.next_value_seed(Strict)?);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON strictly (see the module docs): duplicate keys and invalid UTF-8 are
/// `malformed-json`, a number that is not exactly a double is `inexact-number`.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    strictly(bytes, |d| Strict.deserialize(d))
}

/// `read` over all of `bytes` (nothing may follow the value), then the checks of every
/// strict parse: no lone surrogate, every number exact.
fn strictly<'de, T>(
    bytes: &'de [u8],
    read: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, JsonError> {
    let mut d = serde_json::Deserializer::from_slice(bytes);
    let parsed = read(&mut d).and_then(|v| d.end().map(|()| v));
    let v = match parsed {
        Ok(v) => v,
        // A lone surrogate is named as such; anything else keeps serde_json's message.
        Err(e) => {
            check_surrogates(bytes)?;
            return Err(JsonError::malformed(e.to_string()));
        }
    };
    check_surrogates(bytes)?;
    scan_numbers(bytes)?;
    Ok(v)
}

/// A top-level JSON object read by [`parse_object`]: its members, but for the string
/// members it was asked to keep apart, which are text borrowed from the input.
#[derive(Debug)]
pub struct WireObject<'a> {
    /// Every member but those in `kept`.
    pub members: Map<String, Value>,
    /// The string members named in `parse_object`'s `keep`, in input order (a member of
    /// those names whose value is not a string is among `members`).
    pub kept: Vec<(&'static str, Cow<'a, str>)>,
}

impl WireObject<'_> {
    /// The whole object as a [`Value`] (the kept members copied back in).
    pub fn into_value(self) -> Value {
        let mut members = self.members;
        for (k, v) in self.kept {
            members.insert(k.to_string(), Value::String(v.into_owned()));
        }
        Value::Object(members)
    }
}

/// A top-level JSON object as the bus's checks read it: a parsed [`Value`], and string
/// members that [`parse_object`] held apart as text from the wire (none when the value
/// was parsed whole). A member is looked up among the kept ones first.
#[derive(Clone, Copy)]
pub struct Object<'a> {
    value: &'a Value,
    kept: &'a [(&'static str, Cow<'a, str>)],
}

impl<'a> Object<'a> {
    /// A value parsed whole.
    pub fn new(value: &'a Value) -> Self {
        Self { value, kept: &[] }
    }

    /// The value of a [`WireObject`] (its `members`, as a [`Value::Object`]) and its
    /// kept members.
    pub fn with_kept(value: &'a Value, kept: &'a [(&'static str, Cow<'a, str>)]) -> Self {
        Self { value, kept }
    }

    /// The parsed value (without the kept members).
    pub fn value(&self) -> &'a Value {
        self.value
    }

    /// The member `name`: `Ok` with its text when it is a string, `Err` with its value
    /// when it is not, `None` when there is no such member.
    pub fn member(&self, name: &str) -> Option<Result<&'a str, &'a Value>> {
        if let Some((_, text)) = self.kept.iter().find(|(k, _)| *k == name) {
            return Some(Ok(text));
        }
        match self.value.get(name)? {
            Value::String(s) => Some(Ok(s)),
            other => Some(Err(other)),
        }
    }

    /// Whether the object has a member `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.member(name).is_some()
    }
}

/// [`parse`] for input that is a JSON object, with the string members named in `keep`
/// held apart as text borrowed from `bytes` (where they hold no escape) rather than
/// copied into the value. A message's signature and certificates are most of its bytes
/// and are only decoded, never looked at as JSON: building and freeing them as strings
/// of a [`Value`] was a third of what reading a message cost. The rules are exactly
/// [`parse`]'s (the same parser, visitor and checks, the same errors); `Ok(None)` when
/// the input is not an object (`parse` then says what it is).
pub fn parse_object<'a>(
    bytes: &'a [u8],
    keep: &[&'static str],
) -> Result<Option<WireObject<'a>>, JsonError> {
    if bytes.get(skip_ws(bytes, 0)) != Some(&b'{') {
        return Ok(None);
    }
    strictly(bytes, |d| d.deserialize_map(TopLevel { keep })).map(Some)
}

/// The top-level object of [`parse_object`].
struct TopLevel<'k> {
    keep: &'k [&'static str],
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = WireObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        let mut kept: Vec<(&'static str, Cow<'de, str>)> = Vec::new();
        while let Some(key) = map.next_key_seed(Text)? {
            if kept.iter().any(|(k, _)| *k == key) || members.contains_key(&*key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            match self.keep.iter().find(|k| **k == key) {
                Some(name) => match map.next_value_seed(Kept)? {
                    Ok(text) => kept.push((name, text)),
                    Err(other) => {
                        members.insert(key.into_owned(), other);
                    }
                },
                None => {
                    members.insert(key.into_owned(), map.next_value_seed(Strict)?);
                }
            }
        }
        Ok(WireObject { members, kept })
    }
}

/// A string, borrowed from the input where it holds no escape.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A member kept apart: its text when it is a string, else its value as [`Strict`]
/// reads it.
struct Kept;

type KeptValue<'de> = Result<Cow<'de, str>, Value>;

impl<'de> DeserializeSeed<'de> for Kept {
    type Value = KeptValue<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Kept {
    type Value = KeptValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Ok(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Ok(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Ok(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Strict.visit_bool(v).map(Err)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Strict.visit_i64(v).map(Err)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Strict.visit_u64(v).map(Err)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Strict.visit_f64(v).map(Err)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Strict.visit_unit().map(Err)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Strict.visit_seq(seq).map(Err)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Strict.visit_map(map).map(Err)
    }
}

/// Refuses (`malformed-json`) a `\u` escape of a lone surrogate in any string of `bytes`:
/// a high surrogate (`\ud800`-`\udbff`) not followed by an escaped low surrogate
/// (`\udc00`-`\udfff`), or a low surrogate without a high one before it (I-JSON, RFC 7493
/// §2.1). A pair (`\ud83d\ude00`) is one character and is accepted. `bytes` need not be
/// valid JSON (nothing is read beyond its end); only the strings are looked at.
pub fn check_surrogates(bytes: &[u8]) -> Result<(), JsonError> {
    let escape = |i: usize| -> Option<u16> {
        let digits = bytes.get(i..i + 6)?;
        if digits[0] != b'\\' || digits[1] != b'u' {
            return None;
        }
        let hex = std::str::from_utf8(&digits[2..]).ok()?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut in_string = false;
    let mut i = 0;
    // Only quotes and backslashes change what is read: jump from one to the next (a
    // message is mostly long strings, base64 and the like, with neither).
    while let Some(skip) = memchr::memchr2(b'"', b'\\', &bytes[i..]) {
        i += skip;
        match (in_string, bytes[i]) {
            (_, b'"') => in_string = !in_string,
            (true, b'\\') => {
                let Some(unit) = escape(i) else {
                    // Another escape (`\"`, `\\`, ...): skip the escaped byte.
                    i += 2;
                    if i >= bytes.len() {
                        break;
                    }
                    continue;
                };
                match unit {
                    0xD800..=0xDBFF => match escape(i + 6) {
                        Some(0xDC00..=0xDFFF) => i += 6,
                        _ => return Err(lone_surrogate(unit)),
                    },
                    0xDC00..=0xDFFF => return Err(lone_surrogate(unit)),
                    _ => {}
                }
                i += 6;
                if i >= bytes.len() {
                    break;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
        if i >= bytes.len() {
            break;
        }
    }
    Ok(())
}

fn lone_surrogate(unit: u16) -> JsonError {
    JsonError::malformed(format!(
        "a string holds the lone surrogate \\u{unit:04x}, which is not a character \
         (I-JSON, RFC 7493 §2.1: decoders disagree on what it means)"
    ))
}

/// Checks the text of every number of `bytes`, which must be valid JSON.
fn scan_numbers(bytes: &[u8]) -> Result<(), JsonError> {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'-' | b'0'..=b'9' => {
                let end = number_end(bytes, i);
                // Valid JSON: the number's bytes are ASCII.
                let text = std::str::from_utf8(&bytes[i..end]).unwrap_or_default();
                if !is_exact_number(text) {
                    return Err(JsonError::inexact(text));
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn number_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
        i += 1;
    }
    i
}

/// `b[i]` is the opening quote of a valid string: the index after its closing quote.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    // Jump to the next quote or backslash: the bytes between need no look.
    while let Some(skip) = b
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        i += skip;
        if b[i] == b'"' {
            return i + 1;
        }
        i += 2;
    }
    b.len() + 1
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `b[i]` starts a valid JSON value: the index after it. Nesting is bounded by the parse
/// that validated `b` (serde_json's recursion limit).
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(open @ (b'{' | b'[')) => {
            let close = if *open == b'{' { b'}' } else { b']' };
            let mut i = skip_ws(b, i + 1);
            if b.get(i) == Some(&close) {
                return i + 1;
            }
            loop {
                if close == b'}' {
                    i = skip_ws(b, skip_string(b, i)) + 1; // key and ':'
                    i = skip_ws(b, i);
                }
                i = skip_ws(b, skip_value(b, i));
                match b.get(i) {
                    Some(b',') => i = skip_ws(b, i + 1),
                    _ => return i + 1,
                }
            }
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            j
        }
    }
}

/// Rewrites the top-level object `text` (valid JSON, already parsed with [`parse`]):
/// drops the members named in `remove`, keeps every other member's text byte for byte
/// (white space between members aside), and appends `add` (serialized by `serde_json`).
pub fn splice(text: &str, remove: &[&str], add: &[(&str, &Value)]) -> Result<String, JsonError> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err(JsonError::malformed("a message must be a JSON object"));
    }
    let mut members: Vec<&str> = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) != Some(&b'}') {
        loop {
            let key_end = skip_string(b, i);
            let key: String = serde_json::from_str(&text[i..key_end])
                .map_err(|e| JsonError::malformed(e.to_string()))?;
            let value_start = skip_ws(b, skip_ws(b, key_end) + 1);
            let value_end = skip_value(b, value_start);
            if !remove.contains(&key.as_str()) {
                members.push(&text[i..value_end]);
            }
            i = skip_ws(b, value_end);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => break,
                _ => return Err(JsonError::malformed("unterminated object")),
            }
        }
    }
    let mut out = String::from("{");
    let added: Vec<String> = add
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                Value::String((*k).to_string()),
                serde_json::to_string(v).expect("values serialise")
            )
        })
        .collect();
    out.push_str(
        &members
            .iter()
            .copied()
            .chain(added.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('}');
    Ok(out)
}

/// Checks a value built in memory: every number must be exactly a double (an integer
/// beyond 2^53 that a double cannot hold is refused as `inexact-number`). Its strings need
/// no check: a Rust string cannot hold a surrogate, so a [`Value`] has no lone one.
pub fn check(value: &Value) -> Result<(), JsonError> {
    match value {
        Value::Number(n) => {
            let exact = if let Some(u) = n.as_u64() {
                (u as f64) as u128 == u as u128
            } else if let Some(i) = n.as_i64() {
                (i as f64) as i128 == i as i128
            } else {
                n.as_f64().is_some_and(f64::is_finite)
            };
            if exact {
                Ok(())
            } else {
                Err(JsonError::inexact(&n.to_string()))
            }
        }
        Value::Array(a) => a.iter().try_for_each(check),
        Value::Object(o) => o.values().try_for_each(check),
        _ => Ok(()),
    }
}

/// The RFC 8785 canonical bytes of `value`.
pub fn canonical(value: &Value) -> Result<Vec<u8>, JsonError> {
    canonical_without(value, &[])
}

/// The RFC 8785 canonical bytes of `value` without the top-level members named in `skip`
/// (when `value` is an object): what [`canonical`] makes of a copy of `value` without
/// them, without making the copy. A signed message's content is the message without its
/// `signature` and `certificate` ([`crate::bus::strip_credentials`]).
///
/// Written here rather than with `serde_jcs`, which makes the same bytes (a test checks
/// the two against each other) but serializes and parses every object key again to sort
/// it: the canonical form is made for every message a bus validates. The rules (RFC 8785
/// §3.2): no white space; object members sorted by the UTF-16 code units of their names;
/// strings with `"`, `\\` and the controls U+0000-U+001F escaped (`\b`, `\t`, `\n`,
/// `\f`, `\r`, else `\u00xx`) and every other character as UTF-8; numbers as
/// ECMAScript writes the double (`ryu-js`, what `serde_jcs` uses).
pub fn canonical_without(value: &Value, skip: &[&str]) -> Result<Vec<u8>, JsonError> {
    match value {
        Value::Object(o) => {
            for (_, v) in o.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                check(v)?;
            }
        }
        other => check(other)?,
    }
    Ok(canonical_without_checked(value, skip))
}

/// [`canonical_without`] of a value [`check`] already accepted (a bus checks the whole
/// message first, so its numbers are not checked twice).
pub(crate) fn canonical_without_checked(value: &Value, skip: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    match value {
        Value::Object(o) => write_object(
            &mut out,
            o.iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .collect(),
        ),
        other => write_canonical(&mut out, other),
    }
    out
}

fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // As serde_json hands a number to a serializer, and serde_jcs writes it: the
            // double, in ECMAScript's form (`check` refused those a double cannot hold).
            #[allow(clippy::cast_precision_loss)]
            let x = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u as f64,
                (None, Some(i)) => i as f64,
                (None, None) => n.as_f64().unwrap_or(f64::NAN),
            };
            let mut buffer = ryu_js::Buffer::new();
            out.extend_from_slice(buffer.format_finite(x).as_bytes());
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        Value::Object(o) => write_object(out, o.iter().collect()),
    }
}

fn write_object(out: &mut Vec<u8>, mut members: Vec<(&String, &Value)>) {
    members.sort_by(|a, b| utf16_order(a.0, b.0));
    out.push(b'{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_canonical(out, v);
    }
    out.push(b'}');
}

/// RFC 8785 §3.2.3: names compare by their UTF-16 code units. For UTF-8 text that is the
/// byte order, except that a character beyond U+FFFF (a surrogate pair, 0xD800-0xDFFF)
/// sorts before U+E000-U+FFFF.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Whether any of the 8 bytes of `word` must be escaped in a canonical string: a control
/// (below 0x20), `"` or `\\` (the classic "has a zero byte" and "has a byte less than n"
/// word tests, exact as yes/no answers).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Most of a message's text needs no escape: pass it 8 bytes at a time.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        i += 1;
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x09 => b't',
            0x0a => b'n',
            0x0c => b'f',
            0x0d => b'r',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i - 1]);
        start = i;
        if short == 0 {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_object_reads_exactly_what_parse_reads_and_refuses_what_it_refuses() {
        const KEEP: [&str; 2] = ["signature", "certificate"];
        let cases: &[&[u8]] = &[
            br#"{"topic": "a", "signature": "c2ln", "certificate": "Y2VydA==", "i": 1}"#,
            br#" { "signature" : "esc\"aped\u00e9", "msg": {"signature": "inner"} } "#,
            br#"{"signature": 5, "certificate": ["x"], "n": null}"#,
            br#"{"signature": {"a": 1.0e2}}"#,
            br#"{}"#,
            // Duplicates: a kept member twice, a kept member then a value, both orders.
            br#"{"signature": "a", "signature": "b"}"#,
            br#"{"signature": 1, "signature": "b"}"#,
            br#"{"signature": "a", "signature": 1}"#,
            br#"{"topic": "a", "topic": "b"}"#,
            br#"{"x": {"k": 1, "k": 2}}"#,
            // Not exact, not Unicode, not JSON, not one value.
            br#"{"signature": "a", "n": 9007199254740993}"#,
            br#"{"signature": "\ud800"}"#,
            br#"{"a": "\udc00", "signature": "x"}"#,
            b"{\"signature\": \"\xff\"}",
            br#"{"signature": "a"} {}"#,
            br#"{"signature": "a""#,
            br#"{"signature" "a"}"#,
            br#"{"n": -0}"#,
        ];
        for case in cases {
            let whole = parse(case);
            let apart = parse_object(case, &KEEP).map(|o| o.expect("an object").into_value());
            assert_eq!(apart, whole, "{}", String::from_utf8_lossy(case));
        }
        let wire = parse_object(br#"{"signature": "c2ln", "msg": {}}"#, &KEEP)
            .unwrap()
            .unwrap();
        assert!(matches!(
            wire.kept[..],
            [("signature", Cow::Borrowed("c2ln"))]
        ));
        assert!(!wire.members.contains_key("signature"));
        let escaped = parse_object(br#"{"certificate": "a\nb"}"#, &KEEP)
            .unwrap()
            .unwrap();
        assert_eq!(escaped.kept[0].1, "a\nb");
        for not_an_object in [&b" [1]"[..], b"\"s\"", b"", b"nul"] {
            assert!(parse_object(not_an_object, &KEEP).unwrap().is_none());
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(
            parse(br#"{"topic": "a", "topic": "b"}"#)
                .unwrap_err()
                .message
                .contains("duplicate key")
        );
        assert!(parse(br#"{"msg": {"x": 1, "x": 2}}"#).is_err());
        assert!(parse(br#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }

    #[test]
    fn numbers_that_are_not_exactly_a_double_are_refused() {
        let code = |t: &str| parse(t.as_bytes()).err().map(|e| e.code);
        for exact in [
            "9007199254740991",
            "9007199254740992",
            "-9007199254740991",
            "1.5e300",
            "0.1",
            "1.0",
            "1E2",
            "100e-2",
            "0",
            "0.0",
            "1e22",
            "[1, {\"a\": 2.5}]",
            "\"9007199254740993 in a string\"",
        ] {
            assert_eq!(code(exact), None, "{exact}");
        }
        for inexact in [
            "9007199254740993",
            "-9007199254740993",
            "18446744073709551615",
            "0.10000000000000000001",
            "-0",
            "-0.0",
            "{\"amount\": 12345678901234567891}",
            "[1, [2, 3.00000000000000000001]]",
        ] {
            assert_eq!(code(inexact), Some(INEXACT_NUMBER), "{inexact}");
        }
        // Beyond the double range: serde_json refuses it while parsing.
        assert!(parse(b"1e400").is_err());
        assert_eq!(
            check(&serde_json::json!({"n": u64::MAX})).unwrap_err().code,
            INEXACT_NUMBER
        );
        assert!(check(&serde_json::json!({"n": 1u64 << 60})).is_ok());
    }

    #[test]
    fn splice_keeps_every_other_member_byte_for_byte() {
        let text = r#" { "n" : 1.0e2, "signature": "old", "x": [1.50, {"y": "a,}"}] , "z":-0.5 } "#;
        parse(text.as_bytes()).unwrap();
        let out = splice(
            text,
            &["signature", "crypto"],
            &[("crypto", &Value::String("cms".into()))],
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"n" : 1.0e2,"x": [1.50, {"y": "a,}"}],"z":-0.5,"crypto":"cms"}"#
        );
        assert_eq!(
            splice("{}", &[], &[("a", &Value::Null)]).unwrap(),
            r#"{"a":null}"#
        );
        assert!(splice("[1]", &[], &[]).is_err());
    }

    #[test]
    fn invalid_utf8_and_trailing_data_are_refused() {
        assert!(parse(b"{\"a\": \"\xff\"}").is_err());
        assert!(parse(b"{} {}").is_err());
    }

    #[test]
    fn lone_surrogates_are_refused_and_pairs_accepted() {
        // I-JSON (RFC 7493 §2.1): escaped lone surrogates, anywhere a string is.
        for lone in [
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\uD800"}"#,
            r#"{"a": "x\udbffy"}"#,
            r#"{"a": "\udc00"}"#,
            r#"{"a": "\ude00\ud83d"}"#,
            r#"{"a": "\ud800\u0041"}"#,
            r#"{"a": "\ud800\ud800"}"#,
            r#"{"a": "\ud800\n"}"#,
            r#"{"\ud800": 1}"#,
            r#"["ok", ["\udfff"]]"#,
            r#""\ud800""#,
        ] {
            let e = parse(lone.as_bytes()).unwrap_err();
            assert_eq!(e.code, MALFORMED_JSON, "{lone}");
            assert!(
                e.message.contains("lone surrogate"),
                "{lone}: {}",
                e.message
            );
            assert!(check_surrogates(lone.as_bytes()).is_err(), "{lone}");
        }
        // A pair is one character; an escaped backslash before `u` is no escape.
        let v =
            parse(r#"{"a": "\ud83d\ude00", "b": "\\ud800", "c": "\"\ud83d\ude00\""}"#.as_bytes())
                .unwrap();
        assert_eq!(v["a"], "\u{1f600}");
        assert_eq!(v["b"], "\\ud800");
        assert_eq!(v["c"], "\"\u{1f600}\"");
        // The canonical form writes the character itself (as UTF-8), never the escapes.
        assert_eq!(
            canonical(&v).unwrap(),
            "{\"a\":\"\u{1f600}\",\"b\":\"\\\\ud800\",\"c\":\"\\\"\u{1f600}\\\"\"}".as_bytes()
        );
        // A surrogate written as UTF-8 bytes (CESU-8 / WTF-8) is not UTF-8 at all.
        let raw = b"{\"a\": \"\xed\xa0\x80\"}";
        assert_eq!(parse(raw).unwrap_err().code, MALFORMED_JSON);
        // Outside strings, and in text that is not JSON, nothing is misread or overrun.
        assert!(check_surrogates(br#"{"a": 1} \ud800"#).is_ok());
        for cut in [
            &br#""\ud8"#[..],
            br#""\ud800\u"#,
            br#""\"#,
            br#""\ud800\udc"#,
        ] {
            assert!(parse(cut).is_err());
        }
        assert!(check_surrogates(br#""\ud800\udc"#).is_err());
    }

    /// A xorshift generator: the same values on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Up to four pieces of text, escapes, controls and non-ASCII among them, on both
        /// sides of the UTF-16 order quirk (U+E000-U+FFFF against pairs).
        fn text(&mut self) -> String {
            const PIECES: [&str; 14] = [
                "a",
                "Z",
                "topic",
                "\"",
                "\\",
                "\n",
                "\u{1}",
                "\u{1f}",
                "\u{7f}",
                "\u{e9}",
                "\u{20ac}",
                "\u{e000}",
                "\u{ffff}",
                "\u{1f600}",
            ];
            let n = self.next() % 5;
            (0..n)
                .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
                .collect()
        }

        /// A number of every form a double takes, and integers beyond 2^53.
        fn number(&mut self) -> Value {
            let n = self.next();
            match n % 6 {
                0 => Value::from(n as i64 >> (n % 64)),
                1 => Value::from((n >> 11) as f64 * 2f64.powi((n % 200) as i32 - 100)),
                2 => Value::from(n % 1000),
                3 => Value::from(1u64 << (n % 63)),
                4 => Value::from(
                    [1e21, 1e-7, 0.1, -0.0, 5e-324, 1.7976931348623157e308][(n % 6) as usize],
                ),
                _ => Value::from(-((n % 100_000) as i64)),
            }
        }

        /// A value of every kind, nested up to `depth`.
        fn value(&mut self, depth: u32) -> Value {
            let pick = self.next();
            match if depth == 0 { pick % 5 } else { pick % 7 } {
                0 => Value::Null,
                1 => Value::Bool(pick & 8 == 0),
                2 => self.number(),
                3 | 4 => Value::String(self.text()),
                5 => {
                    let n = self.next() % 4;
                    Value::Array((0..n).map(|_| self.value(depth - 1)).collect())
                }
                _ => {
                    let mut m = Map::new();
                    for _ in 0..self.next() % 6 {
                        let k = self.text();
                        let v = self.value(depth - 1);
                        m.insert(k, v);
                    }
                    Value::Object(m)
                }
            }
        }
    }

    #[test]
    fn canonical_form_is_byte_for_byte_serde_jcs() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let v = rng.value(4);
            if check(&v).is_err() {
                continue;
            }
            let ours = canonical(&v).unwrap();
            let theirs = serde_jcs::to_vec(&v).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{v:?}"
            );
            // Without some members: the same as without them in a copy.
            if let Value::Object(o) = &v
                && let Some(first) = o.keys().next()
            {
                let mut copy = o.clone();
                copy.remove(first);
                assert_eq!(
                    canonical_without(&v, &[first.as_str(), "absent"]).unwrap(),
                    serde_jcs::to_vec(&Value::Object(copy)).unwrap()
                );
            }
        }
        // What is left out is not checked; what is kept is.
        let v = serde_json::json!({"n": u64::MAX, "a": 1});
        assert_eq!(canonical_without(&v, &["n"]).unwrap(), b"{\"a\":1}");
        assert_eq!(canonical(&v).unwrap_err().code, INEXACT_NUMBER);
        assert_eq!(
            canonical_without(&serde_json::json!([u64::MAX]), &["n"])
                .unwrap_err()
                .code,
            INEXACT_NUMBER
        );
    }

    #[test]
    fn long_strings_are_escaped_wherever_the_escape_falls() {
        // Strings are passed 8 bytes at a time until one needs an escape: every byte that
        // must be escaped, and bytes just beside those ranges, at every offset of strings
        // longer than a few words, against serde_jcs.
        let specials = [
            '"',
            '\\',
            '\u{0}',
            '\u{8}',
            '\n',
            '\u{1f}',
            ' ',
            '!',
            '#',
            '[',
            ']',
            '\u{7f}',
            '\u{e9}',
            '\u{1f600}',
        ];
        for len in 0..40 {
            for at in 0..=len {
                for c in specials {
                    let mut text: String = "a".repeat(at);
                    text.push(c);
                    text.push_str(&"b".repeat(len - at));
                    let v = Value::String(text);
                    assert_eq!(
                        canonical(&v).unwrap(),
                        serde_jcs::to_vec(&v).unwrap(),
                        "{v:?}"
                    );
                }
            }
        }
        let mixed = Value::String("x\"\\\n\u{1}\u{e9}ok".repeat(50));
        assert_eq!(
            canonical(&mixed).unwrap(),
            serde_jcs::to_vec(&mixed).unwrap()
        );
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
