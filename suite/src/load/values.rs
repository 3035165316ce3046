//! Small value forms shared by the scenario grammar: bytes, hex strings, exit codes,
//! enum and flags names.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use wasi_conform_abi::types::{self, EnumType, FlagsType};

use crate::scenario::*;

/// Bytes written as a YAML string (UTF-8), `{hex: "00 ff"}`, or `{repeat: "a", times: 300}`.
pub(super) struct BytesValue(pub(super) Vec<u8>);

impl<'de> Deserialize<'de> for BytesValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor { allow_raw: false }).and_then(|data| match data {
            Data::Bytes(b) => Ok(BytesValue(b)),
            Data::Raw { .. } => Err(de::Error::custom("a raw pointer is not allowed here")),
        })
    }
}

/// Hex digits, whitespace allowed between bytes.
pub(super) struct HexString(pub(super) Vec<u8>);

impl<'de> Deserialize<'de> for HexString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s).map(HexString).map_err(de::Error::custom)
    }
}

pub(super) fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(c) = digits.iter().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("hex string `{s}` holds `{c}`, which is not a hex digit"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex string `{s}` has an odd number of digits"));
    }
    Ok(digits
        .chunks(2)
        .map(|pair| {
            let nibble = |c: char| c.to_digit(16).expect("checked above: a hex digit") as u8;
            nibble(pair[0]) << 4 | nibble(pair[1])
        })
        .collect())
}

pub(super) struct DataVisitor {
    pub(super) allow_raw: bool,
}

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Data;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.allow_raw {
            f.write_str("a string, {hex: …}, {repeat: …, times: …} or {ptr: …, len: …}")
        } else {
            f.write_str("a string, {hex: …} or {repeat: …, times: …}")
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
        Ok(Data::Bytes(v.as_bytes().to_vec()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Data, A::Error> {
        let mut fields: BTreeMap<String, ()> = BTreeMap::new();
        let (mut hex, mut repeat, mut times, mut ptr, mut len) = (None, None, None, None, None);
        while let Some(k) = m.next_key::<String>()? {
            if fields.insert(k.clone(), ()).is_some() {
                return Err(de::Error::custom(format!("duplicate key `{k}`")));
            }
            match k.as_str() {
                "hex" => hex = Some(m.next_value::<HexString>()?.0),
                "repeat" => repeat = Some(m.next_value::<String>()?),
                "times" => times = Some(m.next_value::<u32>()?),
                "ptr" if self.allow_raw => ptr = Some(m.next_value::<u32>()?),
                "len" if self.allow_raw => len = Some(m.next_value::<u32>()?),
                other => {
                    return Err(de::Error::custom(format!("unknown key `{other}`, expected {}", Expecting(&self))))
                }
            }
        }
        match (hex, repeat, times, ptr, len) {
            (Some(h), None, None, None, None) => Ok(Data::Bytes(h)),
            (None, Some(r), Some(t), None, None) => {
                super::limits::value("a repeated string", (r.len() as u64).saturating_mul(t as u64))
                    .map_err(de::Error::custom)?;
                Ok(Data::Bytes(r.repeat(t as usize).into_bytes()))
            }
            (None, None, None, Some(ptr), Some(len)) => Ok(Data::Raw { ptr, len }),
            _ => Err(de::Error::custom(format!("expected {}", Expecting(&self)))),
        }
    }
}

pub(super) struct Expecting<'a, V>(pub(super) &'a V);
impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
}

/// An exit code or `{one-of: [..], because: ".."}`.
pub(super) struct ExitValue(pub(super) ExitExpect);

impl<'de> Deserialize<'de> for ExitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct Set {
            one_of: Vec<u32>,
            because: String,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExitValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an exit code or {one-of: [codes], because: reason}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExitValue, E> {
                u32::try_from(v)
                    .map(|c| ExitValue(ExitExpect::One(c)))
                    .map_err(|_| E::custom("exit code must fit in u32"))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ExitValue, A::Error> {
                let s = Set::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(ExitValue(ExitExpect::OneOf { set: s.one_of, because: s.because }))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn enum_value(e: &EnumType, name: &str) -> Result<u64, String> {
    e.value(name).ok_or_else(|| format!("`{name}` is not a {} value (one of {})", e.name, e.values.join(", ")))
}

pub(super) fn flags_value(t: &FlagsType, names: &[&str]) -> Result<u64, String> {
    let mut bits = 0;
    for n in names {
        if *n == "all" {
            bits |= t.all();
            continue;
        }
        bits |= t.bit(n).ok_or_else(|| {
            format!(
                "`{n}` is not a {} flag (one of {}, or `all`)",
                t.name,
                if t.flags.is_empty() { "none defined".to_owned() } else { t.flags.join(", ") }
            )
        })?;
    }
    Ok(bits)
}

/// Which enum an [`EnumOrInt`] names.
pub(super) trait EnumTag {
    fn ty() -> &'static EnumType;
}
pub(super) struct ClockidTag;
impl EnumTag for ClockidTag {
    fn ty() -> &'static EnumType {
        &types::CLOCKID
    }
}
pub(super) struct FiletypeTag;
impl EnumTag for FiletypeTag {
    fn ty() -> &'static EnumType {
        &types::FILETYPE
    }
}
pub(super) struct EventtypeTag;
impl EnumTag for EventtypeTag {
    fn ty() -> &'static EnumType {
        &types::EVENTTYPE
    }
}

/// An enum value by name or raw integer.
pub(super) struct EnumOrInt<T>(pub(super) u64, std::marker::PhantomData<T>);

impl<'de, T: EnumTag> Deserialize<'de> for EnumOrInt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: EnumTag> Visitor<'de> for V<T> {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a {} name ({}) or an integer", T::ty().name, T::ty().values.join(", "))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                enum_value(T::ty(), v).map_err(E::custom)
            }
        }
        d.deserialize_any(V::<T>(std::marker::PhantomData)).map(|v| EnumOrInt(v, std::marker::PhantomData))
    }
}
