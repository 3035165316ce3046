//! Steps: the function key, its arguments checked against the function table, `bind`,
//! `out-ptr` and `expect`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use wasi_conform_abi::types;
use wasi_conform_abi::{Function, ParamType, Returns, FUNCTIONS};

use super::expect::ExpectSeed;
use super::limits;
use super::values::*;
use crate::scenario::*;

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

pub(super) struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a step: a map whose first key is a preview1 function, e.g. `- fd_close: {fd: $f}`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Step, A::Error> {
        let first = m
            .next_key::<String>()?
            .ok_or_else(|| de::Error::custom("empty step: expected a preview1 function name as the first key"))?;
        let function = wasi_conform_abi::function(&first).ok_or_else(|| {
            de::Error::custom(format!(
                "`{first}` is not a preview1 function; a step starts with the function it calls (one of {})",
                FUNCTIONS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let (args, defaulted) = m.next_value_seed(ArgsSeed(function))?;
        let mut step = Step {
            function,
            args,
            defaulted,
            out_ptrs: vec![None; function.results.len()],
            bind: Vec::new(),
            expect: StepExpect::default(),
            line: 0,
            probe: None,
        };
        let mut seen_expect = false;
        while let Some(k) = m.next_key::<String>()? {
            match k.as_str() {
                "bind" => step.bind = m.next_value_seed(BindSeed(function))?,
                "expect" => {
                    step.expect = m.next_value_seed(ExpectSeed(function))?;
                    seen_expect = true;
                }
                "out-ptr" => {
                    let raw = m.next_value::<BTreeMap<String, u32>>()?;
                    for (name, ptr) in raw {
                        let idx = function.results.iter().position(|r| r.name == name).ok_or_else(|| {
                            de::Error::custom(format!(
                                "`out-ptr`: {} has no result `{name}` ({})",
                                function.name,
                                result_names(function)
                            ))
                        })?;
                        step.out_ptrs[idx] = Some(ptr);
                    }
                }
                "note" => {
                    m.next_value::<String>()?;
                }
                other if wasi_conform_abi::function(other).is_some() => {
                    return Err(de::Error::custom(format!("one call per step: `{other}` must start a new `- ` item")));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown step key `{other}`, expected one of bind, expect, out-ptr, note"
                    )))
                }
            }
        }
        if seen_expect && function.returns == Returns::Errno && step.expect.errno.is_none() {
            return Err(de::Error::custom(format!("the {} step's `expect` needs an `errno`", function.name)));
        }
        // A missing `expect` is allowed only on a step the scenario expects to trap in;
        // `build` checks that once `end` is known.
        Ok(step)
    }
}

pub(super) fn result_names(f: &Function) -> String {
    if f.results.is_empty() {
        "it has none".to_owned()
    } else {
        f.results.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
    }
}

struct ArgsSeed(&'static Function);

/// A step's arguments, and the parameters left to their defaults.
pub type Args = (Vec<Arg>, Vec<&'static str>);

impl<'de> DeserializeSeed<'de> for ArgsSeed {
    type Value = Args;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Args, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgsSeed {
    type Value = Args;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the arguments of {} as a map ({})", self.0.name, param_names(self.0))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Args, E> {
        complete_args(self.0, vec![None; self.0.params.len()]).map_err(E::custom)
    }
    fn visit_none<E: de::Error>(self) -> Result<Args, E> {
        self.visit_unit()
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Args, A::Error> {
        let f = self.0;
        let mut args: Vec<Option<Arg>> = vec![None; f.params.len()];
        while let Some(k) = m.next_key::<String>()? {
            let idx = f.params.iter().position(|p| p.name == k).ok_or_else(|| {
                de::Error::custom(format!("{} has no argument `{k}`; its arguments are {}", f.name, param_names(f)))
            })?;
            if args[idx].is_some() {
                return Err(de::Error::custom(format!("argument `{k}` given twice")));
            }
            args[idx] = Some(m.next_value_seed(ArgSeed(f.params[idx].ty, f.params[idx].name))?);
        }
        complete_args(f, args).map_err(de::Error::custom)
    }
}

fn param_names(f: &Function) -> String {
    if f.params.is_empty() {
        "none: write `{}`".to_owned()
    } else {
        f.params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    }
}

/// An argument a step must give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("{function}: give `nsubscriptions` when `in` is raw")]
    RawSubscriptionsUncounted { function: &'static str },
    #[error("{function} needs argument `{param}` (arguments: {params})")]
    Missing { function: &'static str, param: &'static str, params: String },
}

/// Completes the arguments given (one per parameter, `None` where not given) with the
/// defaults: flags → 0, `cookie` → 0, `nsubscriptions` → number of subscriptions, `out`
/// (events) → one per subscription, regions → 4096 bytes. Everything else is required.
/// Returns the arguments and the names of the parameters left to their default.
pub fn complete_args(f: &Function, mut args: Vec<Option<Arg>>) -> Result<Args, ArgsError> {
    let nsubs = args.iter().find_map(|a| match a {
        Some(Arg::Subscriptions(s)) => Some(s.len() as u32),
        _ => None,
    });
    let mut out = Vec::with_capacity(args.len());
    let mut defaulted = Vec::new();
    for (p, a) in f.params.iter().zip(args.iter_mut()) {
        let v = match a.take() {
            Some(v) => v,
            None => {
                defaulted.push(p.name);
                match p.ty {
                    ParamType::Flags(_) => Arg::Scalar(Scalar::Value(0)),
                    ParamType::Region => Arg::Region(DEFAULT_REGION),
                    ParamType::U64 if p.name == "cookie" => Arg::Scalar(Scalar::Value(0)),
                    ParamType::U32 if p.name == "nsubscriptions" => match nsubs {
                        Some(n) => Arg::Scalar(Scalar::Value(n as u64)),
                        None => return Err(ArgsError::RawSubscriptionsUncounted { function: f.name }),
                    },
                    ParamType::Events => Arg::Events(nsubs.unwrap_or(1).max(1)),
                    _ => return Err(ArgsError::Missing { function: f.name, param: p.name, params: param_names(f) }),
                }
            }
        };
        out.push(v);
    }
    Ok((out, defaulted))
}

/// Default size of a [`Arg::Region`].
pub const DEFAULT_REGION: u32 = 4096;

struct ArgSeed(ParamType, &'static str);

impl<'de> DeserializeSeed<'de> for ArgSeed {
    type Value = Arg;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arg, D::Error> {
        match self.0 {
            ParamType::Str => d.deserialize_any(DataVisitor { allow_raw: true }).map(Arg::Str),
            _ => d.deserialize_any(self),
        }
    }
}

/// The largest raw value a parameter's core type can carry.
fn core_max(ty: ParamType) -> u64 {
    match ty.core()[0] {
        wasi_conform_abi::CoreType::I32 => u32::MAX as u64,
        wasi_conform_abi::CoreType::I64 => u64::MAX,
    }
}

impl<'de> Visitor<'de> for ArgSeed {
    type Value = Arg;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let name = self.1;
        match self.0 {
            ParamType::Fd => write!(f, "`{name}`: a descriptor: `$binding` or an integer"),
            ParamType::U32 | ParamType::U64 => write!(f, "`{name}`: an unsigned integer or `$binding`"),
            ParamType::S64 => write!(f, "`{name}`: a signed integer"),
            ParamType::Enum(e) => write!(f, "`{name}`: a {} name ({}) or an integer", e.name, e.values.join(", ")),
            ParamType::Flags(t) => write!(f, "`{name}`: a list of {} names, `all`, or an integer", t.name),
            ParamType::Str => {
                write!(f, "`{name}`: a string, {{hex: …}}, {{repeat: …, times: …}} or {{ptr: …, len: …}}")
            }
            ParamType::Ciovecs => write!(f, "`{name}`: a list of strings (one ciovec each) or {{ptr: …, len: …}}"),
            ParamType::Iovecs => write!(f, "`{name}`: a list of buffer sizes (one iovec each) or {{ptr: …, len: …}}"),
            ParamType::Buffer => write!(f, "`{name}`: a buffer size, {{size: …, len: …}} or {{ptr: …, len: …}}"),
            ParamType::Region => write!(f, "`{name}`: an area size or {{ptr: …}}"),
            ParamType::Subscriptions => write!(f, "`{name}`: a list of subscriptions or {{ptr: …}}"),
            ParamType::Events => write!(f, "`{name}`: a number of events or {{ptr: …}}"),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Arg, E> {
        let ty = self.0;
        let fits = |v: u64| {
            if v > core_max(ty) {
                Err(E::custom(format!("`{}`: {v} does not fit the parameter's core type", self.1)))
            } else {
                Ok(v)
            }
        };
        match ty {
            ParamType::Fd
            | ParamType::U32
            | ParamType::U64
            | ParamType::S64
            | ParamType::Enum(_)
            | ParamType::Flags(_) => Ok(Arg::Scalar(Scalar::Value(fits(v)?))),
            ParamType::Buffer => {
                let n = u32::try_from(v).map_err(|_| E::custom("buffer size must fit in u32"))?;
                limits::value("a buffer", v).map_err(E::custom)?;
                Ok(Arg::Buffer { size: n, len: n })
            }
            ParamType::Region => {
                let n = u32::try_from(v).map_err(|_| E::custom("size must fit in u32"))?;
                limits::value("an area", v).map_err(E::custom)?;
                Ok(Arg::Region(n))
            }
            ParamType::Events => {
                let n = u32::try_from(v).map_err(|_| E::custom("count must fit in u32"))?;
                limits::events(v).map_err(E::custom)?;
                Ok(Arg::Events(n))
            }
            ParamType::Str | ParamType::Ciovecs | ParamType::Iovecs | ParamType::Subscriptions => {
                Err(E::invalid_type(de::Unexpected::Unsigned(v), &self))
            }
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Arg, E> {
        if v >= 0 {
            return self.visit_u64(v as u64);
        }
        match self.0 {
            ParamType::S64 => Ok(Arg::Scalar(Scalar::Value(v as u64))),
            _ => Err(E::custom(format!(
                "`{}`: negative values are only allowed for signed (filedelta) parameters",
                self.1
            ))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
        if let Some(b) = v.strip_prefix('$') {
            return match self.0 {
                ParamType::Fd | ParamType::U32 | ParamType::U64 | ParamType::Flags(_) => {
                    Ok(Arg::Scalar(Scalar::Binding(b.to_owned())))
                }
                _ => Err(E::custom(format!(
                    "`{}`: a `$binding` is only allowed for descriptors, unsigned integers and flags",
                    self.1
                ))),
            };
        }
        match self.0 {
            ParamType::Enum(e) => enum_value(e, v).map(|x| Arg::Scalar(Scalar::Value(x))).map_err(E::custom),
            ParamType::Flags(t) => flags_value(t, &[v]).map(|x| Arg::Scalar(Scalar::Value(x))).map_err(E::custom),
            _ => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Arg, A::Error> {
        match self.0 {
            ParamType::Flags(t) => {
                let mut names = Vec::new();
                while let Some(n) = s.next_element::<String>()? {
                    names.push(n);
                }
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                flags_value(t, &refs).map(|x| Arg::Scalar(Scalar::Value(x))).map_err(de::Error::custom)
            }
            ParamType::Ciovecs => {
                let mut v = Vec::new();
                while let Some(b) = s.next_element::<BytesValue>()? {
                    v.push(b.0);
                }
                Ok(Arg::Ciovecs(v))
            }
            ParamType::Iovecs => {
                let mut v = Vec::new();
                while let Some(n) = s.next_element::<u32>()? {
                    limits::value("an iovec", n as u64).map_err(de::Error::custom)?;
                    v.push(n);
                }
                Ok(Arg::Iovecs(v))
            }
            ParamType::Subscriptions => {
                let mut v = Vec::new();
                while let Some(sub) = s.next_element::<SubscriptionValue>()? {
                    v.push(sub.0);
                }
                Ok(Arg::Subscriptions(v))
            }
            _ => Err(de::Error::invalid_type(de::Unexpected::Seq, &self)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Arg, A::Error> {
        if let ParamType::Flags(t) = self.0 {
            return masked(t, self.1, m);
        }
        let (mut ptr, mut len, mut size) = (None, None, None);
        while let Some(k) = m.next_key::<String>()? {
            match k.as_str() {
                "ptr" => ptr = Some(m.next_value::<u32>()?),
                "len" => len = Some(m.next_value::<u32>()?),
                "size" if matches!(self.0, ParamType::Buffer) => size = Some(m.next_value::<u32>()?),
                other => {
                    return Err(de::Error::custom(format!("unknown key `{other}`: expected {}", Expecting(&self))))
                }
            }
        }
        let has_len = matches!(self.0, ParamType::Ciovecs | ParamType::Iovecs | ParamType::Buffer);
        match (self.0, ptr, len, size) {
            (ParamType::Buffer, None, len, Some(size)) => {
                limits::value("a buffer", size as u64).map_err(de::Error::custom)?;
                Ok(Arg::Buffer { size, len: len.unwrap_or(size) })
            }
            (_, Some(ptr), Some(len), None) if has_len => Ok(Arg::Raw { ptr, len }),
            (ParamType::Region | ParamType::Subscriptions | ParamType::Events, Some(ptr), None, None) => {
                Ok(Arg::Raw { ptr, len: 0 })
            }
            _ => Err(de::Error::custom(format!("expected {}", Expecting(&self)))),
        }
    }
}

/// `{of: $binding, and: mask}` for a flags parameter: the bound value with only the bits of
/// the mask (a list of names, `all`, or an integer).
fn masked<'de, A: MapAccess<'de>>(t: &'static types::FlagsType, name: &str, mut m: A) -> Result<Arg, A::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Mask {
        Names(Vec<String>),
        Name(String),
        Raw(u64),
    }
    let (mut of, mut mask) = (None, None);
    while let Some(k) = m.next_key::<String>()? {
        match k.as_str() {
            "of" => of = Some(m.next_value::<String>()?),
            "and" => mask = Some(m.next_value::<Mask>()?),
            other => {
                return Err(de::Error::custom(format!(
                    "`{name}`: unknown key `{other}`: expected {{of: $binding, and: {} flags}}",
                    t.name
                )))
            }
        }
    }
    let expected = || de::Error::custom(format!("`{name}`: expected {{of: $binding, and: {} flags}}", t.name));
    let binding = of.as_deref().and_then(|b| b.strip_prefix('$')).ok_or_else(expected)?.to_owned();
    let mask = match mask.ok_or_else(expected)? {
        Mask::Names(v) => {
            flags_value(t, &v.iter().map(String::as_str).collect::<Vec<_>>()).map_err(de::Error::custom)?
        }
        Mask::Name(n) => flags_value(t, &[n.as_str()]).map_err(de::Error::custom)?,
        Mask::Raw(v) => v,
    };
    Ok(Arg::Scalar(Scalar::Masked { binding, mask }))
}

struct SubscriptionValue(Subscription);

impl<'de> Deserialize<'de> for SubscriptionValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct Clock {
            id: EnumOrInt<ClockidTag>,
            timeout: u64,
            #[serde(default)]
            precision: u64,
            #[serde(default)]
            flags: ClockFlags,
        }
        /// `subscription_clock.flags`: witx names, or a raw integer (undefined bits on purpose).
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum ClockFlags {
            Names(Vec<String>),
            Raw(u16),
        }
        impl Default for ClockFlags {
            fn default() -> Self {
                ClockFlags::Names(Vec::new())
            }
        }
        // Keys are witx names (`fd_read`, `fd_write`), not kebab-case.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            userdata: u64,
            clock: Option<Clock>,
            fd_read: Option<FdValue>,
            fd_write: Option<FdValue>,
            tag: Option<u8>,
        }
        let r = Raw::deserialize(d)?;
        let kind = match (r.clock, r.fd_read, r.fd_write, r.tag) {
            (Some(c), None, None, None) => {
                let flags = match &c.flags {
                    ClockFlags::Names(names) => {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        flags_value(&types::SUBCLOCKFLAGS, &names).map_err(de::Error::custom)?
                    }
                    ClockFlags::Raw(bits) => u64::from(*bits),
                };
                SubscriptionKind::Clock { id: c.id.0, timeout: c.timeout, precision: c.precision, flags }
            }
            (None, Some(fd), None, None) => SubscriptionKind::FdRead(fd.0),
            (None, None, Some(fd), None) => SubscriptionKind::FdWrite(fd.0),
            (None, None, None, Some(t)) => SubscriptionKind::Tag(t),
            _ => return Err(de::Error::custom("a subscription has exactly one of clock, fd_read, fd_write, tag")),
        };
        Ok(SubscriptionValue(Subscription { userdata: r.userdata, kind }))
    }
}

/// A descriptor in a subscription: `$binding` or an integer.
struct FdValue(Scalar);

impl<'de> Deserialize<'de> for FdValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ArgSeed(ParamType::Fd, "fd").deserialize(d)? {
            Arg::Scalar(s) => Ok(FdValue(s)),
            _ => Err(de::Error::custom("expected a descriptor")),
        }
    }
}

/// `bind: f` (the first result), or `bind: {name: source, …}` where a source is a result
/// (`opened_fd`), a record field (`filestat.ino`), or for `fd_readdir` a field of the
/// N-th complete entry (`entries.2.next`, `entries.0.ino`).
struct BindSeed(&'static Function);

fn check_bind_name<E: de::Error>(b: &str) -> Result<(), E> {
    if b.starts_with('$') || b.is_empty() || !b.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return Err(E::custom(format!("binding name `{b}`: write it without `$` (letters, digits, `_-.`)")));
    }
    Ok(())
}

impl BindSeed {
    fn source<E: de::Error>(&self, s: &str) -> Result<BindSource, E> {
        let f = self.0;
        let mut parts = s.split('.');
        let head = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        if head == "entries" && f.name == "fd_readdir" {
            let index = rest.first().and_then(|i| match *i {
                "last" => Some(EntryIndex::Last),
                n => n.parse::<u32>().ok().map(EntryIndex::Nth),
            });
            let (Some(index), Some(field), 2) = (index, rest.get(1), rest.len()) else {
                return Err(E::custom(format!(
                    "`{s}`: write `entries.<index>.next`, `entries.<index>.ino` or `entries.last.next`"
                )));
            };
            let field = match *field {
                "next" => "next",
                "ino" => "ino",
                other => return Err(E::custom(format!("`{other}`: a dirent binding takes `next` or `ino`"))),
            };
            return Ok(BindSource::Entry { index, field });
        }
        let result = f.results.iter().position(|r| r.name == head).ok_or_else(|| {
            E::custom(format!("`{s}`: {} has no result `{head}` to bind ({})", f.name, result_names(f)))
        })?;
        let ty = f.results[result].ty;
        match rest.as_slice() {
            [] if ty.fields().is_empty() => Ok(BindSource::Result { result, field: None }),
            [] => Err(E::custom(format!(
                "`{s}` is a record: bind one of its fields ({})",
                ty.fields().iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
            ))),
            [field] => {
                let (name, ..) = ty.fields().iter().copied().find(|x| x.0 == *field).ok_or_else(|| {
                    E::custom(format!(
                        "`{s}`: `{head}` has no field `{field}` ({})",
                        ty.fields().iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                Ok(BindSource::Result { result, field: Some(name) })
            }
            _ => Err(E::custom(format!("`{s}`: expected `result` or `result.field`"))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for BindSeed {
    type Value = Vec<Bind>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Bind>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BindSeed {
    type Value = Vec<Bind>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a name (binds the first result) or a map of names to `result`, `result.field` or `entries.N.next`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<Bind>, E> {
        check_bind_name(v)?;
        let first =
            self.0.results.first().ok_or_else(|| E::custom(format!("{} has no result to bind", self.0.name)))?;
        let source = self.source(first.name)?;
        Ok(vec![Bind { name: v.to_owned(), source }])
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Vec<Bind>, A::Error> {
        let mut out = Vec::new();
        while let Some(name) = m.next_key::<String>()? {
            check_bind_name(&name)?;
            let src: String = m.next_value()?;
            out.push(Bind { name, source: self.source(&src)? });
        }
        Ok(out)
    }
}
