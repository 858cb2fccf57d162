//! PostgreSQL's binary `jsonb` format, built in Rust.
//!
//! `demo_generate` spends about a fifth of the backend's time parsing payload text in
//! `jsonb_in`. Building the binary datum on the planner thread instead takes that work off the
//! backend (the bottleneck) and onto the second core. This module writes exactly what
//! `jsonb_in` would (PostgreSQL 15, `src/backend/utils/adt/jsonb_util.c`: `convertToJsonb`):
//!
//! - a 4-byte varlena header, then the root container;
//! - a container: `count | JB_FOBJECT` (or `JB_FARRAY`), one `JEntry` per key and per value
//!   (objects: all keys, then all values), then their data; keys sorted by length, then bytes;
//! - a `JEntry` holds the type and the length of its data, except every 32nd (`JB_OFFSET_STRIDE`,
//!   counting from 0), which holds the end offset and `JENTRY_HAS_OFF`;
//! - numerics and nested containers start on a 4-byte boundary (counted from the start of the
//!   datum); the padding belongs to their length;
//! - a number is a `numeric` varlena in short format: a 2-byte header (sign, scale, weight) and
//!   base-10000 digits without trailing zero digits.
//!
//! Only what payloads need is supported: objects, arrays, strings, booleans, null and whole
//! numbers; a fractional number is refused. The pg_tests compare the bytes with `jsonb_in`'s.

use serde_json::Value;

const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;
const JENTRY_ISCONTAINER: u32 = 0x5000_0000;
const JB_OFFSET_STRIDE: usize = 32;
const JB_FOBJECT: u32 = 0x2000_0000;
const JB_FARRAY: u32 = 0x4000_0000;

const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_WEIGHT_MASK: u16 = 0x003F;
const NBASE: u64 = 10_000;

#[cfg(not(target_endian = "little"))]
compile_error!("the jsonb encoder writes little-endian varlena headers");

/// A value the encoder does not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The root is not an object or an array.
    #[error("a jsonb payload must be an object or an array")]
    ScalarRoot,
    /// A number with a fractional part or exponent.
    #[error("number {0} is not a whole number")]
    Fraction(String),
    /// Data beyond what one container can address (256 MiB).
    #[error("jsonb value too large")]
    TooLarge,
}

/// Encodes `value` as a complete `jsonb` datum (varlena header included).
pub fn encode(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&[0; 4]);
    match value {
        Value::Object(_) | Value::Array(_) => {
            convert(&mut buf, value)?;
        }
        _ => return Err(EncodeError::ScalarRoot),
    }
    let len = u32::try_from(buf.len()).map_err(|_| EncodeError::TooLarge)?;
    if len > 0x3FFF_FFFF {
        return Err(EncodeError::TooLarge);
    }
    buf[..4].copy_from_slice(&(len << 2).to_le_bytes());
    Ok(buf)
}

/// Pads `buf` to a 4-byte boundary; returns the number of bytes added.
fn pad(buf: &mut Vec<u8>) -> u32 {
    let padding = (4 - buf.len() % 4) % 4;
    buf.resize(buf.len() + padding, 0);
    padding as u32
}

fn check_len(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len)
        .ok()
        .filter(|l| *l <= JENTRY_OFFLENMASK)
        .ok_or(EncodeError::TooLarge)
}

/// Appends a value's data and returns its `JEntry` (with its length, not an offset).
fn convert(buf: &mut Vec<u8>, value: &Value) -> Result<u32, EncodeError> {
    Ok(match value {
        Value::Null => JENTRY_ISNULL,
        Value::Bool(true) => JENTRY_ISBOOL_TRUE,
        Value::Bool(false) => JENTRY_ISBOOL_FALSE,
        Value::String(s) => {
            buf.extend_from_slice(s.as_bytes());
            JENTRY_ISSTRING | check_len(s.len())?
        }
        Value::Number(n) => {
            let (negative, magnitude) = if let Some(u) = n.as_u64() {
                (false, u)
            } else if let Some(i) = n.as_i64() {
                (i < 0, i.unsigned_abs())
            } else {
                return Err(EncodeError::Fraction(n.to_string()));
            };
            let padding = pad(buf);
            let len = numeric(buf, negative, magnitude);
            JENTRY_ISNUMERIC | (padding + len)
        }
        Value::Array(items) => {
            let start = buf.len();
            pad(buf);
            container(buf, JB_FARRAY, items.len(), |buf, entries| {
                let mut total = 0u32;
                for (i, item) in items.iter().enumerate() {
                    let meta = convert(buf, item)?;
                    total = add_len(total, meta)?;
                    entries[i] = stride(meta, total, i);
                }
                Ok(())
            })?;
            JENTRY_ISCONTAINER | check_len(buf.len() - start)?
        }
        Value::Object(map) => {
            let start = buf.len();
            pad(buf);
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            pairs.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            let n = pairs.len();
            container(buf, JB_FOBJECT, n, |buf, entries| {
                let mut total = 0u32;
                for (i, (key, _)) in pairs.iter().enumerate() {
                    buf.extend_from_slice(key.as_bytes());
                    let meta = JENTRY_ISSTRING | check_len(key.len())?;
                    total = add_len(total, meta)?;
                    entries[i] = stride(meta, total, i);
                }
                for (i, (_, value)) in pairs.iter().enumerate() {
                    let meta = convert(buf, value)?;
                    total = add_len(total, meta)?;
                    entries[n + i] = stride(meta, total, n + i);
                }
                Ok(())
            })?;
            JENTRY_ISCONTAINER | check_len(buf.len() - start)?
        }
    })
}

/// Writes a container header and its `JEntry` array around the data `fill` appends.
fn container(
    buf: &mut Vec<u8>,
    kind: u32,
    count: usize,
    fill: impl FnOnce(&mut Vec<u8>, &mut [u32]) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let count_field = check_len(count)?;
    buf.extend_from_slice(&(count_field | kind).to_le_bytes());
    let slots = if kind == JB_FOBJECT { count * 2 } else { count };
    let entries_at = buf.len();
    buf.resize(entries_at + 4 * slots, 0);
    let mut entries = vec![0u32; slots];
    fill(buf, &mut entries)?;
    for (i, e) in entries.iter().enumerate() {
        buf[entries_at + 4 * i..entries_at + 4 * i + 4].copy_from_slice(&e.to_le_bytes());
    }
    Ok(())
}

fn add_len(total: u32, meta: u32) -> Result<u32, EncodeError> {
    total
        .checked_add(meta & JENTRY_OFFLENMASK)
        .filter(|t| *t <= JENTRY_OFFLENMASK)
        .ok_or(EncodeError::TooLarge)
}

/// Every `JB_OFFSET_STRIDE`-th entry (from 0) stores the end offset instead of the length.
fn stride(meta: u32, end_offset: u32, index: usize) -> u32 {
    if index.is_multiple_of(JB_OFFSET_STRIDE) {
        (meta & JENTRY_TYPEMASK) | end_offset | JENTRY_HAS_OFF
    } else {
        meta
    }
}

/// Appends a whole number as a short-format `numeric` varlena; returns its size.
fn numeric(buf: &mut Vec<u8>, negative: bool, magnitude: u64) -> u32 {
    // base-10000 digits, most significant first
    let mut digits = Vec::with_capacity(5);
    let mut m = magnitude;
    while m > 0 {
        digits.push((m % NBASE) as u16);
        m /= NBASE;
    }
    digits.reverse();
    let weight = digits.len().saturating_sub(1) as u16;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let negative = negative && !digits.is_empty();
    let weight = if digits.is_empty() { 0 } else { weight };
    let header = NUMERIC_SHORT
        | if negative { NUMERIC_SHORT_SIGN_MASK } else { 0 }
        | (weight & NUMERIC_SHORT_WEIGHT_MASK);
    let size = 4 + 2 + 2 * digits.len() as u32;
    buf.extend_from_slice(&(size << 2).to_le_bytes());
    buf.extend_from_slice(&header.to_le_bytes());
    for d in digits {
        buf.extend_from_slice(&d.to_le_bytes());
    }
    size
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_one_key_object_has_the_documented_layout() {
        let bytes = encode(&json!({"a": 1})).unwrap();
        #[rustfmt::skip]
        let expected: Vec<u8> = vec![
            0x70, 0, 0, 0,          // varlena header: 28 bytes << 2
            1, 0, 0, 0x20,          // 1 pair | JB_FOBJECT
            1, 0, 0, 0x80,          // key "a": end offset 1 | JENTRY_HAS_OFF (entry 0)
            11, 0, 0, 0x10,         // value: numeric, 3 bytes of padding + 8
            b'a', 0, 0, 0,          // key, padding to 4
            32, 0, 0, 0,            // numeric varlena: 8 bytes << 2
            0x00, 0x80,             // NUMERIC_SHORT, weight 0, scale 0
            1, 0,                   // digit 1
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn numbers_are_base_10000_without_trailing_zero_digits() {
        let digits = |n: i64| {
            let mut buf = Vec::new();
            numeric(&mut buf, n < 0, n.unsigned_abs());
            buf[4..].to_vec()
        };
        assert_eq!(digits(0), vec![0x00, 0x80]);
        assert_eq!(digits(10_000), vec![0x01, 0x80, 1, 0]);
        assert_eq!(
            digits(123_456_789),
            vec![0x02, 0x80, 1, 0, 0x29, 0x09, 0x85, 0x1A]
        );
        assert_eq!(digits(-7), vec![0x00, 0xA0, 7, 0]);
    }

    #[test]
    fn fractions_and_scalar_roots_are_refused() {
        assert_eq!(
            encode(&json!({"x": 1.5})),
            Err(EncodeError::Fraction("1.5".into()))
        );
        assert_eq!(encode(&json!("text")), Err(EncodeError::ScalarRoot));
    }

    #[test]
    fn keys_sort_by_length_then_bytes() {
        let bytes = encode(&json!({"bb": 1, "a": 2, "c": 3, "aaa": 4})).unwrap();
        let keys_at = 4 + 4 + 8 * 4;
        assert_eq!(&bytes[keys_at..keys_at + 7], b"acbbaaa");
    }
}
