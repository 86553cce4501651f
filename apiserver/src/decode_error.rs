//! The words of upstream's body-decoding errors: Go's `encoding/json` syntax errors (which
//! kube-apiserver reports while looking for a body's apiVersion and kind), the body
//! summary of `transformDecodeError`, and the scheme's errors for kinds and versions
//! a resource cannot be decoded from.

/// Go's `quoteChar`: `'x'`, `'\''`, `'"'`, `'\n'`, `'\x01'`.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        b'\\' => "'\\\\'".into(),
        b'\n' => "'\\n'".into(),
        b'\r' => "'\\r'".into(),
        b'\t' => "'\\t'".into(),
        0x07 => "'\\a'".into(),
        0x08 => "'\\b'".into(),
        0x0c => "'\\f'".into(),
        0x0b => "'\\v'".into(),
        c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
        c if c < 0x80 => format!("'{}'", c as char),
        // Not valid UTF-8 on its own: Go prints the replacement character.
        _ => "'\u{fffd}'".into(),
    }
}

struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
}

const EOF: &str = "unexpected end of JSON input";

impl Scanner<'_> {
    fn invalid(&self, context: &str) -> String {
        format!("invalid character {} {context}", quote_char(self.data[self.pos]))
    }

    fn skip_space(&mut self) {
        while self.pos < self.data.len() && matches!(self.data[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Result<u8, String> {
        self.data.get(self.pos).copied().ok_or_else(|| EOF.to_string())
    }

    fn value(&mut self) -> Result<(), String> {
        self.skip_space();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn object(&mut self) -> Result<(), String> {
        self.pos += 1;
        self.skip_space();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_space();
            if self.peek()? != b'"' {
                return Err(self.invalid("looking for beginning of object key string"));
            }
            self.string()?;
            self.skip_space();
            if self.peek()? != b':' {
                return Err(self.invalid("after object key"));
            }
            self.pos += 1;
            self.value()?;
            self.skip_space();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.invalid("after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<(), String> {
        self.pos += 1;
        self.skip_space();
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.skip_space();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.invalid("after array element")),
            }
        }
    }

    fn string(&mut self) -> Result<(), String> {
        self.pos += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            self.pos += 1;
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return Err(self.invalid("in \\u hexadecimal character escape"));
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(self.invalid("in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.invalid("in string literal")),
                _ => self.pos += 1,
            }
        }
    }

    fn digits(&mut self) {
        while self.pos < self.data.len() && self.data[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
    }

    fn number(&mut self) -> Result<(), String> {
        if self.data[self.pos] == b'-' {
            self.pos += 1;
            if !self.peek()?.is_ascii_digit() {
                return Err(self.invalid("in numeric literal"));
            }
        }
        if self.data[self.pos] == b'0' {
            self.pos += 1;
        } else {
            self.digits();
        }
        if self.pos < self.data.len() && self.data[self.pos] == b'.' {
            self.pos += 1;
            if !self.peek()?.is_ascii_digit() {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
            self.digits();
        }
        if self.pos < self.data.len() && matches!(self.data[self.pos], b'e' | b'E') {
            self.pos += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.pos += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return Err(self.invalid("in exponent of numeric literal"));
            }
            self.digits();
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        let name = std::str::from_utf8(word).unwrap_or_default();
        self.pos += 1;
        for &want in &word[1..] {
            if self.peek()? != want {
                return Err(self.invalid(&format!("in literal {name} (expecting {})", quote_char(want))));
            }
            self.pos += 1;
        }
        Ok(())
    }
}

/// What Go's `json.Unmarshal` of `data` into the apiVersion/kind struct reports, if it
/// fails: a syntax error, or a top-level value that is not an object.
pub fn go_json_error(data: &[u8]) -> Option<String> {
    let mut s = Scanner { data, pos: 0 };
    if let Err(e) = s.value() {
        return Some(e);
    }
    s.skip_space();
    if s.pos < data.len() {
        return Some(s.invalid("after top-level value"));
    }
    let mut t = Scanner { data, pos: 0 };
    t.skip_space();
    let kind = match data[t.pos] {
        b'[' => "array",
        b'"' => "string",
        b't' | b'f' => "bool",
        b'n' | b'{' => return None,
        _ => "number",
    };
    Some(format!(
        "json: cannot unmarshal {kind} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}"
    ))
}

/// Upstream's `summarizeData(body, 30)`.
pub fn summarize(data: &[u8]) -> String {
    const MAX: usize = 30;
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    match data.first() {
        None => "<empty>".into(),
        Some(b'{') if data.len() > MAX => format!("{} ...", String::from_utf8_lossy(&data[..MAX])),
        Some(b'{') => String::from_utf8_lossy(data).into_owned(),
        Some(_) if data.len() > MAX => format!("{} ...", hex(&data[..MAX])),
        Some(_) => hex(data),
    }
}

/// `the object provided is unrecognized (must be of type <kind>): <err> (<summary>)`.
pub fn unrecognized(kind: &str, err: &str, body: &[u8]) -> String {
    format!("the object provided is unrecognized (must be of type {kind}): {err} ({})", summarize(body))
}

/// The name of the internal package of an API group (`core`, `apps`, `rbac`, ...).
pub fn internal_package(group: &str) -> &str {
    if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) }
}

/// The legacy scheme's name in its errors.
pub const SCHEME: &str = "pkg/api/legacyscheme/scheme.go:30";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_syntax_errors() {
        let cases: &[(&str, &str)] = &[
            (r#"{"a":1"#, "unexpected end of JSON input"),
            ("", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            (r#"{"a" 1}"#, "invalid character '1' after object key"),
            (r#"{"a":1 "b":2}"#, "invalid character '\"' after object key:value pair"),
            (r#"{a:1}"#, "invalid character 'a' looking for beginning of object key string"),
            ("[1 2]", "invalid character '2' after array element"),
            (r#"{"a":tru}"#, "invalid character '}' in literal true (expecting 'e')"),
            (r#"{"a":01}"#, "invalid character '1' after object key:value pair"),
            (r#"{"a":1.}"#, "invalid character '}' after decimal point in numeric literal"),
            ("{\"a\":\"\n\"}", "invalid character '\\n' in string literal"),
            ("{} x", "invalid character 'x' after top-level value"),
            (r#"{"a":"\q"}"#, "invalid character 'q' in string escape code"),
        ];
        for (input, want) in cases {
            assert_eq!(go_json_error(input.as_bytes()).as_deref(), Some(*want), "{input:?}");
        }
        assert_eq!(go_json_error(br#" {"a": [1, -2.5e+3, true, null, "\u00e9"]} "#), None);
        assert!(
            go_json_error(b"[1]").unwrap().starts_with("json: cannot unmarshal array into Go value of type struct")
        );
        assert_eq!(summarize(b""), "<empty>");
        assert_eq!(summarize(br#"{"apiVersion":"v1","kind":"ConfigMap"}"#), r#"{"apiVersion":"v1","kind":"Con ..."#);
        assert_eq!(summarize(b"a: b"), "613a2062");
    }
}
