//! Route expectations: what a consumer requires of the route, checked after every
//! signature and certificate path of the slip verified.

use crate::error::SlipError;
use crate::hop::Hop;

/// What the route must look like. The defaults: at most 32 hops, no entity twice, signing
/// times never more than 5 minutes out of order nor more than 5 minutes after the
/// verification time, no itinerary, no age limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteExpectations {
    /// The exact itinerary, hop 0 first (entity names as the verifier's namer gives them).
    pub itinerary: Option<Vec<String>>,
    /// Entities that must appear, in this order (others may come between).
    pub required: Vec<String>,
    /// The most hops a slip may have (hop 0 included); also bounds nesting on parse.
    pub max_hops: usize,
    /// Whether an entity may sign twice (a loop is refused by default).
    pub allow_repeats: bool,
    /// The allowed clock skew, in seconds: how far a hop's signing time may lie before the
    /// previous hop's (`time-went-backwards`), and (unless `future_skew` is set) how far any
    /// hop's signing time may lie after the verification time (`signing-time-in-future`).
    pub clock_skew: u64,
    /// How far any hop's signing time may lie after the verification time, in seconds,
    /// when it differs from `clock_skew` (`None`, the default: `clock_skew`). The message
    /// crate sets it from its freshness settings.
    pub future_skew: Option<u64>,
    /// The oldest hop 0 may be, in seconds before the verification time.
    pub max_age: Option<u64>,
    /// Whether every hop must carry signing-time (RFC 4134's countersignature has none;
    /// hops waxseal makes always do).
    pub require_signing_times: bool,
}

/// Default maximum number of hops.
pub const DEFAULT_MAX_HOPS: usize = 32;

impl Default for RouteExpectations {
    fn default() -> Self {
        Self {
            itinerary: None,
            required: Vec::new(),
            max_hops: DEFAULT_MAX_HOPS,
            allow_repeats: false,
            clock_skew: 300,
            future_skew: None,
            max_age: None,
            require_signing_times: false,
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl RouteExpectations {
    /// Checks the verified hops against the expectations, at time `now`.
    pub fn check_hops(&self, hops: &[Hop], now: u64) -> Result<(), SlipError> {
        if hops.len() > self.max_hops {
            return Err(SlipError::TooManyHops { max: self.max_hops });
        }
        if !self.allow_repeats {
            for (j, h) in hops.iter().enumerate() {
                if let Some(i) = hops[..j].iter().position(|p| same(&p.name, &h.name)) {
                    return Err(SlipError::RepeatedHop {
                        name: h.name.clone(),
                        first: i,
                        second: j,
                    });
                }
            }
        }
        if self.require_signing_times
            && let Some(h) = hops.iter().find(|h| h.signing_time.is_none())
        {
            return Err(SlipError::MissingSigningTime(h.index));
        }
        // A signing time in the future would stretch `max_age` (hop 0's) and vouches for
        // a moment that has not come: refused for every hop, whatever else is expected.
        let skew = self.future_skew.unwrap_or(self.clock_skew);
        if let Some((h, t)) = hops.iter().find_map(|h| {
            h.signing_time
                .filter(|t| *t > now.saturating_add(skew))
                .map(|t| (h, t))
        }) {
            return Err(SlipError::SigningTimeInFuture {
                hop: h.index,
                time: t,
                now,
                skew,
            });
        }
        for pair in hops.windows(2) {
            if let (Some(prev), Some(t)) = (pair[0].signing_time, pair[1].signing_time)
                && t + self.clock_skew < prev
            {
                return Err(SlipError::TimeWentBackwards {
                    hop: pair[1].index,
                    time: t,
                    previous: prev,
                });
            }
        }
        if let Some(max) = self.max_age {
            let started = hops[0]
                .signing_time
                .ok_or(SlipError::MissingSigningTime(0))?;
            let age = now.saturating_sub(started);
            if age > max {
                return Err(SlipError::TooOld { started, age, max });
            }
        }
        if let Some(itinerary) = &self.itinerary {
            for (i, expected) in itinerary.iter().enumerate() {
                match hops.get(i) {
                    None => {
                        return Err(SlipError::HopMissing {
                            hop: i,
                            expected: expected.clone(),
                        });
                    }
                    Some(h) if !same(&h.name, expected) => {
                        return Err(SlipError::WrongHop {
                            hop: i,
                            expected: expected.clone(),
                            found: h.name.clone(),
                        });
                    }
                    Some(_) => {}
                }
            }
            if let Some(extra) = hops.get(itinerary.len()) {
                return Err(SlipError::UnexpectedHop {
                    hop: extra.index,
                    found: extra.name.clone(),
                });
            }
        }
        let mut rest = hops.iter();
        for r in &self.required {
            if !rest.any(|h| same(&h.name, r)) {
                return Err(SlipError::RequiredHopMissing {
                    missing: r.clone(),
                    required: self.required.join(","),
                });
            }
        }
        Ok(())
    }
}
