//! Resource quantities (`100m`, `1Gi`, `2`), as apimachinery's `resource.Quantity`: parsed
//! exactly (in billionths; finer fractions round up, as upstream rounds up), added, subtracted
//! and compared by value, and printed in upstream's canonical form (`Quantity.String()`), in the
//! format the quantity was written in: decimal SI (`600m`, `2`, `2k`), binary SI (`256Mi`,
//! `1536Mi`, `1Gi`; amounts under 1024 or with a fraction fall back to decimal SI) or decimal
//! exponent (`1e3`). Sums keep the format of their first operand unless it is zero, as
//! `Quantity.Add` does, which is how quota usage keeps `Mi` for memory and `m` for cpu.

use std::cmp::Ordering;
use std::fmt;

/// Billionths in one unit.
const NANO: i128 = 1_000_000_000;

/// How a quantity prints (apimachinery's `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Powers of ten with SI suffixes (`m`, `k`, `M`…), and plain numbers.
    #[default]
    DecimalSI,
    /// Powers of two with IEC suffixes (`Ki`, `Mi`, `Gi`…).
    BinarySI,
    /// Powers of ten written as exponents (`1e3`).
    DecimalExponent,
}

/// An amount of a resource: its value in billionths and the format it prints in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Quantity {
    /// Zero, printed in `format` once something is added to it.
    pub fn zero(format: Format) -> Self {
        Quantity { nanos: 0, format }
    }

    /// `n` units (an object count) in decimal SI.
    pub fn count(n: i64) -> Self {
        Quantity {
            nanos: i128::from(n) * NANO,
            format: Format::DecimalSI,
        }
    }

    /// Parses a quantity as a client writes it; None when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        parse(s)
    }

    /// The value in billionths.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format it prints in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value in thousandths, rounded up (`Quantity.MilliValue`).
    pub fn milli_value(&self) -> i128 {
        ceil_div(self.nanos, NANO / 1000)
    }

    /// The value in units, rounded up (`Quantity.Value`).
    pub fn value(&self) -> i128 {
        ceil_div(self.nanos, NANO)
    }

    /// `self + other`, in `self`'s format (`other`'s when `self` is zero), as `Quantity.Add`.
    pub fn add(&self, other: &Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// `self - other`, in `self`'s format (`other`'s when `self` is zero), as `Quantity.Sub`.
    pub fn sub(&self, other: &Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }
}

fn ceil_div(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d > 0 { q + 1 } else { q }
}

/// A resource quantity in billionths (`100m` is 10^8, `1Ki` is 1024·10^9), or `None` when it
/// does not parse. Fractions below a billionth are rounded up, as upstream rounds up.
pub(crate) fn parse_quantity(s: &str) -> Option<i128> {
    parse(s).map(|q| q.nanos)
}

fn parse(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    // The value is mantissa · 2^binary · 10^decimal.
    let (binary, decimal, format): (u32, i32, Format) = match suffix {
        "" => (0, 0, Format::DecimalSI),
        "n" => (0, -9, Format::DecimalSI),
        "u" => (0, -6, Format::DecimalSI),
        "m" => (0, -3, Format::DecimalSI),
        "k" => (0, 3, Format::DecimalSI),
        "M" => (0, 6, Format::DecimalSI),
        "G" => (0, 9, Format::DecimalSI),
        "T" => (0, 12, Format::DecimalSI),
        "P" => (0, 15, Format::DecimalSI),
        "E" => (0, 18, Format::DecimalSI),
        "Ki" => (10, 0, Format::BinarySI),
        "Mi" => (20, 0, Format::BinarySI),
        "Gi" => (30, 0, Format::BinarySI),
        "Ti" => (40, 0, Format::BinarySI),
        "Pi" => (50, 0, Format::BinarySI),
        "Ei" => (60, 0, Format::BinarySI),
        e if e.starts_with(['e', 'E']) => (0, e[1..].parse().ok()?, Format::DecimalExponent),
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    // In billionths: shift by 9 plus the decimal exponent, minus the fraction's digits.
    let mut shift = 9 + decimal - i32::try_from(fraction.len()).ok()?;
    mantissa = mantissa.checked_mul(1i128.checked_shl(binary)?)?;
    while shift > 0 {
        mantissa = mantissa.checked_mul(10)?;
        shift -= 1;
    }
    let mut rounded_up = false;
    while shift < 0 {
        rounded_up |= mantissa % 10 != 0;
        mantissa /= 10;
        shift += 1;
    }
    if rounded_up {
        mantissa += 1;
    }
    Some(Quantity {
        nanos: if negative { -mantissa } else { mantissa },
        format,
    })
}

impl fmt::Display for Quantity {
    /// Upstream's canonical form: the largest suffix that keeps the number whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        // Binary SI only for whole amounts from 1024 up; the rest prints as decimal SI.
        if self.format == Format::BinarySI
            && self.nanos.abs() >= 1024 * NANO
            && self.nanos % NANO == 0
        {
            let mut n = self.nanos / NANO;
            let mut power = 0;
            while n % 1024 == 0 && power < 6 {
                n /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return write!(f, "{n}{suffix}");
        }
        let mut n = self.nanos;
        let mut exponent = -9;
        while n % 1000 == 0 && exponent < 18 {
            n /= 1000;
            exponent += 3;
        }
        if self.format == Format::DecimalExponent {
            return match exponent {
                0 => write!(f, "{n}"),
                e => write!(f, "{n}e{e}"),
            };
        }
        let suffix = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        write!(f, "{n}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn quantities_parse_in_billionths() {
        for (s, n) in [
            ("1", 1_000_000_000),
            ("100m", 100_000_000),
            ("0.1", 100_000_000),
            ("1Ki", 1024 * 1_000_000_000),
            ("128Mi", 128 * (1 << 20) * 1_000_000_000i128),
            ("1e3", 1_000_000_000_000),
            ("1k", 1_000_000_000_000),
            ("0", 0),
            ("-1", -1_000_000_000),
        ] {
            assert_eq!(parse_quantity(s), Some(n), "{s}");
        }
        for bad in ["", "m", "1x", "1.2.3", "abc"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn prints_canonically() {
        for (written, printed) in [
            ("600m", "600m"),
            ("0.6", "600m"),
            ("2", "2"),
            ("2000m", "2"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("256Mi", "256Mi"),
            ("1536Mi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("512", "512"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1.5Gi", "1536Mi"),
            ("100M", "100M"),
            ("0", "0"),
            ("-1", "-1"),
        ] {
            assert_eq!(q(written).to_string(), printed, "{written}");
        }
    }

    #[test]
    fn sums_keep_the_first_format() {
        assert_eq!(q("256Mi").add(&q("1280Mi")).to_string(), "1536Mi");
        assert_eq!(q("100m").add(&q("500m")).to_string(), "600m");
        assert_eq!(q("1").add(&q("1")).to_string(), "2");
        assert_eq!(
            Quantity::zero(Format::DecimalSI).add(&q("1Gi")).to_string(),
            "1Gi"
        );
        assert_eq!(q("1Gi").sub(&q("512Mi")).to_string(), "512Mi");
        assert!(q("1Gi") > q("1000Mi"));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1500m").milli_value(), 1500);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("1500m").value(), 2);
    }
}
