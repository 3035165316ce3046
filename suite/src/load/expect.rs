//! Step expectations: errno (one or an allowed set with a reason), result values and
//! record fields, and derived views.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use wasi_conform_abi::types::{EnumType, FlagsType};
use wasi_conform_abi::{Errno, Function, ResultType, Returns};

use super::values::*;
use crate::records::{self, FieldType};
use crate::scenario::*;
use crate::views::{self, ViewKind};

pub(super) struct ExpectSeed(pub(super) &'static Function);

impl<'de> DeserializeSeed<'de> for ExpectSeed {
    type Value = StepExpect;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StepExpect, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ExpectSeed {
    type Value = StepExpect;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a map of expectations for {}", self.0.name)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<StepExpect, A::Error> {
        let f = self.0;
        let mut e = StepExpect::default();
        let mut seen = BTreeSet::new();
        while let Some(k) = m.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format!("`{k}` given twice")));
            }
            if k == "errno" {
                if f.returns == Returns::Never {
                    return Err(de::Error::custom(format!("{} does not return, so it has no errno", f.name)));
                }
                e.errno = Some(m.next_value::<ErrnoValue>()?.0);
            } else if let Some(r) = f.results.iter().find(|r| r.name == k) {
                e.results.push((k, m.next_value_seed(ResultSeed(r.ty))?));
            } else if let Some(kind) = views::kind(f, &k) {
                e.views.push((k, m.next_value_seed(ViewSeed(kind))?));
            } else {
                let mut known: Vec<&str> = vec!["errno"];
                known.extend(f.results.iter().map(|r| r.name));
                known.extend(views::views(f).iter().map(|(n, _)| *n));
                return Err(de::Error::custom(format!(
                    "{} has no output `{k}` to check (it has {})",
                    f.name,
                    known.join(", ")
                )));
            }
        }
        Ok(e)
    }
}

/// `success`, or `{one-of: [perm, notcapable], because: …}`.
struct ErrnoValue(ErrnoExpect);

fn errno_by_name<E: de::Error>(n: &str) -> Result<Errno, E> {
    Errno::from_name(n).ok_or_else(|| {
        E::custom(format!(
            "`{n}` is not an errno name (witx spelling: success, badf, inval, noent, perm, notcapable, …)"
        ))
    })
}

impl<'de> Deserialize<'de> for ErrnoValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrnoValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an errno name or {one-of: [names, `any-error` or `trap`], because: reason}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrnoValue, E> {
                if v == "trap" {
                    return Err(E::custom(
                        "a trap is not an errno: a step that must trap ends the scenario (`end: trap`); one that \
                         may trap lists it among its answers (`{one-of: [inval, trap], because: …}`)",
                    ));
                }
                errno_by_name(v).map(|e| ErrnoValue(ErrnoExpect::One(e)))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ErrnoValue, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields, rename_all = "kebab-case")]
                struct Set {
                    one_of: Vec<String>,
                    because: String,
                }
                let s = Set::deserialize(de::value::MapAccessDeserializer::new(m))?;
                if s.one_of.len() < 2 {
                    return Err(de::Error::custom(
                        "`one-of` needs at least two answers; write a single errno plainly (a trap alone is `end: trap`)",
                    ));
                }
                let special = ["trap", "any-error"];
                for word in special {
                    if s.one_of.iter().filter(|n| *n == word).count() > 1 {
                        return Err(de::Error::custom(format!("`{word}` is listed twice")));
                    }
                }
                let trap = s.one_of.iter().any(|n| n == "trap");
                let any_error = s.one_of.iter().any(|n| n == "any-error");
                let set = s
                    .one_of
                    .iter()
                    .filter(|n| !special.contains(&n.as_str()))
                    .map(|n| errno_by_name(n))
                    .collect::<Result<Vec<_>, A::Error>>()?;
                if s.because.trim().is_empty() {
                    return Err(de::Error::custom("`because` must say why the spec allows each answer"));
                }
                if set.contains(&Errno::Success) && any_error {
                    return Err(de::Error::custom(
                        "`any-error` with `success` accepts everything: check nothing instead",
                    ));
                }
                Ok(ErrnoValue(ErrnoExpect::OneOf { set, trap, any_error, because: s.because }))
            }
        }
        d.deserialize_any(V)
    }
}

struct ResultSeed(ResultType);

impl<'de> DeserializeSeed<'de> for ResultSeed {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        match self.0 {
            ResultType::Size | ResultType::Fd | ResultType::Filesize | ResultType::Timestamp | ResultType::Roflags => {
                d.deserialize_any(ScalarCheck)
            }
            ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat => d.deserialize_map(RecordCheck(self.0)),
        }
    }
}

/// `5`, `{min: 1, max: $t1}`, or `$binding`.
struct ScalarCheck;

/// A range bound: an integer or `$binding`.
struct BoundValue(Bound);

impl<'de> Deserialize<'de> for BoundValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BoundValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or `$binding`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BoundValue, E> {
                Ok(BoundValue(Bound::Value(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BoundValue, E> {
                match v.strip_prefix('$') {
                    Some(b) => Ok(BoundValue(Bound::Binding(b.to_owned()))),
                    None => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Visitor<'de> for ScalarCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, {min: …, max: …} (integers or `$binding`s), or `$binding`")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueCheck, E> {
        Ok(ValueCheck::Exact(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueCheck, E> {
        match v.strip_prefix('$') {
            Some(b) => Ok(ValueCheck::SameAs(b.to_owned())),
            None => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ValueCheck, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct R {
            min: Option<BoundValue>,
            max: Option<BoundValue>,
        }
        let r = R::deserialize(de::value::MapAccessDeserializer::new(m))?;
        if r.min.is_none() && r.max.is_none() {
            return Err(de::Error::custom("a range needs `min` or `max`"));
        }
        Ok(ValueCheck::Range { min: r.min.map(|b| b.0), max: r.max.map(|b| b.0) })
    }
}

/// Field checks of a record result.
struct RecordCheck(ResultType);

impl<'de> Visitor<'de> for RecordCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = records::fields(self.0).iter().map(|(n, _)| *n).collect();
        write!(f, "a map of field checks ({})", names.join(", "))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ValueCheck, A::Error> {
        let fields = records::fields(self.0);
        let mut out = Vec::new();
        while let Some(k) = m.next_key::<String>()? {
            let (_, kind) = fields
                .iter()
                .find(|(n, _)| *n == k)
                .ok_or_else(|| de::Error::custom(format!("unknown field `{k}`, expected {}", Expecting(&self))))?;
            let check = match kind {
                FieldType::Int => m.next_value_seed(ScalarCheckSeed)?,
                FieldType::Enum(e) => m.next_value_seed(EnumCheck(e))?,
                FieldType::Flags(t) => m.next_value_seed(FlagsCheck(t))?,
            };
            out.push((k, check));
        }
        Ok(ValueCheck::Fields(out))
    }
}

struct ScalarCheckSeed;
impl<'de> DeserializeSeed<'de> for ScalarCheckSeed {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        d.deserialize_any(ScalarCheck)
    }
}

/// `directory`, or `{one-of: [unknown, character_device], because: …}`.
struct EnumCheck(&'static EnumType);

impl<'de> DeserializeSeed<'de> for EnumCheck {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EnumCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} name ({}) or {{one-of: [names], because: reason}}", self.0.name, self.0.values.join(", "))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueCheck, E> {
        Ok(ValueCheck::Exact(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ValueCheck, E> {
        enum_value(self.0, v).map(ValueCheck::Exact).map_err(E::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ValueCheck, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct Set {
            one_of: Vec<String>,
            because: String,
        }
        let s = Set::deserialize(de::value::MapAccessDeserializer::new(m))?;
        let set =
            s.one_of.iter().map(|n| enum_value(self.0, n)).collect::<Result<Vec<_>, _>>().map_err(de::Error::custom)?;
        Ok(ValueCheck::OneOf { set, because: s.because })
    }
}

/// `[append]` (exact), or `{includes: [..], excludes: [..]}`.
struct FlagsCheck(&'static FlagsType);

impl<'de> DeserializeSeed<'de> for FlagsCheck {
    type Value = ValueCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ValueCheck, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlagsCheck {
    type Value = ValueCheck;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of {} names (exact), an integer, or {{includes: [..], excludes: [..]}}", self.0.name)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueCheck, E> {
        Ok(ValueCheck::Exact(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<ValueCheck, A::Error> {
        let mut names = Vec::new();
        while let Some(n) = s.next_element::<String>()? {
            names.push(n);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        flags_value(self.0, &refs).map(ValueCheck::Exact).map_err(de::Error::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ValueCheck, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct B {
            #[serde(default)]
            includes: Vec<String>,
            #[serde(default)]
            excludes: Vec<String>,
        }
        let b = B::deserialize(de::value::MapAccessDeserializer::new(m))?;
        let inc: Vec<&str> = b.includes.iter().map(String::as_str).collect();
        let exc: Vec<&str> = b.excludes.iter().map(String::as_str).collect();
        let set = flags_value(self.0, &inc).map_err(de::Error::custom)?;
        let clear = flags_value(self.0, &exc).map_err(de::Error::custom)?;
        Ok(ValueCheck::Bits { set, clear })
    }
}

struct ViewSeed(ViewKind);

impl<'de> DeserializeSeed<'de> for ViewSeed {
    type Value = ViewCheck;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ViewCheck, D::Error> {
        match self.0 {
            ViewKind::Bytes => BytesValue::deserialize(d).map(|b| ViewCheck::Bytes(b.0)),
            ViewKind::Strings => {
                Vec::<BytesValue>::deserialize(d).map(|v| ViewCheck::Strings(v.into_iter().map(|b| b.0).collect()))
            }
            ViewKind::Entries => {
                let m = BTreeMap::<String, EnumOrInt<FiletypeTag>>::deserialize(d)?;
                Ok(ViewCheck::Entries(m.into_iter().map(|(k, v)| (k.into_bytes(), v.0)).collect()))
            }
            ViewKind::Events => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Ev {
                    userdata: u64,
                    error: String,
                    #[serde(rename = "type")]
                    ty: EnumOrInt<EventtypeTag>,
                }
                let v = Vec::<Ev>::deserialize(d)?;
                let mut out = BTreeMap::new();
                for e in v {
                    let err = errno_by_name(&e.error)?;
                    if out.insert(e.userdata, (err, e.ty.0)).is_some() {
                        return Err(de::Error::custom(format!("two events with userdata {}", e.userdata)));
                    }
                }
                Ok(ViewCheck::Events(out))
            }
            ViewKind::Random => {
                let s = String::deserialize(d)?;
                if s == "not-all-zero" {
                    Ok(ViewCheck::NotAllZero)
                } else {
                    Err(de::Error::custom("random bytes can only be checked as `not-all-zero`"))
                }
            }
        }
    }
}
