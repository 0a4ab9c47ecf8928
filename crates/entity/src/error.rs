//! Errors of entity mapping and configuration.

/// An entity could not be determined, or the configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntityError {
    /// No rule matched the certificate.
    #[error("no entity rule matches certificate {}", waxseal_trust::display::Escaped(.subject))]
    NoMatch {
        /// The certificate's subject.
        subject: String,
    },
    /// Rules matched with different results.
    #[error("certificate {} maps to more than one entity: {}", waxseal_trust::display::Escaped(.subject), waxseal_trust::display::Escaped(&.candidates.join(", ")))]
    Ambiguous {
        /// The certificate's subject.
        subject: String,
        /// What the rules produced.
        candidates: Vec<String>,
    },
    /// A configuration problem (bad pattern, bad registry, bad policy).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl EntityError {
    /// A stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoMatch { .. } => "entity-unmapped",
            Self::Ambiguous { .. } => "entity-ambiguous",
            Self::Config(_) => "config",
        }
    }
}
