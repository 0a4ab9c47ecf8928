//! Certificate → entity ID, by configurable rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use x509_cert::ext::pkix::name::GeneralName;

use waxseal_trust::Certificate;
use waxseal_trust::name::string_value;

use crate::error::EntityError;

/// Who a certificate speaks for: an ID (`bodhi-app01.example.org`) and named fields from
/// the rule's captures (`service` = `bodhi`, `host` = `app01.example.org`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityId {
    /// The entity ID.
    pub id: String,
    /// Named fields (pattern captures).
    pub fields: BTreeMap<String, String>,
}

impl EntityId {
    /// A field by name; `id` is the ID itself.
    pub fn field(&self, name: &str) -> Option<&str> {
        if name == "id" {
            Some(&self.id)
        } else {
            self.fields.get(name).map(String::as_str)
        }
    }
}

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// Where a rule reads the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Subject common name.
    Cn,
    /// Subject organization (O).
    O,
    /// Subject organizational unit (OU).
    Ou,
    /// subjectAltName dNSName entries.
    SanDns,
    /// subjectAltName uniformResourceIdentifier entries.
    SanUri,
    /// subjectAltName rfc822Name entries.
    SanEmail,
}

/// One mapping rule, as configured:
/// `{"source": "cn", "pattern": "^(?P<service>[a-z0-9_]+)-(?P<host>.+)$"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// What to read.
    pub source: Source,
    /// A regular expression the value must match (anchor it); named groups become
    /// fields. Absent: any value, taken whole.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The ID to form, with `{group}` placeholders (`compute:{node}`). Absent: the value.
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    source: Source,
    pattern: Option<Regex>,
    id: Option<String>,
    text: String,
}

/// Maps certificates to entity IDs. Every rule is tried; a certificate must yield exactly
/// one entity ID across all of them: no match and conflicting matches are errors, never a
/// silent default.
///
/// The answer for a certificate is kept (by its fingerprint, at most [`MAPPED`] of them):
/// it depends on nothing but the certificate and the rules, and a bus maps the signer of
/// every message it accepts, often from a fresh copy of the same certificate. Clones
/// share the rules (and so the regular expressions' caches) and the kept answers.
#[derive(Clone)]
pub struct EntityMapper {
    rules: Arc<[Rule]>,
    mapped: Arc<quick_cache::sync::Cache<[u8; 32], Result<EntityId, EntityError>>>,
}

// A panic cannot leave the kept answers inconsistent: they change only inside
// `quick_cache`, under a shard lock, by inserting a cloned answer, which does not panic.
// So a bus that holds a mapper stays usable across `catch_unwind`, as with the path cache
// (`waxseal_trust::PathCache`).
impl std::panic::RefUnwindSafe for EntityMapper {}
impl std::panic::UnwindSafe for EntityMapper {}

/// How many certificates' entities an [`EntityMapper`] keeps.
pub const MAPPED: usize = 4096;

impl std::fmt::Debug for EntityMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityMapper")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// The `<service>-<fqdn>` rule: CN `^(?P<service>[a-z0-9_]+)-(?P<host>.+)$`.
pub const SERVICE_HOST_PATTERN: &str = r"^(?P<service>[a-z0-9_]+)-(?P<host>[a-z0-9.-]+)$";

impl Default for EntityMapper {
    /// The `<service>-<fqdn>` convention on the subject CN.
    fn default() -> Self {
        Self::new(&[RuleConfig {
            source: Source::Cn,
            pattern: Some(SERVICE_HOST_PATTERN.into()),
            id: None,
        }])
        .expect("the built-in rule compiles")
    }
}

impl EntityMapper {
    /// Compiles rules; fails on a bad pattern or a template naming a group the pattern
    /// does not have.
    pub fn new(rules: &[RuleConfig]) -> Result<Self, EntityError> {
        if rules.is_empty() {
            return Err(EntityError::Config(
                "entity_rules is empty: no certificate could be mapped".into(),
            ));
        }
        let mut out = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let pattern = r
                .pattern
                .as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| EntityError::Config(format!("entity_rules[{i}].pattern: {e}")))?;
            if let Some(template) = &r.id {
                let names: Vec<&str> = pattern
                    .iter()
                    .flat_map(|p| p.capture_names().flatten())
                    .collect();
                for placeholder in placeholders(template) {
                    if !names.contains(&placeholder) {
                        return Err(EntityError::Config(format!(
                            "entity_rules[{i}].id uses {{{placeholder}}}, which the pattern does not capture"
                        )));
                    }
                }
            }
            out.push(Rule {
                source: r.source,
                pattern,
                id: r.id.clone(),
                text: format!("{:?} {}", r.source, r.pattern.as_deref().unwrap_or("(any)")),
            });
        }
        Ok(Self {
            rules: out.into(),
            mapped: Arc::new(quick_cache::sync::Cache::new(MAPPED)),
        })
    }

    /// The entity `cert` speaks for.
    pub fn map(&self, cert: &Certificate) -> Result<EntityId, EntityError> {
        let fingerprint = cert.fingerprint();
        if let Some(known) = self.mapped.get(&fingerprint) {
            return known;
        }
        let answer = self.map_rules(cert);
        self.mapped.insert(fingerprint, answer.clone());
        answer
    }

    /// [`EntityMapper::map`]'s work, every time.
    fn map_rules(&self, cert: &Certificate) -> Result<EntityId, EntityError> {
        let mut found: Vec<(String, EntityId)> = Vec::new();
        for rule in self.rules.iter() {
            for value in values(cert, rule.source) {
                let (id, fields) = match &rule.pattern {
                    None => (value.clone(), BTreeMap::new()),
                    Some(re) => {
                        let Some(caps) = re.captures(&value) else {
                            continue;
                        };
                        let fields: BTreeMap<String, String> = re
                            .capture_names()
                            .flatten()
                            .filter_map(|n| {
                                caps.name(n)
                                    .map(|m| (n.to_string(), m.as_str().to_string()))
                            })
                            .collect();
                        let id = match &rule.id {
                            Some(t) => fill(t, &fields),
                            None => value.clone(),
                        };
                        (id, fields)
                    }
                };
                found.push((rule.text.clone(), EntityId { id, fields }));
            }
        }
        let Some((_, first)) = found.first() else {
            return Err(EntityError::NoMatch {
                subject: cert.subject_display(),
            });
        };
        let mut entity = first.clone();
        for (rule, e) in &found[1..] {
            if e.id != entity.id {
                return Err(EntityError::Ambiguous {
                    subject: cert.subject_display(),
                    candidates: found.iter().map(|(_, e)| e.id.clone()).collect(),
                });
            }
            for (k, v) in &e.fields {
                match entity.fields.get(k) {
                    Some(existing) if existing != v => {
                        return Err(EntityError::Ambiguous {
                            subject: cert.subject_display(),
                            candidates: vec![
                                format!("{k}={existing}"),
                                format!("{k}={v} (rule {rule})"),
                            ],
                        });
                    }
                    _ => {
                        entity.fields.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(entity)
    }
}

fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        out.push(&rest[start + 1..start + end]);
        rest = &rest[start + end + 1..];
    }
    out
}

fn fill(template: &str, fields: &BTreeMap<String, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in fields {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn values(cert: &Certificate, source: Source) -> Vec<String> {
    let attr = |oid: &str| -> Vec<String> {
        let oid = const_oid_from(oid);
        cert.subject()
            .iter()
            .filter(|a| a.oid == oid)
            .filter_map(|a| string_value(&a.value))
            .collect()
    };
    let san = |pick: fn(&GeneralName) -> Option<String>| -> Vec<String> {
        cert.extensions()
            .subject_alt_name
            .iter()
            .flatten()
            .filter_map(pick)
            .collect()
    };
    match source {
        Source::Cn => attr("2.5.4.3"),
        Source::O => attr("2.5.4.10"),
        Source::Ou => attr("2.5.4.11"),
        Source::SanDns => san(|g| match g {
            GeneralName::DnsName(s) => Some(s.to_string()),
            _ => None,
        }),
        Source::SanUri => san(|g| match g {
            GeneralName::UniformResourceIdentifier(s) => Some(s.to_string()),
            _ => None,
        }),
        Source::SanEmail => san(|g| match g {
            GeneralName::Rfc822Name(s) => Some(s.to_string()),
            _ => None,
        }),
    }
}

fn const_oid_from(s: &str) -> x509_cert::der::asn1::ObjectIdentifier {
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap(s)
}
