//! The `format`s kube-apiserver honours in CRD schemas, and how each one checks a value.
//!
//! Upstream strips every format it does not support before validating (apiextensions
//! `pkg/apiserver/validation/formats.go`): strings keep the formats of kube-openapi's `strfmt`
//! registry (names compared without dashes, so `date-time` is `datetime`), integers keep
//! `int32`/`int64`, numbers keep `float`/`double`. Anything else is ignored, as upstream.

use regex::Regex;
use std::net::Ipv6Addr;
use std::sync::LazyLock;

/// A format that takes part in validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `int32` on an integer.
    Int32,
    /// `int64` on an integer.
    Int64,
    /// `float` on a number.
    Float,
    /// `double` on a number.
    Double,
    /// A string format.
    Str(StrFormat),
}

/// The string formats of kube-openapi's registry that kube-apiserver keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum StrFormat {
    BsonObjectId,
    Uri,
    Email,
    Hostname,
    Ipv4,
    Ipv6,
    Cidr,
    Mac,
    Uuid,
    Uuid3,
    Uuid4,
    Uuid5,
    Isbn,
    Isbn10,
    Isbn13,
    CreditCard,
    Ssn,
    HexColor,
    RgbColor,
    Byte,
    Password,
    Date,
    Duration,
    DateTime,
    K8sShortName,
    K8sLongName,
}

/// The format validation uses for a schema of `type_` (`single_type`: the schema has exactly
/// one type, which int-or-string schemas do not) declaring `format`.
pub fn resolve(type_: &str, single_type: bool, format: &str) -> Option<Format> {
    if format.is_empty() {
        return None;
    }
    let t = if single_type { type_ } else { "" };
    match t {
        "" | "string" => string_format(format).map(Format::Str),
        "integer" => match format {
            "int32" => Some(Format::Int32),
            "int64" => Some(Format::Int64),
            _ => None,
        },
        "number" => match format {
            "float" => Some(Format::Float),
            "double" => Some(Format::Double),
            _ => None,
        },
        _ => None,
    }
}

fn string_format(format: &str) -> Option<StrFormat> {
    use StrFormat::*;
    Some(match format.replace('-', "").as_str() {
        "bsonobjectid" => BsonObjectId,
        "uri" => Uri,
        "email" => Email,
        "hostname" => Hostname,
        "ipv4" => Ipv4,
        "ipv6" => Ipv6,
        "cidr" => Cidr,
        "mac" => Mac,
        "uuid" => Uuid,
        "uuid3" => Uuid3,
        "uuid4" => Uuid4,
        "uuid5" => Uuid5,
        "isbn" => Isbn,
        "isbn10" => Isbn10,
        "isbn13" => Isbn13,
        "creditcard" => CreditCard,
        "ssn" => Ssn,
        "hexcolor" => HexColor,
        "rgbcolor" => RgbColor,
        "byte" => Byte,
        "password" => Password,
        "date" => Date,
        "duration" => Duration,
        "datetime" => DateTime,
        "k8sshortname" => K8sShortName,
        "k8slongname" => K8sLongName,
        _ => return None,
    })
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("built-in format pattern")
}

static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([-a-zA-Z0-9\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
    )
});
static UUID: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"));
static UUID3: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
});
static UUID4: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static UUID5: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static CREDIT_CARD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11}|6[27][0-9]{14})$",
    )
});
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$"));
static HEX_COLOR: LazyLock<Regex> = LazyLock::new(|| re(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGB_COLOR: LazyLock<Regex> = LazyLock::new(|| {
    let n = r"(0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])";
    re(&format!(
        r"^rgb\([ \t\n\f\r]*{n}[ \t\n\f\r]*,[ \t\n\f\r]*{n}[ \t\n\f\r]*,[ \t\n\f\r]*{n}[ \t\n\f\r]*\)$"
    ))
});
static BASE64: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
});
static TIME_OF_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
});
static SCALA_DURATION: LazyLock<Regex> = LazyLock::new(|| re(r"(([0-9]+)\s*([A-Za-zµ]+))"));
static SHORT_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
static LONG_NAME: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"));

impl StrFormat {
    /// Whether `s` is valid in this format, as kube-openapi's `strfmt` decides.
    pub fn validates(self, s: &str) -> bool {
        use StrFormat::*;
        match self {
            BsonObjectId => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
            Uri => is_request_uri(s),
            Email => is_email(s),
            Hostname => {
                HOSTNAME.is_match(s) && s.len() <= 255 && s.split('.').all(|p| p.len() <= 63)
            }
            Ipv4 => parse_ip_sloppy(s).is_some() && s.contains('.'),
            Ipv6 => s.contains(':') && s.parse::<Ipv6Addr>().is_ok(),
            Cidr => is_cidr_sloppy(s),
            Mac => is_mac(s),
            Uuid => UUID.is_match(s),
            Uuid3 => UUID3.is_match(s),
            Uuid4 => UUID4.is_match(s),
            Uuid5 => UUID5.is_match(s),
            Isbn => is_isbn10(s) || is_isbn13(s),
            Isbn10 => is_isbn10(s),
            Isbn13 => is_isbn13(s),
            CreditCard => is_credit_card(s),
            Ssn => s.len() == 11 && SSN.is_match(s),
            HexColor => HEX_COLOR.is_match(s),
            RgbColor => RGB_COLOR.is_match(s),
            Byte => BASE64.is_match(s),
            Password => true,
            Date => is_date(s),
            Duration => is_duration(s),
            DateTime => is_date_time(s),
            K8sShortName => s.len() <= 63 && SHORT_NAME.is_match(s),
            K8sLongName => s.len() <= 253 && LONG_NAME.is_match(s),
        }
    }
}

/// `net.ParseIP` with leading zeros allowed in IPv4 (`netutils.ParseIPSloppy`).
fn parse_ip_sloppy(s: &str) -> Option<()> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(|_| ());
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    for p in parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.parse::<u16>().ok()? > 255 {
            return None;
        }
    }
    Some(())
}

fn is_cidr_sloppy(s: &str) -> bool {
    let Some((ip, prefix)) = s.split_once('/') else {
        return false;
    };
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(bits) = prefix.parse::<u32>() else {
        return false;
    };
    if ip.contains(':') {
        ip.parse::<Ipv6Addr>().is_ok() && bits <= 128
    } else {
        parse_ip_sloppy(ip).is_some() && bits <= 32
    }
}

/// `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx…`, `xx-xx…` or `xxxx.xxxx…`.
fn is_mac(s: &str) -> bool {
    let hex2 = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit());
    let ok_len = |n: usize| n == 6 || n == 8 || n == 20;
    if s.len() < 14 {
        return false;
    }
    let b = s.as_bytes();
    if b[2] == b':' || b[2] == b'-' {
        let sep = b[2] as char;
        let parts: Vec<&str> = s.split(sep).collect();
        ok_len(parts.len()) && parts.iter().all(|p| hex2(p))
    } else if b[4] == b'.' {
        let parts: Vec<&str> = s.split('.').collect();
        ok_len(parts.len() * 2)
            && parts
                .iter()
                .all(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    } else {
        false
    }
}

fn isbn_digits(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    let b = d.as_bytes();
    if b.len() != 10
        || !b[..9].iter().all(u8::is_ascii_digit)
        || !(b[9].is_ascii_digit() || b[9] == b'X')
    {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in b.iter().enumerate().take(9) {
        sum += (i as u32 + 1) * u32::from(c - b'0');
    }
    let last = if b[9] == b'X' {
        10
    } else {
        u32::from(b[9] - b'0')
    };
    sum += 10 * last;
    sum.is_multiple_of(11)
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    let b = d.as_bytes();
    if b.len() != 13 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in b.iter().enumerate().take(12) {
        let f = if i % 2 == 0 { 1 } else { 3 };
        sum += f * u32::from(c - b'0');
    }
    (10 - sum % 10) % 10 == u32::from(b[12] - b'0')
}

fn is_credit_card(s: &str) -> bool {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !CREDIT_CARD.is_match(&digits) {
        return false;
    }
    // Luhn.
    let mut sum = 0u32;
    let mut double = false;
    for c in digits.bytes().rev() {
        let mut d = u32::from(c - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    sum.is_multiple_of(10)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// `time.Parse("2006-01-02", s)`.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let p = &s[r];
        p.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| p.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y as i32, m)
}

/// kube-openapi's `IsDateTime`.
pub fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    match TIME_OF_DAY.captures(parts[1]) {
        Some(c) => &c[1] <= "23" && &c[2] <= "59" && &c[3] <= "59",
        None => false,
    }
}

/// Go's `time.ParseDuration`, then kube-openapi's lenient "scala" syntax (`3 days`).
pub fn is_duration(s: &str) -> bool {
    go_parse_duration(s).is_some() || scala_duration(s)
}

fn scala_duration(s: &str) -> bool {
    const UNITS: &[&[&str]] = &[
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    for c in SCALA_DURATION.captures_iter(s) {
        if c[2].parse::<i64>().is_err() {
            return false;
        }
        let unit = c[3].trim().to_lowercase();
        for variants in UNITS {
            let last = variants.len() - 1;
            for (i, v) in variants.iter().enumerate() {
                if (i == last && unit.starts_with(v)) || unit.eq_ignore_ascii_case(v) {
                    return true;
                }
            }
        }
    }
    false
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn go_parse_duration(s: &str) -> Option<i128> {
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        let v: f64 = num.parse().ok()?;
        total += v * mult;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    Some(if neg { -(total as i128) } else { total as i128 })
}

/// Go's `url.ParseRequestURI` accepting `s` (govalidator's `IsRequestURI`).
fn is_request_uri(s: &str) -> bool {
    if s.is_empty() || s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    if !valid_escapes(s) {
        return false;
    }
    if s.starts_with('/') {
        return true;
    }
    // A scheme: a letter, then letters, digits, '+', '-', '.', up to ':'.
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return false;
    }
    let rest = &s[colon + 1..];
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let authority = &after[..end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.starts_with('[') {
            return host.find(']').is_some_and(|i| {
                let tail = &host[i + 1..];
                tail.is_empty()
                    || tail
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
            });
        }
        let (h, port) = host.rsplit_once(':').unwrap_or((host, ""));
        return port.bytes().all(|b| b.is_ascii_digit())
            && h.chars()
                .all(|c| c.is_alphanumeric() || "-_.~!$&'()*+,;=%\"<>".contains(c));
    }
    true
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// An approximation of Go's `net/mail.ParseAddress`: `local@domain` or `Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => return false,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        true
    } else {
        !local.is_empty()
            && local
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(atext))
    };
    let domain_ok = if domain.starts_with('[') && domain.ends_with(']') {
        true
    } else {
        !domain.is_empty()
            && domain
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(atext))
    };
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::StrFormat::*;
    use super::*;

    #[test]
    fn formats_as_kube_openapi() {
        let cases: &[(StrFormat, &[&str], &[&str])] = &[
            (
                Uri,
                &["http://example.com/a?b=c", "/x", "mailto:a@b.c"],
                &["", "example.com", "http://a b.com/", "%zz"],
            ),
            (
                Email,
                &["a@b.com", "Ann <ann@x.org>"],
                &["a", "@b.com", "a@"],
            ),
            // kube-openapi's own test vectors: a single-label name takes at most one dash.
            (
                Hostname,
                &[
                    "somewhere.com",
                    "888.com",
                    "x-y",
                    "xn--bcher-kva.example.com",
                    "☁→❄→☃→☀→☺→☂→☹→✝.ws",
                    "ex$ample",
                    "localhost",
                ],
                &[
                    "somewhere.com!",
                    "1.1.1.1",
                    "www.example-.org",
                    "-www",
                    "_www.example.org",
                    "www.詹姆斯.x",
                    "a.b.c.d",
                    "my-host",
                ],
            ),
            (
                Ipv4,
                &["1.2.3.4", "010.1.1.1"],
                &["1.2.3", "256.1.1.1", "::1"],
            ),
            (
                Ipv6,
                &["::1", "fe80::1", "::ffff:1.2.3.4"],
                &["1.2.3.4", "fe80::zz"],
            ),
            (
                Cidr,
                &["10.0.0.0/8", "fd00::/64"],
                &["10.0.0.0", "10.0.0.0/33", "::/129"],
            ),
            (
                Mac,
                &["00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e"],
                &["00:1a:2b:3c:4d", "zz:1a:2b:3c:4d:5e"],
            ),
            (
                Uuid,
                &[
                    "123e4567-e89b-12d3-a456-426614174000",
                    "123E4567E89B12D3A456426614174000",
                ],
                &["123e4567"],
            ),
            (
                Uuid4,
                &["123e4567-e89b-42d3-a456-426614174000"],
                &["123e4567-e89b-12d3-a456-426614174000"],
            ),
            (Isbn10, &["0321751043"], &["0321751044"]),
            (Isbn13, &["978-0321751041"], &["978-0321751042"]),
            (
                CreditCard,
                &["4111 1111 1111 1111"],
                &["4111 1111 1111 1112"],
            ),
            (Ssn, &["123-45-6789"], &["123456789", "12-345-6789"]),
            (HexColor, &["#fff", "A0B1C2"], &["#ffff"]),
            (RgbColor, &["rgb(255, 0, 10)"], &["rgb(256,0,0)"]),
            (Byte, &["aGVsbG8=", "YWJj"], &["aGVsbG8", "!!!!"]),
            (
                Date,
                &["2024-02-29", "2023-12-31"],
                &["2023-02-29", "2023-1-01", "2023-13-01"],
            ),
            (
                DateTime,
                &["2024-01-02T03:04:05Z", "2024-01-02t03:04:05.123+01:00"],
                &["2024-01-02", "2024-01-02T25:00:00Z", "2024-01-02T03:04:05"],
            ),
            (
                Duration,
                &["1h30m", "0", "-1.5s", "3 days", "5 minutes"],
                &["", "1x", "abc"],
            ),
            (K8sShortName, &["a-b"], &["a-", "A"]),
            (K8sLongName, &["a.b-c"], &["a.-"]),
            (
                BsonObjectId,
                &["507f1f77bcf86cd799439011"],
                &["507f1f77bcf86cd79943901"],
            ),
        ];
        for (f, good, bad) in cases {
            for s in *good {
                assert!(f.validates(s), "{f:?} should accept {s:?}");
            }
            for s in *bad {
                assert!(!f.validates(s), "{f:?} should reject {s:?}");
            }
        }
    }

    #[test]
    fn resolves_like_upstream() {
        assert_eq!(
            resolve("string", true, "date-time"),
            Some(Format::Str(DateTime))
        );
        assert_eq!(resolve("string", true, "int32"), None);
        assert_eq!(resolve("integer", true, "int32"), Some(Format::Int32));
        assert_eq!(resolve("integer", true, "date"), None);
        assert_eq!(resolve("number", true, "double"), Some(Format::Double));
        assert_eq!(resolve("object", true, "uri"), None);
        // int-or-string schemas have two types: string formats apply.
        assert_eq!(resolve("", false, "uri"), Some(Format::Str(Uri)));
    }
}
