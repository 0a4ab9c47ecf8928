//! Routing policy: which entities may publish on which topics (fedmsg's semantics).
//!
//! fedmsg's rule, kept exactly: if the policy mentions the topic, the signer must be
//! listed for it; if it does not, the message is allowed unless `nitpicky`. waxseal adds
//! globs on both sides (`org.example.prod.bodhi.*` → `bodhi-*`): every entry whose topic
//! pattern matches applies, and the signer is allowed if any of them lists it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::EntityError;
use crate::glob::Glob;

/// A decision with its reason, for logs and `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allowed or not.
    pub allowed: bool,
    /// Stable reason code.
    pub code: &'static str,
    /// One line for a person.
    pub reason: String,
    /// The rule that decided, as configured.
    pub rule: Option<String>,
}

impl Decision {
    pub(crate) fn allow(code: &'static str, reason: String, rule: Option<String>) -> Self {
        Self {
            allowed: true,
            code,
            reason,
            rule,
        }
    }

    pub(crate) fn deny(code: &'static str, reason: String, rule: Option<String>) -> Self {
        Self {
            allowed: false,
            code,
            reason,
            rule,
        }
    }
}

/// A compiled routing policy.
#[derive(Debug, Clone)]
pub struct RoutingPolicy {
    entries: Vec<(Glob, Vec<Glob>)>,
    nitpicky: bool,
}

impl RoutingPolicy {
    /// Compiles `{topic pattern: [entity patterns]}`.
    pub fn new(
        policy: &BTreeMap<String, Vec<String>>,
        nitpicky: bool,
    ) -> Result<Self, EntityError> {
        let mut entries = Vec::new();
        for (topic, entities) in policy {
            let t = Glob::new(topic)
                .map_err(|e| EntityError::Config(format!("routing_policy: {e}")))?;
            let es = entities
                .iter()
                .map(|e| {
                    Glob::new(e).map_err(|err| {
                        EntityError::Config(format!("routing_policy[{topic}]: {err}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            entries.push((t, es));
        }
        Ok(Self { entries, nitpicky })
    }

    /// fedmsg's `validate_signed_by` policy: only `entity` may publish on `topic`, and
    /// nothing else is allowed.
    pub fn only(topic: &str, entity: &str) -> Self {
        Self {
            entries: vec![(Glob::new_exact(topic), vec![Glob::new_exact(entity)])],
            nitpicky: true,
        }
    }

    /// Whether `entity` may publish on `topic`.
    pub fn decide(&self, topic: &str, entity: &str) -> Decision {
        let applicable: Vec<&(Glob, Vec<Glob>)> = self
            .entries
            .iter()
            .filter(|(t, _)| t.matches(topic))
            .collect();
        if applicable.is_empty() {
            return if self.nitpicky {
                Decision::deny(
                    "topic-not-in-policy",
                    format!("topic {topic} is not in the routing policy and nitpicky is on"),
                    None,
                )
            } else {
                Decision::allow(
                    "topic-not-in-policy",
                    format!("topic {topic} is not in the routing policy (nitpicky is off)"),
                    None,
                )
            };
        }
        for (t, es) in &applicable {
            if let Some(e) = es.iter().find(|e| e.matches(entity)) {
                return Decision::allow(
                    "routing-policy",
                    format!("{entity} may publish on {topic}"),
                    Some(format!("{} -> {}", t.as_str(), e.as_str())),
                );
            }
        }
        let rules: Vec<String> = applicable
            .iter()
            .map(|(t, es)| {
                format!(
                    "{} -> [{}]",
                    t.as_str(),
                    es.iter().map(Glob::as_str).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        Decision::deny(
            "routing-policy-denied",
            format!("{entity} may not publish on {topic}"),
            Some(rules.join("; ")),
        )
    }
}
