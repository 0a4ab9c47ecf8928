//! Topics, topic patterns and entity patterns.
//!
//! **Topics** are non-empty strings of printable ASCII without white space (bytes
//! `0x21..=0x7e`); anything else is refused as `malformed-topic` before any matching
//! ([`check_topic`]).
//!
//! **Topic patterns** (routing policy keys, claim and unsigned-topic patterns) have the
//! semantics of RabbitMQ's topic exchanges: the topic and the pattern are split on `.`
//! into segments; `*` matches exactly one segment, `#` zero or more segments, any other
//! segment matches itself exactly (case-sensitive). `*` and `#` are wildcards only as a
//! whole segment; a segment that merely contains them (`bodhi*`), and the fnmatch
//! characters `?`, `[` and `]`, are refused as configuration errors. Matching is linear in
//! the product of the lengths (no backtracking blow-up).
//!
//! When several patterns match a topic, the **most specific** one decides
//! ([`TopicPattern::specificity`]): an exact topic (no wildcard) beats any pattern; among
//! patterns, more literal segments first, then fewer `#`, then fewer `*`, then the one
//! whose first wildcard comes later; two patterns still tied are ordered by their text,
//! so the choice never depends on the order of a configuration file.
//!
//! **Entity patterns** (the allowed signers, e.g. `bodhi-*`) are not topics: `*` matches
//! any run of characters, dots included (`bodhi-*` matches `bodhi-app01.example.org`),
//! every other character matches itself; `?`, `[`, `]` and `#` are refused as
//! configuration errors.

/// The reason code of a topic that is not printable ASCII without white space.
pub const MALFORMED_TOPIC: &str = "malformed-topic";

/// Checks that `topic` is a non-empty string of printable ASCII without white space
/// (`0x21..=0x7e`). The error says what is wrong (with control characters escaped).
pub fn check_topic(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if let Some(found) = topic.chars().find(|c| !('\x21'..='\x7e').contains(c)) {
        return Err(TopicError::Character {
            topic: topic.into(),
            found,
        });
    }
    Ok(())
}

/// Why a topic was refused ([`check_topic`], reason code [`MALFORMED_TOPIC`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic is empty.
    #[error("the topic is empty")]
    Empty,
    /// A character outside printable ASCII, or white space (shown escaped).
    #[error(
        "the topic {:?} contains {:?}: topics are printable ASCII without white space",
        .topic.escape_debug().to_string(),
        .found
    )]
    Character {
        /// The topic.
        topic: String,
        /// The first character refused.
        found: char,
    },
}

/// Why a topic or entity pattern was refused (a configuration error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// A topic pattern that is not a topic ([`check_topic`]).
    #[error("pattern {pattern:?}: {error}")]
    Topic {
        /// The pattern.
        pattern: String,
        /// Why.
        error: TopicError,
    },
    /// A topic pattern with `?`, `[` or `]`.
    #[error(
        "pattern {0:?}: '?', '[' and ']' are not pattern characters \
         (topic patterns: '*' is one segment, '#' zero or more)"
    )]
    NotPatternCharacter(String),
    /// A topic pattern with `*` or `#` inside a segment.
    #[error(
        "pattern {pattern:?}: '*' and '#' must be a whole dot-separated segment, \
         not part of {segment:?}"
    )]
    PartialWildcard {
        /// The pattern.
        pattern: String,
        /// The segment.
        segment: String,
    },
    /// An empty entity pattern.
    #[error("an entity pattern is empty")]
    EmptyEntity,
    /// An entity pattern with `?`, `[`, `]`, `#` or a control character (shown escaped).
    #[error(
        "entity pattern {:?}: only '*' is a wildcard ('?', '[', ']', '#' and control \
         characters are not allowed)",
        .0.escape_debug().to_string()
    )]
    EntityCharacter(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Star,
    Hash,
}

/// A compiled topic pattern (RabbitMQ topic-exchange semantics, see the module docs).
#[derive(Debug, Clone)]
pub struct TopicPattern {
    text: String,
    segments: Vec<Segment>,
}

impl TopicPattern {
    /// Compiles `pattern`; the error says why it is not a valid pattern.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        check_topic(pattern).map_err(|error| PatternError::Topic {
            pattern: pattern.into(),
            error,
        })?;
        if pattern.contains(['?', '[', ']']) {
            return Err(PatternError::NotPatternCharacter(pattern.into()));
        }
        let segments = pattern
            .split('.')
            .map(|s| match s {
                "*" => Ok(Segment::Star),
                "#" => Ok(Segment::Hash),
                s if s.contains(['*', '#']) => Err(PatternError::PartialWildcard {
                    pattern: pattern.into(),
                    segment: s.into(),
                }),
                s => Ok(Segment::Literal(s.to_string())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: pattern.to_string(),
            segments,
        })
    }

    /// A pattern matching exactly `topic`, even if it contains `*` or `#` segments.
    pub fn exact(topic: &str) -> Self {
        Self {
            text: topic.to_string(),
            segments: topic
                .split('.')
                .map(|s| Segment::Literal(s.to_string()))
                .collect(),
        }
    }

    /// Whether `topic` matches. A malformed topic ([`check_topic`]) never matches.
    pub fn matches(&self, topic: &str) -> bool {
        if check_topic(topic).is_err() {
            return false;
        }
        // Every routing decision matches the topic against each pattern of the policy:
        // topics of fewer than 64 segments (all real ones) are matched without allocating,
        // the sets of reachable positions kept as bits of a word.
        let mut segments = [""; 63];
        let mut n = 0;
        for part in topic.split('.') {
            if n == segments.len() {
                return self.matches_long(topic);
            }
            segments[n] = part;
            n += 1;
        }
        let t = &segments[..n];
        // Bit j of `reach`: the pattern segments so far can match the first j topic
        // segments (j = 0..=n, so n + 1 <= 64 bits).
        let all = if n == 63 {
            u64::MAX
        } else {
            (1u64 << (n + 1)) - 1
        };
        let mut reach = 1u64;
        for seg in &self.segments {
            reach = match seg {
                // Zero or more segments: every position from the first reachable one on.
                Segment::Hash if reach == 0 => 0,
                Segment::Hash => all & !((reach & reach.wrapping_neg()) - 1),
                Segment::Star => (reach << 1) & all,
                Segment::Literal(l) => {
                    let mut next = 0;
                    let mut from = reach & !(1u64 << n);
                    while from != 0 {
                        let j = from.trailing_zeros() as usize;
                        from &= from - 1;
                        if t[j] == l {
                            next |= 1u64 << (j + 1);
                        }
                    }
                    next
                }
            };
            if reach == 0 {
                return false;
            }
        }
        reach & (1u64 << n) != 0
    }

    /// [`TopicPattern::matches`] for a topic of any number of segments (64 or more).
    fn matches_long(&self, topic: &str) -> bool {
        let t: Vec<&str> = topic.split('.').collect();
        // reach[j]: the first i pattern segments can match the first j topic segments.
        let mut reach = vec![false; t.len() + 1];
        reach[0] = true;
        for seg in &self.segments {
            let mut next = vec![false; t.len() + 1];
            match seg {
                Segment::Hash => {
                    let mut any = false;
                    for j in 0..=t.len() {
                        any |= reach[j];
                        next[j] = any;
                    }
                }
                Segment::Star => {
                    next[1..].copy_from_slice(&reach[..t.len()]);
                }
                Segment::Literal(l) => {
                    for j in 1..=t.len() {
                        next[j] = reach[j - 1] && t[j - 1] == l;
                    }
                }
            }
            reach = next;
        }
        reach[t.len()]
    }

    /// Whether the pattern has no wildcard (matches one topic only).
    pub fn is_exact(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// The ordering key: a greater key is more specific. Exact first, then more literal
    /// segments, fewer `#`, fewer `*`, a later first wildcard (see the module docs); ties
    /// are broken by the pattern text by the callers.
    pub fn specificity(
        &self,
    ) -> (
        bool,
        usize,
        std::cmp::Reverse<usize>,
        std::cmp::Reverse<usize>,
        usize,
    ) {
        let count = |f: fn(&Segment) -> bool| self.segments.iter().filter(|s| f(s)).count();
        let literals = count(|s| matches!(s, Segment::Literal(_)));
        let hashes = count(|s| *s == Segment::Hash);
        let stars = count(|s| *s == Segment::Star);
        let first_wildcard = self
            .segments
            .iter()
            .position(|s| !matches!(s, Segment::Literal(_)))
            .unwrap_or(self.segments.len());
        (
            self.is_exact(),
            literals,
            std::cmp::Reverse(hashes),
            std::cmp::Reverse(stars),
            first_wildcard,
        )
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Of `patterns`, the most specific one that matches `topic` (see the module docs).
pub fn most_specific<'a, T>(
    topic: &str,
    patterns: impl IntoIterator<Item = &'a (TopicPattern, T)>,
) -> Option<&'a (TopicPattern, T)>
where
    T: 'a,
{
    patterns
        .into_iter()
        .filter(|(p, _)| p.matches(topic))
        .max_by(|(a, _), (b, _)| {
            a.specificity()
                .cmp(&b.specificity())
                // Tied: the smaller text wins (reversed, since max_by keeps the greatest).
                .then_with(|| b.as_str().cmp(a.as_str()))
        })
}

/// A compiled entity pattern: `*` matches any run of characters (dots included), every
/// other character itself.
#[derive(Debug, Clone)]
pub struct EntityPattern {
    text: String,
    parts: Vec<String>,
}

impl EntityPattern {
    /// Compiles `pattern`; `?`, `[`, `]`, `#`, an empty pattern and control characters are
    /// refused.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError::EmptyEntity);
        }
        if pattern.contains(['?', '[', ']', '#']) || pattern.chars().any(char::is_control) {
            return Err(PatternError::EntityCharacter(pattern.into()));
        }
        Ok(Self {
            text: pattern.to_string(),
            parts: pattern.split('*').map(str::to_string).collect(),
        })
    }

    /// An entity pattern matching exactly `name`.
    pub fn exact(name: &str) -> Self {
        Self {
            text: name.to_string(),
            parts: vec![name.to_string()],
        }
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let (first, rest) = self.parts.split_first().expect("split yields one part");
        if rest.is_empty() {
            return name == first;
        }
        let Some(mut remaining) = name.strip_prefix(first.as_str()) else {
            return false;
        };
        let (last, middle) = rest.split_last().expect("rest is not empty");
        for part in middle {
            match remaining.find(part.as_str()) {
                Some(at) => remaining = &remaining[at + part.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last.as_str())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_matching_agrees_with_the_general_one_on_every_small_case() {
        // Every pattern of up to 4 segments from {a, b, *, #} against every topic of up to
        // 5 segments from {a, b}, plus topics long enough for the general matcher.
        let pieces = ["a", "b", "*", "#"];
        let mut patterns = vec![String::new()];
        let mut all_patterns = Vec::new();
        for _ in 0..4 {
            patterns = patterns
                .iter()
                .flat_map(|p| {
                    pieces.iter().map(move |x| {
                        if p.is_empty() {
                            x.to_string()
                        } else {
                            format!("{p}.{x}")
                        }
                    })
                })
                .collect();
            all_patterns.extend(patterns.clone());
        }
        let mut topics = vec![String::new()];
        let mut all_topics = Vec::new();
        for _ in 0..5 {
            topics = topics
                .iter()
                .flat_map(|t| {
                    ["a", "b"].iter().map(move |x| {
                        if t.is_empty() {
                            x.to_string()
                        } else {
                            format!("{t}.{x}")
                        }
                    })
                })
                .collect();
            all_topics.extend(topics.clone());
        }
        for n in [62, 63, 64, 65, 100] {
            all_topics.push(vec!["a"; n].join("."));
            all_topics.push(format!("{}.b", vec!["a"; n - 1].join(".")));
        }
        for p in &all_patterns {
            let pattern = TopicPattern::new(p).unwrap();
            for t in &all_topics {
                assert_eq!(pattern.matches(t), pattern.matches_long(t), "{p} ~ {t}");
            }
        }
        assert!(
            TopicPattern::new("a.#")
                .unwrap()
                .matches(&vec!["a"; 100].join("."))
        );
        assert!(
            !TopicPattern::new("a.*")
                .unwrap()
                .matches(&vec!["a"; 100].join("."))
        );
        assert!(
            TopicPattern::new("#.b")
                .unwrap()
                .matches(&format!("{}.b", vec!["a"; 70].join(".")))
        );
    }

    #[test]
    fn topics_are_printable_ascii_without_white_space() {
        assert!(check_topic("org.example.prod.bodhi.update").is_ok());
        for bad in ["", "a b", "a\nb", "a\tb", "a\u{7f}", "caf\u{e9}", "a\r"] {
            assert!(check_topic(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rabbitmq_topic_semantics() {
        let p = |s: &str| TopicPattern::new(s).unwrap();
        assert!(p("org.example.prod.bodhi.*").matches("org.example.prod.bodhi.update"));
        assert!(!p("org.example.prod.bodhi.*").matches("org.example.prod.bodhi.update.comment"));
        assert!(!p("org.example.prod.bodhi.*").matches("org.example.prod.bodhi"));
        assert!(p("org.example.prod.bodhi.#").matches("org.example.prod.bodhi"));
        assert!(p("org.example.prod.bodhi.#").matches("org.example.prod.bodhi.update.comment"));
        assert!(!p("org.example.prod.bodhi.#").matches("org.example.prod.bodhix.update"));
        assert!(p("#").matches("anything.at.all"));
        assert!(p("*.b.#.d").matches("a.b.d") && p("*.b.#.d").matches("a.b.x.y.d"));
        assert!(!p("*.b.#.d").matches("b.d"));
        assert!(p("a.b").matches("a.b") && !p("a.b").matches("aXb"));
        // A newline can no longer slip through a wildcard.
        assert!(!p("org.#").matches("org.x\nevil"));
        assert!(!p("#").matches(""));
        for bad in ["bodhi*", "a.?", "a.[bc]", "a.b#", "", "a b"] {
            assert!(TopicPattern::new(bad).is_err(), "{bad:?}");
        }
        // Linear: a pathological pattern on a long topic answers at once.
        let long = vec!["a"; 2000].join(".");
        assert!(!p("#.#.#.#.#.#.#.#.#.b").matches(&long));
    }

    #[test]
    fn the_most_specific_pattern_decides() {
        let entries: Vec<(TopicPattern, u8)> = ["#", "a.#", "a.*.c", "a.b.c", "a.b.#", "*.b.c"]
            .iter()
            .enumerate()
            .map(|(i, s)| (TopicPattern::new(s).unwrap(), i as u8))
            .collect();
        let pick = |t: &str| most_specific(t, &entries).map(|(p, _)| p.as_str());
        assert_eq!(pick("a.b.c"), Some("a.b.c"));
        assert_eq!(pick("a.x.c"), Some("a.*.c"));
        assert_eq!(pick("a.b.x"), Some("a.b.#"));
        assert_eq!(pick("z.b.c"), Some("*.b.c"));
        assert_eq!(pick("z"), Some("#"));
        assert_eq!(pick("a"), Some("a.#"));
        // Same specificity: decided by the text, whatever the order.
        let mut tied: Vec<(TopicPattern, u8)> = vec![
            (TopicPattern::new("x.*").unwrap(), 0),
            (TopicPattern::new("*.y").unwrap(), 1),
        ];
        let first = most_specific("x.y", &tied).unwrap().1;
        tied.reverse();
        assert_eq!(most_specific("x.y", &tied).unwrap().1, first);
    }

    #[test]
    fn entity_patterns() {
        let p = |s: &str| EntityPattern::new(s).unwrap();
        assert!(p("bodhi-*").matches("bodhi-app01.example.org"));
        assert!(!p("bodhi-*").matches("fas-app01.example.org"));
        assert!(p("*-app01.example.org").matches("bodhi-app01.example.org"));
        assert!(p("compute-*.example.org").matches("compute-node07.example.org"));
        assert!(!p("compute-*.example.org").matches("compute-node07.example.net"));
        assert!(p("a*b*a").matches("aba") && !p("a*b*a").matches("ab"));
        assert!(p("exact.name").matches("exact.name") && !p("exact.name").matches("exactXname"));
        for bad in ["node0?", "node[12]", "a#", ""] {
            assert!(EntityPattern::new(bad).is_err(), "{bad:?}");
        }
    }
}
