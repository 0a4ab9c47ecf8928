//! Glob patterns for topics and entity names, with the semantics of Python's `fnmatch`
//! (which fedmsg's routing policies were written against): `*` matches any run of
//! characters, dots included, `?` one character, `[...]` a set; matching is exact-case.
//! Compiled to an anchored `regex` (hand-translated: the glob crates available match
//! paths, where `*` stops at `/` and character classes differ).

use regex::Regex;

/// A compiled glob.
#[derive(Debug, Clone)]
pub struct Glob {
    text: String,
    regex: Option<Regex>,
}

impl Glob {
    /// Compiles `pattern`. A pattern without `*`, `?` or `[` is an exact name.
    pub fn new(pattern: &str) -> Result<Self, String> {
        if !pattern.contains(['*', '?', '[']) {
            return Ok(Self {
                text: pattern.to_string(),
                regex: None,
            });
        }
        let mut re = String::from("^");
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                '[' => {
                    let mut class = String::new();
                    let mut closed = false;
                    if chars.peek() == Some(&'!') {
                        chars.next();
                        class.push('^');
                    }
                    for d in chars.by_ref() {
                        if d == ']' && !class.is_empty() && class != "^" {
                            closed = true;
                            break;
                        }
                        if d == '\\'
                            || d == '['
                            || d == '&'
                            || d == '~'
                            || d == '-' && class.is_empty()
                        {
                            class.push('\\');
                        }
                        class.push(d);
                    }
                    if !closed {
                        return Err(format!("unclosed '[' in pattern {pattern:?}"));
                    }
                    re.push('[');
                    re.push_str(&class);
                    re.push(']');
                }
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        let regex = Regex::new(&re).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        Ok(Self {
            text: pattern.to_string(),
            regex: Some(regex),
        })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match &self.regex {
            Some(r) => r.is_match(name),
            None => self.text == name,
        }
    }

    /// Whether this is an exact name (no wildcards).
    pub fn is_exact(&self) -> bool {
        self.regex.is_none()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Glob {
    /// An exact name, even if it contains wildcard characters.
    pub fn new_exact(name: &str) -> Self {
        Self {
            text: name.to_string(),
            regex: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_semantics() {
        let g = Glob::new("org.example.prod.bodhi.*").unwrap();
        assert!(g.matches("org.example.prod.bodhi.update.comment"));
        assert!(!g.matches("org.example.prod.bodhix.update"));
        assert!(!g.matches("org.example.prod.fas.user"));
        let g = Glob::new("bodhi-*").unwrap();
        assert!(g.matches("bodhi-app01.example.org"));
        assert!(!g.matches("fas-app01.example.org"));
        assert!(
            Glob::new("compute-node0?.example.org")
                .unwrap()
                .matches("compute-node07.example.org")
        );
        assert!(Glob::new("node[12].x").unwrap().matches("node2.x"));
        assert!(!Glob::new("node[!12].x").unwrap().matches("node2.x"));
        assert!(
            Glob::new("a.b").unwrap().matches("a.b") && !Glob::new("a.b").unwrap().matches("aXb")
        );
        assert!(Glob::new("broken[").is_err());
    }
}
