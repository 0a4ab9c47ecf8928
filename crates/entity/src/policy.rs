//! Routing policy: which entities may publish on which topics (fedmsg's semantics).
//!
//! fedmsg's rule, kept exactly: if the policy mentions the topic, the signer must be
//! listed for it; if it does not, the message is allowed unless `nitpicky`. waxseal adds
//! patterns on both sides (`org.example.prod.bodhi.#` → `bodhi-*`, see [`crate::glob`]
//! for their semantics). When several topic patterns match, only the **most specific**
//! entry decides (an exact topic beats any pattern): a broad `org.#` entry cannot widen
//! what a narrower `org.example.prod.bodhi.*` entry allows. A topic that is not printable
//! ASCII without white space is refused (`malformed-topic`) before any matching.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::EntityError;
use crate::glob::{EntityPattern, MALFORMED_TOPIC, TopicPattern, check_topic, most_specific};

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
    entries: Vec<(TopicPattern, Vec<EntityPattern>)>,
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
            let t = TopicPattern::new(topic)
                .map_err(|e| EntityError::Config(format!("routing_policy: {e}")))?;
            let es = entities
                .iter()
                .map(|e| {
                    EntityPattern::new(e).map_err(|err| {
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
            entries: vec![(
                TopicPattern::exact(topic),
                vec![EntityPattern::exact(entity)],
            )],
            nitpicky: true,
        }
    }

    /// Whether `entity` may publish on `topic`: the most specific matching entry decides.
    pub fn decide(&self, topic: &str, entity: &str) -> Decision {
        if let Err(e) = check_topic(topic) {
            return Decision::deny(MALFORMED_TOPIC, e.to_string(), None);
        }
        let Some((t, es)) = most_specific(topic, &self.entries) else {
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
        };
        if let Some(e) = es.iter().find(|e| e.matches(entity)) {
            return Decision::allow(
                "routing-policy",
                format!("{entity} may publish on {topic}"),
                Some(format!("{} -> {}", t.as_str(), e.as_str())),
            );
        }
        Decision::deny(
            "routing-policy-denied",
            format!("{entity} may not publish on {topic}"),
            Some(format!(
                "{} -> [{}]",
                t.as_str(),
                es.iter()
                    .map(EntityPattern::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
    }
}
