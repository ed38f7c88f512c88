//! `ssl.principal.mapping.rules` (KIP-371): a comma-separated list of `DEFAULT` and
//! `RULE:pattern/replacement/[LU]` tried in order on a client certificate's distinguished name;
//! the first rule whose pattern matches the whole name gives the principal name (`$1` … refer to
//! the pattern's groups; `L` / `U` lower- or upper-case the result); `DEFAULT` is the name
//! itself. No rule matching is an error (the connection is refused), as in Kafka. Patterns are
//! Rust `regex` syntax, which covers Java's except look-around and backreferences.

use regex::Regex;

/// One parsed rule.
#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        replacement: String,
        case: Option<char>,
    },
}

/// Parsed mapping rules.
#[derive(Debug, Clone)]
pub struct PrincipalRules(Vec<Rule>);

impl Default for PrincipalRules {
    /// `DEFAULT`: the distinguished name itself.
    fn default() -> Self {
        PrincipalRules(vec![Rule::Default])
    }
}

impl PrincipalRules {
    /// Parse the config value (empty means `DEFAULT`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                let (pattern, after) =
                    split_unescaped(after).ok_or("a RULE needs RULE:pattern/replacement/[LU]")?;
                let (replacement, after) =
                    split_unescaped(after).ok_or("a RULE needs RULE:pattern/replacement/[LU]")?;
                let (case, after) = match after.chars().next() {
                    Some(c @ ('L' | 'U')) => (Some(c), &after[1..]),
                    _ => (None, after),
                };
                let pattern = Regex::new(&format!("^(?:{})$", pattern.replace("\\/", "/")))
                    .map_err(|e| format!("bad pattern {pattern:?}: {e}"))?;
                rules.push(Rule::Replace {
                    pattern,
                    replacement: replacement.replace("\\/", "/"),
                    case,
                });
                rest = after;
            } else {
                return Err(format!("expected DEFAULT or RULE: at {rest:?}"));
            }
            rest = rest.trim_start();
            match rest.strip_prefix(',') {
                Some(after) => rest = after.trim_start(),
                None if rest.is_empty() => {}
                None => return Err(format!("expected ',' at {rest:?}")),
            }
        }
        if rules.is_empty() {
            return Ok(PrincipalRules::default());
        }
        Ok(PrincipalRules(rules))
    }

    /// The principal name for `dn`, or None when no rule matches.
    pub fn apply(&self, dn: &str) -> Option<String> {
        for rule in &self.0 {
            match rule {
                Rule::Default => return Some(dn.to_string()),
                Rule::Replace {
                    pattern,
                    replacement,
                    case,
                } => {
                    if let Some(caps) = pattern.captures(dn) {
                        let mut out = String::new();
                        caps.expand(replacement, &mut out);
                        return Some(match case {
                            Some('L') => out.to_lowercase(),
                            Some('U') => out.to_uppercase(),
                            _ => out,
                        });
                    }
                }
            }
        }
        None
    }
}

/// `abc/def` → (`abc`, `def`), where `\/` does not split.
fn split_unescaped(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'/' => return Some((&s[..i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_map_in_order_like_kafka() {
        let r = PrincipalRules::parse(
            r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/, RULE:^CN=(.*?),O=(.*?),C=US$/$1@$2/L, DEFAULT",
        )
        .unwrap();
        assert_eq!(
            r.apply("CN=kafka,OU=ServiceUsers,O=Org").as_deref(),
            Some("kafka")
        );
        assert_eq!(
            r.apply("CN=Alice,O=Weir Test,C=US").as_deref(),
            Some("alice@weir test")
        );
        assert_eq!(
            r.apply("CN=bob,O=X,C=DE").as_deref(),
            Some("CN=bob,O=X,C=DE")
        );
        let only = PrincipalRules::parse(r"RULE:^CN=([^,]*).*$/$1/U").unwrap();
        assert_eq!(only.apply("CN=eve,O=Y").as_deref(), Some("EVE"));
        assert_eq!(only.apply("O=Y"), None);
        assert!(PrincipalRules::parse("").unwrap().apply("x").is_some());
        for bad in ["RULE:abc", "RULE:(/x/", "NOPE", "DEFAULT DEFAULT"] {
            assert!(PrincipalRules::parse(bad).is_err(), "{bad}");
        }
        let slash = PrincipalRules::parse(r"RULE:^CN=a\/b$/ab\/c/").unwrap();
        assert_eq!(slash.apply("CN=a/b").as_deref(), Some("ab/c"));
    }
}
