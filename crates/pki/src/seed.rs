//! The seed: subject fields every certificate of a PKI shares.

use serde::{Deserialize, Serialize};
use x509_cert::name::Name;

use crate::issue::parse_name;

/// Subject fields shared by every certificate (`SEED.json`):
///
/// ```json
/// {"C": "US", "ST": "North Carolina", "L": "Raleigh", "O": "Example Org", "OU": "Messaging"}
/// ```
///
/// All optional; unknown keys are errors. `C` must be two letters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Country (two letters).
    #[serde(rename = "C", default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// State or province.
    #[serde(rename = "ST", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Locality.
    #[serde(rename = "L", default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// Organization.
    #[serde(rename = "O", default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Organizational unit.
    #[serde(rename = "OU", default, skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
}

/// A seed file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid seed: {0}")]
pub struct SeedError(pub String);

impl Seed {
    /// Parses and checks a seed file's contents.
    pub fn from_json(text: &str) -> Result<Self, SeedError> {
        let seed: Seed = serde_json::from_str(text).map_err(|e| SeedError(e.to_string()))?;
        seed.check_fields()?;
        Ok(seed)
    }

    /// Checks the fields.
    pub fn check_fields(&self) -> Result<(), SeedError> {
        if let Some(c) = &self.country
            && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(SeedError(format!(
                "C must be two upper-case letters, not {c:?}"
            )));
        }
        for (k, v) in self.fields() {
            if v.trim().is_empty() || v.len() > 64 {
                return Err(SeedError(format!("{k} must be 1 to 64 characters")));
            }
            if v.contains(['\\', '"', '\n', '\r']) {
                return Err(SeedError(format!(
                    "{k} contains a character not allowed in names"
                )));
            }
        }
        Ok(())
    }

    fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("C", &self.country),
            ("ST", &self.state),
            ("L", &self.locality),
            ("O", &self.organization),
            ("OU", &self.organizational_unit),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// The subject `CN=<cn>` under the seed's fields (C, ST, L, O, OU from the top).
    pub fn subject(&self, cn: &str) -> Result<Name, crate::issue::IssueError> {
        let escape = |v: &str| {
            let mut out = String::new();
            for (i, ch) in v.chars().enumerate() {
                if matches!(ch, ',' | '+' | '<' | '>' | ';' | '=')
                    || (i == 0 && matches!(ch, '#' | ' '))
                {
                    out.push('\\');
                }
                out.push(ch);
            }
            out
        };
        // RFC 4514 text lists the most specific RDN first.
        let mut parts = vec![format!("CN={}", escape(cn))];
        for (k, v) in self.fields().into_iter().rev() {
            parts.push(format!("{k}={}", escape(v)));
        }
        parse_name(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_strictly() {
        let s = Seed::from_json(r#"{"C": "US", "O": "Example, Inc.", "OU": "Bus"}"#).unwrap();
        let name = s.subject("bodhi-app01.example.org").unwrap();
        assert_eq!(
            name.to_string(),
            "CN=bodhi-app01.example.org,OU=Bus,O=Example\\, Inc.,C=US"
        );
        assert!(Seed::from_json(r#"{"C": "USA"}"#).is_err());
        assert!(Seed::from_json(r#"{"Country": "US"}"#).is_err());
        assert!(Seed::from_json("not json").is_err());
        assert!(Seed::from_json(r#"{"O": ""}"#).is_err());
    }
}
