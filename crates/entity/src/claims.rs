//! Claims: values in the payload that must equal a field of the signer's entity, so a
//! node can speak only for itself (`/args/host` must be the signer's `host`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::EntityError;
use crate::glob::TopicPattern;
use crate::mapping::EntityId;
use crate::policy::Decision;

/// One claim rule, as configured:
/// `{"topic": "org.example.prod.compute.*", "pointer": "/args/host", "field": "host"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimConfig {
    /// Topics the rule applies to (a topic pattern, see [`crate::glob`]); absent: every
    /// topic. Every rule whose pattern matches applies (claims add up: each must hold).
    #[serde(default)]
    pub topic: Option<String>,
    /// JSON Pointer (RFC 6901) into the payload.
    pub pointer: String,
    /// The entity field the value must equal (`id`, or a capture such as `host`).
    pub field: String,
}

/// A compiled claim rule.
#[derive(Debug, Clone)]
pub struct ClaimRule {
    topic: Option<TopicPattern>,
    pointer: String,
    field: String,
}

impl ClaimRule {
    /// Compiles a rule.
    pub fn new(c: &ClaimConfig) -> Result<Self, EntityError> {
        if !(c.pointer.is_empty() || c.pointer.starts_with('/')) {
            return Err(EntityError::Config(format!(
                "claims: pointer {:?} must start with '/'",
                c.pointer
            )));
        }
        Ok(Self {
            topic: c
                .topic
                .as_deref()
                .map(TopicPattern::new)
                .transpose()
                .map_err(|e| EntityError::Config(format!("claims: topic: {e}")))?,
            pointer: c.pointer.clone(),
            field: c.field.clone(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{} == entity.{}{}",
            self.pointer,
            self.field,
            self.topic
                .as_ref()
                .map(|t| format!(" on {}", t.as_str()))
                .unwrap_or_default()
        )
    }

    /// Whether the rule applies to `topic`.
    pub fn applies(&self, topic: &str) -> bool {
        match &self.topic {
            None => true,
            Some(g) => g.matches(topic),
        }
    }

    /// Checks `payload` against `entity`.
    pub fn check_payload(&self, payload: &Value, entity: &EntityId) -> Decision {
        let rule = Some(self.describe());
        let Some(expected) = entity.field(&self.field) else {
            return Decision::deny(
                "claim-field-missing",
                format!(
                    "entity {} has no field {:?} to check {} against",
                    entity.id, self.field, self.pointer
                ),
                rule,
            );
        };
        match payload.pointer(&self.pointer) {
            Some(Value::String(s)) if s == expected => Decision::allow(
                "claim",
                format!(
                    "{} is {expected:?}, the signer's {}",
                    self.pointer, self.field
                ),
                rule,
            ),
            Some(Value::String(s)) => Decision::deny(
                "claim-mismatch",
                format!(
                    "{} claims {s:?} but the signer's {} is {expected:?}",
                    self.pointer, self.field
                ),
                rule,
            ),
            Some(other) => Decision::deny(
                "claim-mismatch",
                format!(
                    "{} is {other}, not the signer's {} {expected:?}",
                    self.pointer, self.field
                ),
                rule,
            ),
            None => Decision::deny(
                "claim-missing",
                format!("the payload has no {}", self.pointer),
                rule,
            ),
        }
    }
}
