//! The authorization decision: entity, registry, routing policy, claims, each with its
//! reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use waxseal_trust::Certificate;

use crate::claims::{ClaimConfig, ClaimRule};
use crate::error::EntityError;
use crate::mapping::{EntityId, EntityMapper, RuleConfig};
use crate::policy::{Decision, RoutingPolicy};
use crate::registry::Registry;

/// The reason code of an RPC reply signed by an entity other than the server the call was
/// sent to ([`Authorizer::authorize_reply`]).
pub const REPLY_NOT_FROM_CALLEE: &str = "reply-not-from-callee";

/// Authorization settings as they appear in a configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Certificate → entity rules (default: the `<service>-<fqdn>` CN rule).
    #[serde(default)]
    pub entity_rules: Vec<RuleConfig>,
    /// Topic pattern → entity patterns (see [`crate::glob`]; the most specific matching
    /// topic pattern decides).
    #[serde(default)]
    pub routing_policy: BTreeMap<String, Vec<String>>,
    /// Deny topics the policy does not mention (fedmsg's `routing_nitpicky`).
    #[serde(default)]
    pub nitpicky: bool,
    /// Payload claims.
    #[serde(default)]
    pub claims: Vec<ClaimConfig>,
}

/// The outcome, with every decision taken and why.
#[derive(Debug, Clone, Serialize)]
pub struct Authorization {
    /// Who the certificate speaks for, when that could be determined.
    pub entity: Option<EntityId>,
    /// Whether everything allowed it.
    pub allowed: bool,
    /// Each decision in order: entity, registry, routing policy, claims.
    pub decisions: Vec<Decision>,
}

impl Authorization {
    /// The first decision that denied.
    pub fn denial(&self) -> Option<&Decision> {
        self.decisions.iter().find(|d| !d.allowed)
    }
}

/// Decides whether a verified certificate may say what a message says.
#[derive(Debug, Clone)]
pub struct Authorizer {
    /// Shared, not copied, by the narrowed authorizers of [`Authorizer::signed_by`] and
    /// the namers of [`Authorizer::namer`]: a copy of its regular expressions would start
    /// with empty match caches (each copy of a `Regex` has a pool of its own).
    mapper: Arc<EntityMapper>,
    registry: Option<Registry>,
    policy: RoutingPolicy,
    claims: Vec<ClaimRule>,
}

impl Authorizer {
    /// Compiles a configuration (and an optional registry).
    pub fn new(
        config: &AuthorizationConfig,
        registry: Option<Registry>,
    ) -> Result<Self, EntityError> {
        let mapper = if config.entity_rules.is_empty() {
            EntityMapper::default()
        } else {
            EntityMapper::new(&config.entity_rules)?
        };
        Ok(Self {
            mapper: Arc::new(mapper),
            registry,
            policy: RoutingPolicy::new(&config.routing_policy, config.nitpicky)?,
            claims: config
                .claims
                .iter()
                .map(ClaimRule::new)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The same authorizer with fedmsg's `validate_signed_by` policy: only `entity` may
    /// publish on `topic`, nitpicky.
    pub fn signed_by(&self, topic: &str, entity: &str) -> Self {
        Self {
            policy: RoutingPolicy::only(topic, entity),
            ..self.clone()
        }
    }

    /// The entity mapper.
    pub fn mapper(&self) -> &EntityMapper {
        &self.mapper
    }

    /// Names certificates by entity ID (for routing-slip itineraries). The namer shares
    /// this authorizer's mapper (its compiled rules and kept answers).
    pub fn namer(&self) -> impl Fn(&Certificate) -> String + Send + Sync + 'static {
        let mapper = self.mapper.clone();
        move |c: &Certificate| match mapper.map(c) {
            Ok(e) => e.id,
            Err(e) => format!("<{}>", e.code()),
        }
    }

    /// Authorizes `cert` (already verified) to publish `payload` on `topic`. A topic that
    /// is not printable ASCII without white space is denied (`malformed-topic`) before any
    /// other decision.
    pub fn authorize(
        &self,
        cert: &Certificate,
        topic: &str,
        payload: Option<&Value>,
    ) -> Authorization {
        self.decide(cert, topic, |entity, decisions| {
            for rule in self.claims.iter().filter(|r| r.applies(topic)) {
                decisions.push(match payload {
                    Some(p) => rule.check_payload(p, entity),
                    None => Decision::deny(
                        "claim-missing",
                        "no payload to check the claim against".into(),
                        None,
                    ),
                });
            }
        })
    }

    /// Authorizes `cert` (already verified) to answer an RPC call sent on `call_topic`
    /// (`topic`, or `topic.server` for a call to one server): the routing policy must
    /// allow it on `call_topic` as if it published there (claims do not apply: a reply's
    /// payload is a result, not a request), and for a call to `server` the entity must be
    /// that server ([`REPLY_NOT_FROM_CALLEE`]): `server` equals the entity ID, its `host`
    /// field, or the first DNS label of its `host` field (oslo.messaging names servers by
    /// host name, short or fully qualified).
    pub fn authorize_reply(
        &self,
        cert: &Certificate,
        call_topic: &str,
        server: Option<&str>,
    ) -> Authorization {
        self.decide(cert, call_topic, |entity, decisions| {
            let Some(server) = server else {
                return;
            };
            let host = entity.field("host");
            let is_server = server == entity.id
                || host == Some(server)
                || host.and_then(|h| h.split('.').next()) == Some(server);
            decisions.push(if is_server {
                Decision::allow(
                    "reply-from-callee",
                    format!(
                        "{} is server {server}, which the call was sent to",
                        entity.id
                    ),
                    None,
                )
            } else {
                Decision::deny(
                    REPLY_NOT_FROM_CALLEE,
                    format!(
                        "{} answered a call sent to server {server}: only that server may",
                        entity.id
                    ),
                    None,
                )
            });
        })
    }

    /// The entity, registry and routing-policy decisions for `cert` on `topic`, then
    /// those `more` adds; the authorization allows only if every decision does.
    fn decide(
        &self,
        cert: &Certificate,
        topic: &str,
        more: impl FnOnce(&EntityId, &mut Vec<Decision>),
    ) -> Authorization {
        let (entity, mut decisions) = match self.identify(cert, topic) {
            Ok(found) => found,
            Err(denied) => return denied,
        };
        decisions.push(self.policy.decide(topic, &entity.id));
        more(&entity, &mut decisions);
        Authorization {
            allowed: decisions.iter().all(|d| d.allowed),
            entity: Some(entity),
            decisions,
        }
    }

    /// The entity `cert` speaks for and the registry's decision, or the denial.
    fn identify(
        &self,
        cert: &Certificate,
        topic: &str,
    ) -> Result<(EntityId, Vec<Decision>), Authorization> {
        let mut decisions = Vec::new();
        if let Err(e) = crate::glob::check_topic(topic) {
            decisions.push(Decision::deny(
                crate::glob::MALFORMED_TOPIC,
                e.to_string(),
                None,
            ));
            return Err(Authorization {
                entity: None,
                allowed: false,
                decisions,
            });
        }
        let entity = match self.mapper.map(cert) {
            Ok(e) => e,
            Err(err) => {
                decisions.push(Decision::deny(err.code(), err.to_string(), None));
                return Err(Authorization {
                    entity: None,
                    allowed: false,
                    decisions,
                });
            }
        };
        decisions.push(Decision::allow(
            "entity",
            format!(
                "certificate {} speaks for {}",
                cert.subject_display(),
                entity.id
            ),
            None,
        ));
        if let Some(registry) = &self.registry {
            decisions.push(match registry.check_binding(&entity, cert) {
                Ok(()) => Decision::allow(
                    "registry",
                    format!("{} is registered and the certificate pinned", entity.id),
                    None,
                ),
                Err((code, reason)) => Decision::deny(code, reason, None),
            });
        }
        Ok((entity, decisions))
    }
}
