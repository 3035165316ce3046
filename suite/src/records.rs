//! The record results (`fdstat`, `filestat`, `prestat`): the type of each field, stated
//! once. Where a field lies comes from the function table (`wasi_conform_abi::layout`);
//! what it holds is here, for the loader (how a field check is written), the verdict (how a
//! value is shown), the YAML writer (how a value is written back) and the fuzz normaliser
//! (how an observed value is compared).

use wasi_conform_abi::types::{self, EnumType, FlagsType};
use wasi_conform_abi::ResultType;

use crate::describe;

/// What one record field holds.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// A number (device, inode, size, timestamp, length).
    Int,
    /// A value of a witx enum, written by name.
    Enum(&'static EnumType),
    /// A set of witx flags, written as a list of names.
    Flags(&'static FlagsType),
}

impl FieldType {
    /// A value for messages: `directory`, `APPEND|SYNC`, `17`.
    pub fn describe(self, v: u64) -> String {
        match self {
            FieldType::Int => v.to_string(),
            FieldType::Enum(e) => describe::enum_value(e, v),
            FieldType::Flags(f) => f.describe(v),
        }
    }
}

/// The fields of a record result, in layout order, with their types; empty for a scalar.
pub fn fields(ty: ResultType) -> &'static [(&'static str, FieldType)] {
    static FDSTAT: [(&str, FieldType); 4] = [
        ("filetype", FieldType::Enum(&types::FILETYPE)),
        ("flags", FieldType::Flags(&types::FDFLAGS)),
        ("rights_base", FieldType::Flags(&types::RIGHTS)),
        ("rights_inheriting", FieldType::Flags(&types::RIGHTS)),
    ];
    static FILESTAT: [(&str, FieldType); 8] = [
        ("dev", FieldType::Int),
        ("ino", FieldType::Int),
        ("filetype", FieldType::Enum(&types::FILETYPE)),
        ("nlink", FieldType::Int),
        ("size", FieldType::Int),
        ("atim", FieldType::Int),
        ("mtim", FieldType::Int),
        ("ctim", FieldType::Int),
    ];
    static PRESTAT: [(&str, FieldType); 2] =
        [("tag", FieldType::Enum(&types::PREOPENTYPE)), ("name_len", FieldType::Int)];
    match ty {
        ResultType::Fdstat => &FDSTAT,
        ResultType::Filestat => &FILESTAT,
        ResultType::Prestat => &PRESTAT,
        ResultType::Size | ResultType::Fd | ResultType::Filesize | ResultType::Timestamp | ResultType::Roflags => &[],
    }
}

/// The type of one field of a record result.
pub fn field_type(ty: ResultType, field: &str) -> Option<FieldType> {
    fields(ty).iter().find(|(name, _)| *name == field).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_layout_has_a_type_and_no_other() {
        for ty in [ResultType::Fdstat, ResultType::Filestat, ResultType::Prestat] {
            let laid_out: Vec<&str> = ty.fields().iter().map(|f| f.0).collect();
            let typed: Vec<&str> = fields(ty).iter().map(|f| f.0).collect();
            assert_eq!(laid_out, typed, "{ty:?}");
        }
    }
}
