//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`, `1.5G`), parsed by the API's grammar and
//! compared exactly, whatever their suffixes: `500m` < `1`, `1Gi` > `1G`, `1000m` = `1`.
//!
//! A quantity is kept as a sign, a decimal digit string and a power of ten: binary suffixes are
//! multiplied out (`Ki` is 1024) into the digits, so no precision is lost and no float is used.

use std::cmp::Ordering;
use std::fmt;

/// A parsed quantity: `±digits × 10^exponent`, normalised (no leading or trailing zeros; zero has
/// no digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantity {quantity:?} is not <number><suffix> (suffix: Ki..Ei, n..E, or e<exponent>)")]
pub struct InvalidQuantity {
    /// The string given.
    pub quantity: String,
}

/// The largest decimal exponent accepted (far beyond any real resource; bounds the work).
const MAX_EXPONENT: i64 = 1_000;

impl Quantity {
    /// Parses `s`: an optional sign, digits with an optional fraction, then a suffix — binary
    /// (`Ki Mi Gi Ti Pi Ei`), decimal SI (`n u m k M G T P E`) or a decimal exponent (`e3`, `E-2`).
    pub fn parse(s: &str) -> Result<Self, InvalidQuantity> {
        let fail = || InvalidQuantity {
            quantity: s.to_string(),
        };
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest
            .bytes()
            .position(|b| !(b.is_ascii_digit() || b == b'.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(fail());
        }
        let mut digits: Vec<u8> = whole
            .bytes()
            .chain(fraction.bytes())
            .map(|b| b - b'0')
            .collect();
        let mut exponent = -(fraction.len() as i64);
        let (power_of_two, power_of_ten) = match suffix {
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "" => (0, 0),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            _ => {
                let exp = suffix.strip_prefix(['e', 'E']).ok_or_else(fail)?;
                let unsigned = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail());
                }
                let value: i64 = exp.parse().map_err(|_| fail())?;
                if value.abs() > MAX_EXPONENT {
                    return Err(fail());
                }
                (0, value)
            }
        };
        exponent += power_of_ten;
        for _ in 0..power_of_two {
            double(&mut digits);
        }
        Ok(normalise(negative, digits, exponent))
    }

    /// Whether the quantity is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }
}

/// Multiplies a big-endian decimal digit string by two.
fn double(digits: &mut Vec<u8>) {
    let mut carry = 0;
    for d in digits.iter_mut().rev() {
        let v = *d * 2 + carry;
        *d = v % 10;
        carry = v / 10;
    }
    if carry > 0 {
        digits.insert(0, carry);
    }
}

fn normalise(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Quantity {
    let leading = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..leading);
    while digits.last() == Some(&0) {
        digits.pop();
        exponent += 1;
    }
    if digits.is_empty() {
        return Quantity {
            negative: false,
            digits,
            exponent: 0,
        };
    }
    Quantity {
        negative,
        digits,
        exponent,
    }
}

impl std::str::FromStr for Quantity {
    type Err = InvalidQuantity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// Compares magnitudes of normalised non-zero digit strings.
fn compare_magnitude(a: &Quantity, b: &Quantity) -> Ordering {
    // The position of the most significant digit decides, then the digits themselves.
    let top_a = a.digits.len() as i64 + a.exponent;
    let top_b = b.digits.len() as i64 + b.exponent;
    top_a.cmp(&top_b).then_with(|| {
        let n = a.digits.len().max(b.digits.len());
        (0..n)
            .map(|i| {
                let x = a.digits.get(i).copied().unwrap_or(0);
                let y = b.digits.get(i).copied().unwrap_or(0);
                x.cmp(&y)
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => {
                return if other.negative {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (false, true) => {
                return if self.negative {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            _ => {}
        }
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => compare_magnitude(self, other),
            (true, true) => compare_magnitude(other, self),
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Quantity {
    /// The exact value in plain decimal notation (`0.5`, `1073741824`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        if self.exponent >= 0 {
            write!(f, "{digits}{}", "0".repeat(self.exponent as usize))
        } else {
            let point = digits.len() as i64 + self.exponent;
            if point > 0 {
                let (a, b) = digits.split_at(point as usize);
                write!(f, "{a}.{b}")
            } else {
                write!(f, "0.{}{digits}", "0".repeat((-point) as usize))
            }
        }
    }
}
