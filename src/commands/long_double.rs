//! INCRBYFLOAT and HINCRBYFLOAT compute as Redis does: in C's `long double` (x86's 80-bit
//! extended precision: a 64-bit mantissa, exponents to ±16383), parsed by `strtold`, printed
//! with `%.17Lf` and trailing zeros removed.
//!
//! Why not f64: its 53-bit mantissa dropped digits Redis keeps (1234567890123456 + 1 gave
//! 1234567890123460 with the 15-digit rounding that hid f64's binary noise) and overflowed where
//! a long double does not (a sum past 1.8e308 was stored as `inf`). Rust has no long double, so
//! each operand is parsed exactly (big integers), rounded to the nearest long double, the two
//! are added exactly and the sum rounded again, each step as the x87 unit does it (to nearest,
//! ties to even). The printed result is then Redis' byte for byte, long double rounding
//! included (`12345678901234567890123` + 0 is `12345678901234567889920` in both).

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

/// Bits of a long double's mantissa.
const MANT_BITS: u64 = 64;
/// Exponent (of `mant * 2^exp`) of the smallest subnormal long double, 2^-16445.
const MIN_EXP: i64 = -16445;
/// Largest exponent of a finite long double (its top mantissa bit is then 2^16383).
const MAX_EXP: i64 = 16383 - (MANT_BITS as i64 - 1);
/// Longest operand string2ld reads (Redis' MAX_LONG_DOUBLE_CHARS).
const MAX_CHARS: usize = 5 * 1024;
/// Decimals `%.17Lf` prints.
const DECIMALS: u32 = 17;

/// A finite long double: `(-1)^neg * mant * 2^exp` (the default is 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

/// An operand as `strtold` reads it: a finite value or an infinity (`inf`, `-infinity`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Finite(LongDouble),
    Infinite,
}

/// What Redis' `string2ld` accepts: the whole string, no leading space, decimal or hex
/// (`0x1p4`) notation or an infinity, within a long double's range (an overflow, an underflow
/// to zero, or NaN is not a valid float). `None` when it is not one.
pub fn parse(b: &[u8]) -> Option<Operand> {
    if b.is_empty() || b.len() >= MAX_CHARS {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(Operand::Infinite);
    }
    let (num, den) = match lower.strip_prefix("0x") {
        Some(hex) => parse_hex(hex)?,
        None => parse_decimal(&lower)?,
    };
    if num.is_zero() {
        return Some(Operand::Finite(LongDouble::zero(neg)));
    }
    // Overflow and underflow to zero are ERANGE errors for string2ld.
    let v = round(neg, &num, &den)?;
    (v.mant != 0).then_some(Operand::Finite(v))
}

/// `[digits][.digits][e[+-]digits]` as an exact fraction.
fn parse_decimal(s: &str) -> Option<(BigUint, BigUint)> {
    let (m, exp, frac_digits) = split_literal(s, 'e', 10)?;
    if m.is_zero() {
        return Some((m, BigUint::one()));
    }
    let exp10 = exp.checked_sub(frac_digits)?;
    // Far outside a long double (about 1.2e4932 down to 3.6e-4951) whatever the digits:
    // refuse before building powers of ten that large. The decimal exponent of the leading
    // digit lies between these two bounds (log10(2) is 0.30102999...).
    let bits = m.bits() as i64;
    let lead_at_least = (bits - 1) * 30102 / 100_000 + exp10;
    let lead_at_most = bits * 30103 / 100_000 + 1 + exp10;
    if lead_at_least > 4940 || lead_at_most < -4960 {
        return None;
    }
    let p = BigUint::from(10u32).pow(exp10.unsigned_abs().try_into().ok()?);
    Some(if exp10 >= 0 {
        (m * p, BigUint::one())
    } else {
        (m, p)
    })
}

/// `[hexdigits][.hexdigits][p[+-]digits]` (after `0x`) as an exact fraction.
fn parse_hex(s: &str) -> Option<(BigUint, BigUint)> {
    let (m, exp, frac_digits) = split_literal(s, 'p', 16)?;
    if m.is_zero() {
        return Some((m, BigUint::one()));
    }
    let exp2 = exp.checked_sub(4 * frac_digits)?;
    let lead = m.bits() as i64 - 1 + exp2;
    if !(MIN_EXP - 2..=MAX_EXP + MANT_BITS as i64).contains(&lead) {
        return None;
    }
    let shift = usize::try_from(exp2.unsigned_abs()).ok()?;
    Some(if exp2 >= 0 {
        (m << shift, BigUint::one())
    } else {
        (m, BigUint::one() << shift)
    })
}

/// `[digits][.digits][<mark>[+-]digits]` in `radix`: the digits as one integer, the exponent
/// after `mark`, and how many digits follow the point. At least one digit.
fn split_literal(s: &str, mark: char, radix: u32) -> Option<(BigUint, i64, i64)> {
    let (mantissa, exp) = match s.split_once(mark) {
        Some((m, e)) => (m, parse_exponent(e)?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let m = BigUint::parse_bytes(digits.as_bytes(), radix)?;
    Some((m, exp, frac.len() as i64))
}

/// A signed decimal exponent; saturates (a huge one is out of range anyway).
fn parse_exponent(e: &str) -> Option<i64> {
    let (neg, digits) = match e.as_bytes().first()? {
        b'-' => (true, &e[1..]),
        b'+' => (false, &e[1..]),
        _ => (false, e),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = digits.parse::<i64>().unwrap_or(i64::MAX / 4);
    Some(if neg { -v } else { v })
}

/// The long double nearest to `num / den` (ties to even); `None` past the largest finite one.
fn round(neg: bool, num: &BigUint, den: &BigUint) -> Option<LongDouble> {
    if num.is_zero() {
        return Some(LongDouble::zero(neg));
    }
    // q = num / (den * 2^exp) should have exactly MANT_BITS bits; start from the bit lengths
    // and correct by one if needed (subnormals stop at MIN_EXP with fewer bits).
    let mut exp = (num.bits() as i64 - den.bits() as i64 - MANT_BITS as i64).max(MIN_EXP);
    let (mut q, mut rem, mut d) = divide(num, den, exp);
    if q.bits() > MANT_BITS {
        exp += 1;
        (q, rem, d) = divide(num, den, exp);
    } else if q.bits() < MANT_BITS && exp > MIN_EXP {
        exp -= 1;
        (q, rem, d) = divide(num, den, exp);
    }
    let twice = rem << 1usize;
    if twice > d || (twice == d && q.bit(0)) {
        q += 1u32;
        if q.bits() > MANT_BITS {
            q >>= 1usize;
            exp += 1;
        }
    }
    if exp > MAX_EXP {
        return None;
    }
    Some(LongDouble {
        neg,
        mant: q.to_u64()?,
        exp,
    })
}

/// `num / (den * 2^exp)`: quotient, remainder and the divisor used.
fn divide(num: &BigUint, den: &BigUint, exp: i64) -> (BigUint, BigUint, BigUint) {
    let shift = exp.unsigned_abs() as usize;
    let (n, d) = if exp >= 0 {
        (num.clone(), den << shift)
    } else {
        (num << shift, den.clone())
    };
    (&n / &d, &n % &d, d)
}

impl LongDouble {
    fn zero(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            mant: 0,
            exp: 0,
        }
    }

    /// `self + other`, rounded to a long double; `None` if the sum overflows (to infinity).
    pub fn add(&self, other: &LongDouble) -> Option<LongDouble> {
        let low = self.exp.min(other.exp);
        let scaled = |x: &LongDouble| BigUint::from(x.mant) << (x.exp - low) as usize;
        let (a, b) = (scaled(self), scaled(other));
        let (neg, sum) = match (self.neg, other.neg) {
            (x, y) if x == y => (x, a + b),
            _ if a >= b => (self.neg, a - b),
            _ => (other.neg, b - a),
        };
        // An exact zero is +0 (round to nearest), as x87 gives for x + -x.
        let neg = neg && !sum.is_zero();
        let shift = low.unsigned_abs() as usize;
        if low >= 0 {
            round(neg, &(sum << shift), &BigUint::one())
        } else {
            round(neg, &sum, &(BigUint::one() << shift))
        }
    }

    /// `%.17Lf` without trailing zeros (nor a trailing point), and `-0` as `0`: what
    /// INCRBYFLOAT replies and stores.
    pub fn to_redis_string(&self) -> String {
        let m = BigUint::from(self.mant);
        // The value as an integer count of 10^-DECIMALS, rounded to nearest, ties to even.
        let units = if self.exp >= 0 {
            (m << self.exp as usize) * BigUint::from(10u32).pow(DECIMALS)
        } else {
            // mant * 2^-k = mant * 5^k / 10^k.
            let k = self.exp.unsigned_abs() as u32;
            let exact = m * BigUint::from(5u32).pow(k);
            if k <= DECIMALS {
                exact * BigUint::from(10u32).pow(DECIMALS - k)
            } else {
                let d = BigUint::from(10u32).pow(k - DECIMALS);
                let (q, r) = (&exact / &d, &exact % &d);
                let twice = r << 1usize;
                if twice > d || (twice == d && q.bit(0)) {
                    q + 1u32
                } else {
                    q
                }
            }
        };
        let digits = units.to_str_radix(10);
        let digits = format!("{digits:0>width$}", width = DECIMALS as usize + 1);
        let (int, frac) = digits.split_at(digits.len() - DECIMALS as usize);
        let frac = frac.trim_end_matches('0');
        let body = if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        };
        if self.neg && body != "0" {
            format!("-{body}")
        } else {
            body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a + b` as INCRBYFLOAT computes it, or why not.
    fn incr(a: &str, b: &str) -> String {
        match (parse(a.as_bytes()), parse(b.as_bytes())) {
            (Some(Operand::Finite(x)), Some(Operand::Finite(y))) => match x.add(&y) {
                Some(s) => s.to_redis_string(),
                None => "overflow".into(),
            },
            (Some(_), Some(_)) => "infinite".into(),
            _ => "invalid".into(),
        }
    }

    /// Replies of redis-server 7.0.15 (x86-64) to `SET k a` then `INCRBYFLOAT k b`.
    #[test]
    fn sums_print_as_redis_prints_them() {
        for (a, b, redis) in [
            ("0", "0.1", "0.1"),
            ("0.1", "0.2", "0.3"),
            ("0.3", "0.1", "0.4"),
            ("10.50", "0.1", "10.6"),
            ("5.0e3", "2.0e2", "5200"),
            ("1234567890123456", "1", "1234567890123457"),
            ("0", "123456789012345678", "123456789012345678"),
            ("-9223372036854775808", "1", "-9223372036854775807"),
            ("0", "0.30000000000000004", "0.30000000000000004"),
            ("0", "1e-20", "0"),
            ("0", "-0.0", "0"),
            ("3.0", "-3", "0"),
            ("0", "1.5E3", "1500"),
            ("0", "1.", "1"),
            ("0", ".5", "0.5"),
            ("0", "+.5", "0.5"),
            ("0", "0x10", "16"),
            ("12345678901234567890123", "0", "12345678901234567889920"),
            ("1.23456789012345678901", "0", "1.23456789012345679"),
            ("10.6", "5000", "5010.60000000000000009"),
            ("0", "1.0000000000000002", "1.0000000000000002"),
            ("1.23456789012345678", "0", "1.23456789012345678"),
            ("12345678901234567890", "0", "12345678901234567890"),
            ("1", "0x10", "17"),
            ("0.000000000000000005", "0", "0"),
            ("0.000000000000000015", "0", "0.00000000000000002"),
            ("0.000000000000000025", "0", "0.00000000000000002"),
            ("1.18e4932", "1.18e4932", "overflow"),
            ("inf", "1", "infinite"),
            ("0", "1e5000", "invalid"),
            ("0", "1e-5000", "invalid"),
            ("0", " 1", "invalid"),
            ("0", "1 ", "invalid"),
            ("0", "", "invalid"),
            ("0", "1e", "invalid"),
            ("0", "nan", "invalid"),
            ("0", "1_0", "invalid"),
        ] {
            assert_eq!(incr(a, b), redis, "{a} + {b}");
        }
    }

    #[test]
    fn very_large_and_very_long_values_keep_redis_digits() {
        // Redis' reply to 1e300 + 0 starts so (301 digits).
        let s = incr("1e300", "0");
        assert_eq!(s.len(), 301);
        assert!(
            s.starts_with("1000000000000000000008997324079559193870"),
            "{s}"
        );
        // 1e4932 is a finite long double: 4933 digits, Redis' first ones.
        let s = incr("0", "1e4932");
        assert_eq!(s.len(), 4933);
        assert!(
            s.starts_with("1000000000000000000006018949387963891323"),
            "{s}"
        );
        assert_eq!(incr("0", &format!("1{}", "0".repeat(5200))), "invalid");
        // What INCRBYFLOAT stores reads back (Redis increments it again).
        let stored = incr("0", "1e4932");
        assert_eq!(incr(&stored, "0"), stored);
        let padded = format!("1.1{}e4932", "0".repeat(3000));
        let got = incr(&padded, "0");
        assert!(got.starts_with("10999999999999999999"), "{got}");
        assert_eq!(got.len(), 4933);
    }
}
