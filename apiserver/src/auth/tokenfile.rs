//! `--token-auth-file`: upstream's static token CSV, `token,user,uid,"group1,group2"`.

use std::collections::HashMap;

use super::UserInfo;

/// Parses the file's text; errors carry upstream's wording.
pub fn parse(path: &str, text: &str) -> Result<HashMap<String, UserInfo>, String> {
    let mut tokens = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = split_csv(line).map_err(|e| format!("token file '{path}' line {}: {e}", n + 1))?;
        if record.len() < 3 {
            return Err(format!(
                "token file '{path}' must have at least 3 columns (token, user name, user uid), found {}",
                record.len()
            ));
        }
        let token = record[0].trim().to_string();
        if token.is_empty() {
            tracing::warn!(path, line = n + 1, "empty token in the token file, skipping");
            continue;
        }
        let groups = record
            .get(3)
            .map(|g| g.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        let user = UserInfo { name: record[1].clone(), uid: record[2].clone(), groups, ..Default::default() };
        if tokens.insert(token, user).is_some() {
            tracing::warn!(path, line = n + 1, "duplicate token in the token file, the last one wins");
        }
    }
    Ok(tokens)
}

/// One CSV record (RFC 4180 quoting, as Go's encoding/csv reads it).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => {
                quoted = false;
                if chars.peek().is_some_and(|c| *c != ',') {
                    return Err("extraneous or missing \" in quoted-field".into());
                }
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            (_, c) => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("extraneous or missing \" in quoted-field".into());
    }
    fields.push(cur);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_format() {
        let t = parse("f", "abc,alice,u1,\"devs,ops\"\n\nxyz,bob,u2\n").unwrap();
        assert_eq!(t["abc"].name, "alice");
        assert_eq!(t["abc"].uid, "u1");
        assert_eq!(t["abc"].groups, ["devs", "ops"]);
        assert!(t["xyz"].groups.is_empty());
        assert_eq!(
            parse("f", "abc,alice\n").unwrap_err(),
            "token file 'f' must have at least 3 columns (token, user name, user uid), found 2"
        );
        assert!(parse("f", "a,\"b,c\n").is_err());
    }
}
