//! Label selectors in apimachinery's string syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
//! `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`, comma-separated (all must hold).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Op,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

/// Splits on commas outside parentheses.
fn split_terms(s: &str) -> Result<Vec<&str>, String> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unexpected ')'".into());
                }
            }
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed '('".into());
    }
    out.push(&s[start..]);
    Ok(out)
}

fn valid_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    name_ok && prefix.is_none_or(|p| crate::registry::dns1123_subdomain(p).is_empty())
}

fn valid_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric())
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("found '{}', expected: '('", rest.trim()))?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if let Some(bad) = vals.iter().find(|v| !valid_value(v)) {
        return Err(format!("invalid label value: {bad:?}"));
    }
    Ok(vals)
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector { reqs });
        }
        for term in split_terms(s)? {
            let t = term.trim();
            let (key, op) = if let Some(k) = t.strip_prefix('!') {
                (k.trim(), Op::DoesNotExist)
            } else if let Some((k, v)) = t.split_once("!=") {
                (k.trim(), Op::NotIn(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = t.split_once("==") {
                (k.trim(), Op::In(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = t.split_once('=') {
                (k.trim(), Op::In(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = t.split_once('>') {
                (
                    k.trim(),
                    Op::Gt(
                        v.trim()
                            .parse()
                            .map_err(|_| format!("for 'Gt', 'Lt' operators, the value must be an integer: {v:?}"))?,
                    ),
                )
            } else if let Some((k, v)) = t.split_once('<') {
                (
                    k.trim(),
                    Op::Lt(
                        v.trim()
                            .parse()
                            .map_err(|_| format!("for 'Gt', 'Lt' operators, the value must be an integer: {v:?}"))?,
                    ),
                )
            } else if let Some((k, rest)) = t.split_once(" notin ") {
                (k.trim(), Op::NotIn(parse_set(rest)?))
            } else if let Some((k, rest)) = t.split_once(" in ") {
                (k.trim(), Op::In(parse_set(rest)?))
            } else {
                (t, Op::Exists)
            };
            if !valid_key(key) {
                return Err(format!("invalid label key {key:?}"));
            }
            if let Op::In(v) | Op::NotIn(v) = &op
                && let Some(bad) = v.iter().find(|v| !valid_value(v))
            {
                return Err(format!("invalid label value: {bad:?}"));
            }
            reqs.push(Requirement { key: key.to_string(), op });
        }
        Ok(LabelSelector { reqs })
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj["metadata"]["labels"].as_object();
        self.matches_labels(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    /// Whether labels read through `label` (a key's string value) satisfy every requirement.
    pub fn matches_labels<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.reqs.iter().all(|r| {
            let v = label(&r.key);
            match &r.op {
                Op::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::NotIn(set) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Gt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|x| x > *n),
                Op::Lt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|x| x < *n),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_table() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front", "n": "3"}}});
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app=db", false),
            ("app in (web, db)", true),
            ("app notin (web,db)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("missing!=x", true),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("n>2", true),
            ("n<2", false),
            ("example.com/x", false),
        ];
        for (s, want) in cases {
            let sel = LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(sel.matches(&obj), want, "{s}");
        }
        for bad in ["app in (web", "a b=c", "x=-bad-", "n>x"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
