//! The string formats upstream validates in custom objects (apiextensions' supported list; other
//! formats are stripped from the schema before validation and never checked), with the checks of
//! go-openapi's `strfmt` registry.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use base64::Engine;
use regex::Regex;

/// apiextensions' supported formats, as `strfmt` normalizes names (dashes removed: `date-time`).
const SUPPORTED: [&str; 24] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

fn normalize(format: &str) -> String {
    format.replace('-', "")
}

/// Whether upstream validates this format (unsupported ones are ignored).
pub(super) fn supported(format: &str) -> bool {
    !format.is_empty() && SUPPORTED.contains(&normalize(format).as_str())
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static format regex compiles")
}

static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
    )
});
static UUID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID3: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID4: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"));
static UUID5: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"));
static CREDITCARD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$",
    )
});
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$"));
static HEXCOLOR: LazyLock<Regex> = LazyLock::new(|| re(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGBCOLOR: LazyLock<Regex> = LazyLock::new(|| {
    let n = r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*";
    re(&format!(r"^rgb\({n},{n},{n}\)$"))
});
static DATETIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(:(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$"));
static DATE: LazyLock<Regex> = LazyLock::new(|| re(r"^(\d{4})-(\d{2})-(\d{2})$"));
static GO_DURATION: LazyLock<Regex> = LazyLock::new(|| re(r"^[-+]?(((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+|0)$"));
static HUMAN_DURATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\s*(\d+)\s*(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|sec|secs|seconds?|min|mins|minutes?|hr|hrs|hours?|days?|wk|weeks?)\s*$",
    )
});

/// Whether `text` is valid in `format` (which must be [`supported`]).
pub(super) fn validates(format: &str, text: &str) -> bool {
    match normalize(format).as_str() {
        "bsonobjectid" => text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => uri(text),
        "email" => email(text),
        "hostname" => text.len() <= 255 && HOSTNAME.is_match(text),
        "ipv4" => text.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => text.contains(':') && text.parse::<Ipv6Addr>().is_ok(),
        "cidr" => cidr(text),
        "mac" => mac(text),
        "uuid" => UUID.is_match(text),
        "uuid3" => UUID3.is_match(text),
        "uuid4" => UUID4.is_match(text),
        "uuid5" => UUID5.is_match(text),
        "isbn" => isbn10(text) || isbn13(text),
        "isbn10" => isbn10(text),
        "isbn13" => isbn13(text),
        "creditcard" => {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            CREDITCARD.is_match(&digits)
        }
        "ssn" => SSN.is_match(text),
        "hexcolor" => HEXCOLOR.is_match(text),
        "rgbcolor" => RGBCOLOR.is_match(text),
        "byte" => base64::engine::general_purpose::STANDARD.decode(text).is_ok(),
        "password" => true,
        "date" => DATE.captures(text).is_some_and(|c| valid_date(&c[1], &c[2], &c[3])),
        "duration" => GO_DURATION.is_match(text) || HUMAN_DURATION.is_match(text),
        "datetime" => DATETIME.captures(text).is_some_and(|c| {
            valid_date(&c[1], &c[2], &c[3])
                && c[4].parse::<u32>().is_ok_and(|h| h < 24)
                && c[5].parse::<u32>().is_ok_and(|m| m < 60)
                && c.get(7).is_none_or(|s| s.as_str().parse::<u32>().is_ok_and(|s| s < 60))
        }),
        _ => true,
    }
}

fn valid_date(y: &str, m: &str, d: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Go's `url.ParseRequestURI`: an absolute URI, or an absolute path.
fn uri(text: &str) -> bool {
    if text.is_empty() || text.chars().any(|c| c.is_control() || c == ' ') {
        return false;
    }
    if text.starts_with('/') {
        return true;
    }
    let Some((scheme, rest)) = text.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
}

/// Go's `mail.ParseAddress`, approximately: `local@domain`, optionally as `Name <local@domain>`.
fn email(text: &str) -> bool {
    let addr = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(i), Some(inner)) => &inner[i + 1..],
        _ => text,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !addr.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn cidr(text: &str) -> bool {
    let Some((ip, prefix)) = text.split_once('/') else { return false };
    let Ok(prefix) = prefix.parse::<u8>() else { return false };
    if ip.parse::<Ipv4Addr>().is_ok() { prefix <= 32 } else { ip.parse::<Ipv6Addr>().is_ok() && prefix <= 128 }
}

/// Go's `net.ParseMAC`: 6, 8 or 20 octets, separated by `:` or `-`, or as dotted groups of four hex digits.
fn mac(text: &str) -> bool {
    let octets = |sep: char| -> Option<usize> {
        let parts: Vec<&str> = text.split(sep).collect();
        parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())).then_some(parts.len())
    };
    let n = if text.contains(':') {
        octets(':')
    } else if text.contains('-') {
        octets('-')
    } else if text.contains('.') {
        let parts: Vec<&str> = text.split('.').collect();
        parts.iter().all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit())).then_some(parts.len() * 2)
    } else {
        None
    };
    matches!(n, Some(6 | 8 | 20))
}

fn isbn_digits(text: &str) -> Vec<char> {
    text.chars().filter(|c| *c != '-' && *c != ' ').collect()
}

fn isbn10(text: &str) -> bool {
    let d = isbn_digits(text);
    if d.len() != 10 || !d[..9].iter().all(char::is_ascii_digit) || !(d[9].is_ascii_digit() || d[9] == 'X') {
        return false;
    }
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u32 + 1) * if *c == 'X' { 10 } else { c.to_digit(10).unwrap_or(0) })
        .sum();
    sum.is_multiple_of(11)
}

fn isbn13(text: &str) -> bool {
    let d = isbn_digits(text);
    if d.len() != 13 || !d.iter().all(char::is_ascii_digit) {
        return false;
    }
    let sum: u32 =
        d.iter().enumerate().map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 }).sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let cases = [
            ("date-time", "2024-01-02T03:04:05Z", true),
            ("date-time", "2024-01-02T03:04:05.123+02:00", true),
            ("date-time", "2024-13-02T03:04:05Z", false),
            ("date-time", "yesterday", false),
            ("date", "2024-02-29", true),
            ("date", "2023-02-29", false),
            ("email", "a@example.com", true),
            ("email", "abc", false),
            ("ipv4", "10.0.0.1", true),
            ("ipv4", "10.0.0", false),
            ("ipv6", "::1", true),
            ("cidr", "10.0.0.0/8", true),
            ("cidr", "10.0.0.0/33", false),
            ("uuid", "123e4567-e89b-12d3-a456-426614174000", true),
            ("uuid", "nope", false),
            ("hostname", "my-host.example.com", true),
            ("hostname", "-bad", false),
            ("byte", "aGVsbG8=", true),
            ("byte", "%%%", false),
            ("duration", "1h30m", true),
            ("duration", "3 days", true),
            ("duration", "soon", false),
            ("mac", "01:23:45:67:89:ab", true),
            ("mac", "01:23:45", false),
            ("uri", "https://example.com/x", true),
            ("uri", "example", false),
            ("isbn10", "0321751043", true),
            ("isbn13", "978-0321751041", true),
            ("hexcolor", "#FFF", true),
            ("rgbcolor", "rgb(255, 255, 0)", true),
            ("ssn", "111-11-1111", true),
        ];
        for (f, text, ok) in cases {
            assert!(supported(f), "{f}");
            assert_eq!(validates(f, text), ok, "{f} {text}");
        }
        assert!(!supported("int32"));
        assert!(!supported("k8s-unknown"));
    }
}
