//! The self-checking variant of a compiled scenario ([`TraceSink::SelfCheck`]), for
//! harnesses that judge a run only by its exit code and output — the wasi-testsuite format
//! written by `wasi-conform export --wasi-testsuite`.
//!
//! The module makes exactly the calls of the ordinary variant and, in addition:
//! - after the preopen scan, checks that every fixture preopen was found by name (the
//!   names are given by the caller: an exported test's fixture directories are named
//!   after the test, not after the scenario's `/sandbox`);
//! - after each step, compares the errno with the scenario's allowed set, and when the
//!   call succeeded, the integer results (exact, one-of, bits, ranges and `$binding`
//!   comparisons, record fields) and the byte views (`read`, `contents`, `name`, `buf:
//!   not-all-zero`) exactly as [`crate::verdict`] does;
//! - on the first mismatch writes one line to fd 2 (`step 3 path_open: errno 44 (noent),
//!   expected one of {8 (badf)}`) and calls `proc_exit(`[`SELF_CHECK_EXIT`]`)`.
//!
//! What a module cannot check about itself — how the run ends, stdout/stderr, final trees,
//! the canaries — is left to the harness; checks it cannot express (directory entries,
//! argv/environ strings, poll events, a comparison with a value bound by a later step)
//! make [`compile_self_checking`] refuse the scenario with the reason, so that nothing is
//! exported half-checked.

use std::collections::BTreeMap;

use wasi_conform_abi::{layout, Errno, ResultType};
use wasm_encoder::{BlockType, Function as Body, Instruction as I, ValType};

use super::asm::{compare_bytes, mem, write_all};
use super::memory_map::StepLayout;
use super::{CompileError, Compiler, TraceSink};
use crate::observe::{self, BytesSource};
use crate::scenario::*;
use crate::trace::STEP_ERRNO;
use crate::views::{self, ViewKind};

/// Exit code of a self-checking module whose check failed. Chosen to differ from every
/// exit code the suite's scenarios expect and from the codes runtimes use for traps
/// (134, 128 + signal) or their own errors (1, 2).
pub const SELF_CHECK_EXIT: u32 = 97;

/// `$self_check_failed(pre_ptr, pre_len, kind, value, post_ptr, post_len)`: writes
/// `pre`, then the value (kind 1: as an errno with its name; 2: in decimal; 0: nothing),
/// then `post` to fd 2, and exits with [`SELF_CHECK_EXIT`].
pub(super) const FAIL_PARAMS: [ValType; 6] =
    [ValType::I32, ValType::I32, ValType::I32, ValType::I64, ValType::I32, ValType::I32];
/// The `_start` local (i64) the checks load values into.
const VALUE: u32 = 6;
/// Bytes per entry of the errno name table (a length byte, then the text).
const NAME_ENTRY: u32 = 32;
/// Entries of the errno name table: one per errno, then "not an errno".
const NAME_ENTRIES: u32 = 78;

/// Why a scenario cannot be compiled into a self-checking module.
#[derive(Debug, thiserror::Error)]
pub enum SelfCheckError {
    /// A check the module cannot make about itself.
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Compiles the self-checking variant. `guest_names[i]` is the name under which the
/// harness preopens the scenario's `i`-th preopen (`/` or `./` prefixes and a trailing `/`
/// are ignored, as for the ordinary variant).
pub fn compile_self_checking(s: &Scenario, guest_names: &[String]) -> Result<Vec<u8>, SelfCheckError> {
    assert_eq!(guest_names.len(), s.fixture.preopens.len(), "one guest name per preopen");
    let mut c = Compiler::new(s, TraceSink::SelfCheck);
    c.check = Some(CheckState {
        guest_names: guest_names.iter().map(|n| strip_name(n).to_owned()).collect(),
        ..CheckState::default()
    });
    let bytes = c.module(s)?;
    if let Some(why) = c.check.as_ref().and_then(|k| k.refused.first().cloned()) {
        return Err(SelfCheckError::Unsupported(why));
    }
    super::validate(&bytes).map_err(|message| CompileError::Invalid { id: s.id.clone(), message })?;
    Ok(bytes)
}

/// A preopen name as the module's matcher sees it.
fn strip_name(n: &str) -> &str {
    let n = n.strip_prefix("./").or_else(|| n.strip_prefix('/')).unwrap_or(n);
    n.strip_suffix('/').unwrap_or(n)
}

/// Addresses and imports the checks use.
#[derive(Debug, Default)]
pub(super) struct CheckState {
    pub(super) guest_names: Vec<String>,
    fd_write: u32,
    proc_exit: u32,
    /// Three iovecs, the decimal scratch (20 bytes), the nwritten slot.
    iov: u32,
    digits: u32,
    nwritten: u32,
    names: u32,
    /// Per fixture preopen: its "not found" message.
    missing: Vec<(u32, u32)>,
    newline: u32,
    /// The step (0-based) that binds each name last.
    binders: BTreeMap<String, usize>,
    /// Checks that could not be expressed, in step order.
    refused: Vec<String>,
}

impl CheckState {
    /// After the scan: every fixture preopen must have been found.
    pub(super) fn preopens_found(&self, slots_at: u32, fail_fn: u32) -> Vec<I<'static>> {
        let mut v = Vec::new();
        for (k, (msg, len)) in self.missing.iter().enumerate() {
            v.extend([
                I::I32Const((slots_at + 4 * k as u32) as i32),
                I::I32Load(mem(0, 2)),
                I::I32Const(-1),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::I32Const(*msg as i32),
                I::I32Const(*len as i32),
                I::I32Const(0),
                I::I64Const(0),
                I::I32Const(0),
                I::I32Const(0),
                I::Call(fail_fn),
                I::End,
            ]);
        }
        v
    }

    pub(super) fn fail_body(&self) -> Body {
        let (pre_ptr, pre_len, kind, value, post_ptr, post_len) = (0, 1, 2, 3, 4, 5);
        let (i, ptr, len, n) = (6, 7, 8, 9);
        let iov = self.iov as i32;
        let mut b = Body::new(vec![(4, ValType::I32)]);
        let ins = [
            I::I32Const(iov),
            I::LocalGet(pre_ptr),
            I::I32Store(mem(0, 2)),
            I::I32Const(iov),
            I::LocalGet(pre_len),
            I::I32Store(mem(4, 2)),
            // kind 1: the errno's entry in the name table
            I::LocalGet(kind),
            I::I32Const(1),
            I::I32Eq,
            I::If(BlockType::Empty),
            I::LocalGet(value),
            I::I64Const(NAME_ENTRIES as i64 - 1),
            I::I64GtU,
            I::If(BlockType::Empty),
            I::I64Const(NAME_ENTRIES as i64 - 1),
            I::LocalSet(value),
            I::End,
            I::LocalGet(value),
            I::I32WrapI64,
            I::I32Const(NAME_ENTRY as i32),
            I::I32Mul,
            I::I32Const(self.names as i32),
            I::I32Add,
            I::LocalTee(ptr),
            I::I32Load8U(mem(0, 0)),
            I::LocalSet(len),
            I::LocalGet(ptr),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(ptr),
            I::End,
            // kind 2: decimal, written backwards into the scratch
            I::LocalGet(kind),
            I::I32Const(2),
            I::I32Eq,
            I::If(BlockType::Empty),
            I::I32Const(20),
            I::LocalSet(i),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            I::I32Const(1),
            I::I32Sub,
            I::LocalSet(i),
            I::I32Const(self.digits as i32),
            I::LocalGet(i),
            I::I32Add,
            I::LocalGet(value),
            I::I64Const(10),
            I::I64RemU,
            I::I32WrapI64,
            I::I32Const(b'0' as i32),
            I::I32Add,
            I::I32Store8(mem(0, 0)),
            I::LocalGet(value),
            I::I64Const(10),
            I::I64DivU,
            I::LocalTee(value),
            I::I64Const(0),
            I::I64Ne,
            I::BrIf(0),
            I::End,
            I::I32Const(self.digits as i32),
            I::LocalGet(i),
            I::I32Add,
            I::LocalSet(ptr),
            I::I32Const(20),
            I::LocalGet(i),
            I::I32Sub,
            I::LocalSet(len),
            I::End,
            I::I32Const(iov),
            I::LocalGet(ptr),
            I::I32Store(mem(8, 2)),
            I::I32Const(iov),
            I::LocalGet(len),
            I::I32Store(mem(12, 2)),
            I::I32Const(iov),
            I::LocalGet(post_ptr),
            I::I32Store(mem(16, 2)),
            I::I32Const(iov),
            I::LocalGet(post_len),
            I::I32Store(mem(20, 2)),
        ];
        for x in &ins {
            b.instruction(x);
        }
        // Each iovec on its own, looping over short writes: a host may write only part of
        // an iovec array (Wasmtime writes its first non-empty iovec). A closed or
        // renumbered fd 2 loses the line; the exit code still tells.
        let scratch = iov + 24;
        let head = [
            I::I32Const(0),
            I::LocalSet(i),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(i),
            I::I32Const(3),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(i),
            I::I32Const(8),
            I::I32Mul,
            I::I32Const(iov),
            I::I32Add,
            I::LocalTee(ptr),
            I::I32Load(mem(4, 2)),
            I::LocalSet(len),
            I::LocalGet(ptr),
            I::I32Load(mem(0, 2)),
            I::LocalSet(ptr),
        ];
        let tail = [
            I::LocalGet(i),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(i),
            I::Br(0),
            I::End,
            I::End,
            I::I32Const(SELF_CHECK_EXIT as i32),
            I::Call(self.proc_exit),
            I::Unreachable,
            I::End,
        ];
        // A failed or empty write gives up on this iovec (out of the `if`, the loop and the
        // block around it) and goes on with the next.
        let inner = write_all(self.fd_write, scratch as u32, self.nwritten, (ptr, len, n), I::Br(2));
        for x in head.iter().chain(&inner).chain(&tail) {
            b.instruction(x);
        }
        b
    }
}

/// `$memeq(a, b, n) -> i32`: whether `n` bytes at `a` and `b` are equal.
pub(super) fn memeq_body() -> Body {
    let (a, b_, n, i) = (0, 1, 2, 3);
    let mut b = Body::new(vec![(1, ValType::I32)]);
    for x in compare_bytes(a, b_, n, i).iter().chain(&[I::I32Const(1), I::End]) {
        b.instruction(x);
    }
    b
}

/// A message placed in guest memory: (address, length).
type Msg = (u32, u32);

/// The step that binds each name last (a check must not compare with a value that a
/// later step rebinds: the verdict reads bindings at the end of the run).
fn last_binders(s: &Scenario) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (k, st) in s.steps.iter().enumerate() {
        for b in &st.bind {
            m.insert(b.name.clone(), k);
        }
    }
    m
}

fn show_bytes(b: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(b).escape_debug().collect();
    if s.chars().count() > 60 {
        format!("\"{}…\" ({} bytes)", s.chars().take(60).collect::<String>(), b.len())
    } else {
        format!("\"{s}\"")
    }
}

impl Compiler {
    /// Imports, the errno name table, scratch areas and the preopen messages.
    pub(super) fn self_check_prepare(&mut self, s: &Scenario) {
        let fd_write = self.functions.import_named("fd_write");
        let proc_exit = self.functions.import_named("proc_exit");
        let mut table = vec![0u8; (NAME_ENTRY * NAME_ENTRIES) as usize];
        let mut put_name = |idx: u32, text: &str| {
            let at = (idx * NAME_ENTRY) as usize;
            let bytes = &text.as_bytes()[..text.len().min(NAME_ENTRY as usize - 1)];
            table[at] = bytes.len() as u8;
            table[at + 1..at + 1 + bytes.len()].copy_from_slice(bytes);
        };
        for idx in 0..NAME_ENTRIES - 1 {
            match Errno::from_raw(idx) {
                Some(e) => put_name(idx, &format!("{idx} ({})", e.name())),
                None => put_name(idx, &format!("{idx} (not an errno)")),
            }
        }
        put_name(NAME_ENTRIES - 1, "a value that is not an errno");
        let names = self.memory.put(table);
        // Three iovecs and a scratch one.
        let iov = self.memory.alloc(32);
        let digits = self.memory.alloc(20);
        let nwritten = self.memory.alloc(4);
        let newline = self.memory.put(b"\n".to_vec());
        let guest_names = self.check.as_ref().map(|c| c.guest_names.clone()).unwrap_or_default();
        let missing = s
            .fixture
            .preopens
            .iter()
            .zip(&guest_names)
            .map(|(p, g)| self.msg(format!("preopen {} (given as {g:?}) was not found by name\n", p.name)))
            .collect();
        let c = self.check.as_mut().expect("self-check state");
        c.fd_write = fd_write;
        c.proc_exit = proc_exit;
        c.names = names;
        c.iov = iov;
        c.digits = digits;
        c.nwritten = nwritten;
        c.newline = newline;
        c.missing = missing;
        c.binders = last_binders(s);
    }

    fn msg(&mut self, text: String) -> Msg {
        let len = text.len() as u32;
        (self.memory.put(text.into_bytes()), len)
    }

    fn refuse(&mut self, why: String) {
        if let Some(c) = self.check.as_mut() {
            c.refused.push(why);
        }
    }

    /// `$self_check_failed(pre, kind, value-in-VALUE, post)`.
    fn fail_call(&self, pre: Msg, kind: i32, post: Msg) -> Vec<I<'static>> {
        vec![
            I::I32Const(pre.0 as i32),
            I::I32Const(pre.1 as i32),
            I::I32Const(kind),
            I::LocalGet(VALUE),
            I::I32Const(post.0 as i32),
            I::I32Const(post.1 as i32),
            I::Call(self.functions.self_check_failed().expect("a self-checking module")),
        ]
    }

    /// The checks after step `k` (0-based).
    pub(super) fn self_check_step(&mut self, k: u32, step: &Step, sl: &StepLayout, code: &mut Vec<I<'static>>) {
        let Some(expect) = &step.expect.errno else { return };
        let f = step.function;
        let rec = self.layout.step_record(k);
        let what = format!("step {} {}", k + 1, f.name);
        let allowed: Vec<Errno> = match expect {
            ErrnoExpect::One(e) => vec![*e],
            ErrnoExpect::OneOf { set, .. } => set.clone(),
        };
        let shown: Vec<String> = allowed.iter().map(|e| format!("{} ({})", e.raw(), e.name())).collect();
        let expected = if allowed.len() == 1 { shown[0].clone() } else { format!("one of {{{}}}", shown.join(", ")) };
        let pre = self.msg(format!("{what}: errno "));
        let post = self.msg(format!(", expected {expected}\n"));
        code.extend([I::I32Const(rec as i32), I::I64Load32U(mem(STEP_ERRNO as u64, 2)), I::LocalSet(VALUE)]);
        for (i, e) in allowed.iter().enumerate() {
            code.extend([I::LocalGet(VALUE), I::I64Const(e.raw() as i64), I::I64Eq]);
            if i > 0 {
                code.push(I::I32Or);
            }
        }
        code.extend([I::I32Eqz, I::If(BlockType::Empty)]);
        code.extend(self.fail_call(pre, 1, post));
        code.push(I::End);

        // Values are compared only after a success, as the verdict does.
        let mut checks: Vec<I<'static>> = Vec::new();
        for (name, check) in &step.expect.results {
            let Some((i, r)) = f.results.iter().enumerate().find(|(_, r)| r.name == *name) else { continue };
            let at = sl.results[i];
            match (r.ty, check) {
                (ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat, ValueCheck::Fields(fields)) => {
                    for (field, c) in fields {
                        let Some((_, offset, size)) = layout::field(r.ty.fields(), field) else { continue };
                        self.value_check(k, &format!("{what}: {name}.{field}"), at + offset, size, c, &mut checks);
                    }
                }
                (ResultType::Fdstat | ResultType::Filestat | ResultType::Prestat, _) | (_, ValueCheck::Fields(_)) => {}
                (ty, c) => self.value_check(k, &format!("{what}: {name}"), at, ty.shape().size, c, &mut checks),
            }
        }
        for (name, check) in &step.expect.views {
            let kind = views::kind(f, name);
            match (kind, check) {
                (Some(ViewKind::Bytes), ViewCheck::Bytes(want)) => {
                    self.bytes_check(&format!("{what}: {name}"), step, sl, want, &mut checks)
                }
                (Some(ViewKind::Random), ViewCheck::NotAllZero) => match sl.buffer {
                    Some((at, len)) if len > 0 => {
                        let zeros = self.memory.alloc(len as u64);
                        let m = self.msg(format!("{what}: {name}: every byte is zero\n"));
                        checks.extend([
                            I::I32Const(at as i32),
                            I::I32Const(zeros as i32),
                            I::I32Const(len as i32),
                            I::Call(self.functions.memeq().expect("a self-checking module")),
                            I::If(BlockType::Empty),
                        ]);
                        checks.extend(self.fail_call(m, 0, (0, 0)));
                        checks.push(I::End);
                    }
                    _ => {}
                },
                _ => self.refuse(format!(
                    "{what} checks `{name}` ({}), which a module cannot compare about itself here",
                    match kind {
                        Some(ViewKind::Strings) => "a list of strings",
                        Some(ViewKind::Entries) => "directory entries as a set",
                        Some(ViewKind::Events) => "poll events",
                        Some(ViewKind::Bytes) | Some(ViewKind::Random) | None => "an unusual view",
                    }
                )),
            }
        }
        if !checks.is_empty() {
            code.extend([
                I::I32Const(rec as i32),
                I::I32Load(mem(STEP_ERRNO as u64, 2)),
                I::I32Eqz,
                I::If(BlockType::Empty),
            ]);
            code.extend(checks);
            code.push(I::End);
        }
    }

    /// Pushes a binding's value as i64; `None` when it is not bound at step `k` for good.
    fn binding_i64(&mut self, k: u32, name: &str, what: &str, out: &mut Vec<I<'static>>) -> bool {
        let later = self.check.as_ref().and_then(|c| c.binders.get(name)).is_some_and(|last| *last > k as usize);
        let Some((at, width)) = self.layout.bindings.get(name).copied().filter(|_| !later) else {
            self.refuse(format!("{what} compares with ${name}, bound again by a later step"));
            return false;
        };
        out.push(I::I32Const(at as i32));
        out.push(load_i64(width));
        true
    }

    fn value_check(&mut self, k: u32, what: &str, at: u32, width: u32, check: &ValueCheck, out: &mut Vec<I<'static>>) {
        let mut cond: Vec<I<'static>> = Vec::new();
        let expected = match check {
            ValueCheck::Exact(x) => {
                cond.extend([I::LocalGet(VALUE), I::I64Const(*x as i64), I::I64Eq]);
                x.to_string()
            }
            ValueCheck::OneOf { set, .. } => {
                cond.push(I::I32Const(0));
                for x in set {
                    cond.extend([I::LocalGet(VALUE), I::I64Const(*x as i64), I::I64Eq, I::I32Or]);
                }
                format!("one of {set:?}")
            }
            ValueCheck::Bits { set, clear } => {
                cond.extend([
                    I::LocalGet(VALUE),
                    I::I64Const(*set as i64),
                    I::I64And,
                    I::I64Const(*set as i64),
                    I::I64Eq,
                    I::LocalGet(VALUE),
                    I::I64Const(*clear as i64),
                    I::I64And,
                    I::I64Eqz,
                    I::I32And,
                ]);
                format!("bits {set:#x} set and {clear:#x} clear")
            }
            ValueCheck::SameAs(b) => {
                cond.push(I::LocalGet(VALUE));
                if !self.binding_i64(k, b, what, &mut cond) {
                    return;
                }
                cond.push(I::I64Eq);
                format!("${b}")
            }
            ValueCheck::Range { min, max } => {
                cond.push(I::I32Const(1));
                let mut shown = [String::new(), String::new()];
                for (i, (bound, op)) in [(min, I::I64GeU), (max, I::I64LeU)].into_iter().enumerate() {
                    let Some(bound) = bound else { continue };
                    cond.push(I::LocalGet(VALUE));
                    match bound {
                        Bound::Value(v) => {
                            cond.push(I::I64Const(*v as i64));
                            shown[i] = v.to_string();
                        }
                        Bound::Binding(b) => {
                            if !self.binding_i64(k, b, what, &mut cond) {
                                return;
                            }
                            shown[i] = format!("${b}");
                        }
                    }
                    cond.extend([op, I::I32And]);
                }
                format!("{}..={}", shown[0], shown[1])
            }
            ValueCheck::Fields(_) => return,
        };
        let pre = self.msg(format!("{what}: expected {expected}, observed "));
        let post = (self.check.as_ref().map_or(0, |c| c.newline), 1);
        out.extend([I::I32Const(at as i32), load_i64(width), I::LocalSet(VALUE)]);
        out.extend(cond);
        out.extend([I::I32Eqz, I::If(BlockType::Empty)]);
        out.extend(self.fail_call(pre, 2, post));
        out.push(I::End);
    }

    /// `read` / `contents` / `name`: the bytes the host wrote, where and as the verdict
    /// reads them ([`observe::bytes_source`]).
    fn bytes_check(&mut self, what: &str, step: &Step, sl: &StepLayout, want: &[u8], out: &mut Vec<I<'static>>) {
        let Some(BytesSource { pieces, used, .. }) = observe::bytes_source(step, sl) else {
            self.refuse(format!("{what} is checked on a buffer passed raw"));
            return;
        };
        // The cap on `used`: every byte of the pieces.
        let cap: u32 = pieces.iter().map(|(_, n)| n).sum();
        let want_at = self.memory.put(want.to_vec());
        let n = want.len() as u32;
        let count_msg = self.msg(format!("{what}: expected {} ({n} bytes), observed ", show_bytes(want)));
        let bytes_msg = self.msg(format!("{what}: expected {}, observed other bytes\n", show_bytes(want)));
        let suffix = self.msg(" bytes\n".to_owned());
        // VALUE = min(used, cap), or cap when the function has no `used` result.
        match used {
            Some(used) => out.extend([
                I::I32Const(used as i32),
                I::I64Load32U(mem(0, 0)),
                I::LocalSet(VALUE),
                I::LocalGet(VALUE),
                I::I64Const(cap as i64),
                I::I64GtU,
                I::If(BlockType::Empty),
                I::I64Const(cap as i64),
                I::LocalSet(VALUE),
                I::End,
            ]),
            None => out.extend([I::I64Const(cap as i64), I::LocalSet(VALUE)]),
        }
        out.extend([I::LocalGet(VALUE), I::I64Const(n as i64), I::I64Ne, I::If(BlockType::Empty)]);
        out.extend(self.fail_call(count_msg, 2, suffix));
        out.push(I::End);
        let mut offset = 0u32;
        for (at, len) in pieces {
            let take = len.min(n - offset);
            if take > 0 {
                out.extend([
                    I::I32Const(at as i32),
                    I::I32Const((want_at + offset) as i32),
                    I::I32Const(take as i32),
                    I::Call(self.functions.memeq().expect("a self-checking module")),
                    I::I32Eqz,
                    I::If(BlockType::Empty),
                ]);
                out.extend(self.fail_call(bytes_msg, 0, (0, 0)));
                out.push(I::End);
            }
            offset += take;
        }
    }
}

fn load_i64(width: u32) -> I<'static> {
    match width {
        1 => I::I64Load8U(mem(0, 0)),
        2 => I::I64Load16U(mem(0, 0)),
        8 => I::I64Load(mem(0, 0)),
        _ => I::I64Load32U(mem(0, 0)),
    }
}
