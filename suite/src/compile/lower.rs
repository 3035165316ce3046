//! Lowering the steps: each step becomes "mark started, push the arguments, call, store
//! the errno, mark returned", with its data and output areas allocated from the
//! [`MemoryMap`](super::memory_map::MemoryMap) and its bindings recorded in the layout.

use wasi_conform_abi::layout::{self, subscription, subscription_clock, subscription_fd_readwrite, Field};
use wasi_conform_abi::types::eventtype;
use wasi_conform_abi::{CoreType, ParamType, Returns};
use wasm_encoder::Instruction as I;

use super::asm::mem;
use super::dirent::dirent_field;
use super::memory_map::StepLayout;
use super::{Compiler, TraceSink};
use crate::scenario::*;
use crate::trace::{RETURNED, STARTED, STEP_ERRNO};

/// Writes `value` into `field` of a record, little-endian, truncated to the field's size.
fn put_field(record: &mut [u8], (_, offset, size): Field, value: u64) {
    let (at, n) = (offset as usize, size as usize);
    record[at..at + n].copy_from_slice(&value.to_le_bytes()[..n]);
}

impl Compiler {
    /// Emits one step: mark started, push arguments, call, record errno, mark returned.
    pub(super) fn step(&mut self, k: u32, step: &Step, code: &mut Vec<I<'static>>) {
        let f = step.function;
        let idx = self.functions.import(f);
        let rec = self.layout.step_record(k);
        let area_start = self.memory.end().unwrap_or(u32::MAX);
        let mut sl = StepLayout::default();
        let mut pre: Vec<I<'static>> = Vec::new();
        let mut args: Vec<I<'static>> = Vec::new();
        for (p, a) in f.params.iter().zip(&step.args) {
            self.arg(p.ty, a, &mut sl, &mut pre, &mut args);
        }
        for (i, r) in f.results.iter().enumerate() {
            let shape = r.ty.shape();
            let at = match step.out_ptrs.get(i).copied().flatten() {
                Some(raw) => raw,
                None => self.memory.put(vec![0xff; shape.size as usize]),
            };
            sl.results.push(at);
            args.push(I::I32Const(at as i32));
        }
        let mut after: Vec<I<'static>> = Vec::new();
        for b in &step.bind {
            let slot = match &b.source {
                BindSource::Result { result, field: None } => (sl.results[*result], f.results[*result].ty.shape().size),
                BindSource::Result { result, field: Some(name) } => {
                    let (_, offset, size) =
                        layout::field(f.results[*result].ty.fields(), name).expect("the loader checked the field");
                    (sl.results[*result] + offset, size)
                }
                BindSource::Entry { index, field } => {
                    let slot = self.memory.put(vec![0xff; 8]);
                    let (_, offset, _) = layout::field(layout::DIRENT_FIELDS, field).expect("next or ino");
                    if let (Some((buf, _)), Some(used)) = (sl.buffer, sl.results.first()) {
                        after.extend(dirent_field(buf, *used, *index, offset, slot));
                    }
                    (slot, 8)
                }
            };
            self.layout.bindings.insert(b.name.clone(), slot);
        }
        // The step's own data and output areas, for its stderr frames.
        let area_end = self.memory.end().unwrap_or(u32::MAX);
        let area = (area_start, area_end.saturating_sub(area_start));
        code.extend(pre);
        code.extend([I::I32Const(rec as i32), I::I32Const(STARTED as i32), I::I32Store(mem(0, 2))]);
        self.flush(area, code);
        if f.returns == Returns::Errno {
            code.push(I::I32Const(rec as i32));
        }
        code.extend(args);
        code.push(I::Call(idx));
        if f.returns == Returns::Errno {
            code.extend([
                I::I32Store(mem(STEP_ERRNO as u64, 2)),
                I::I32Const(rec as i32),
                I::I32Const(RETURNED as i32),
                I::I32Store(mem(0, 2)),
            ]);
        }
        code.extend(after);
        if f.returns == Returns::Errno {
            self.flush(area, code);
        }
        if self.sink == TraceSink::SelfCheck {
            self.self_check_step(k, step, &sl, code);
        }
        self.layout.steps.push(sl);
    }

    /// Pushes a scalar of core type `t`, loading bindings at run time.
    fn scalar(&self, s: &Scalar, t: CoreType, out: &mut Vec<I<'static>>) {
        match (s, t) {
            (Scalar::Value(v), CoreType::I32) => out.push(I::I32Const(*v as u32 as i32)),
            (Scalar::Value(v), CoreType::I64) => out.push(I::I64Const(*v as i64)),
            (Scalar::Masked { binding, mask }, t) => {
                self.scalar(&Scalar::Binding(binding.clone()), t, out);
                match t {
                    CoreType::I32 => out.extend([I::I32Const(*mask as u32 as i32), I::I32And]),
                    CoreType::I64 => out.extend([I::I64Const(*mask as i64), I::I64And]),
                }
            }
            (Scalar::Binding(b), t) => {
                let (at, width) = self.layout.bindings.get(b).copied().unwrap_or((0, 4));
                out.push(I::I32Const(at as i32));
                match (t, width) {
                    (CoreType::I32, 1) => out.push(I::I32Load8U(mem(0, 0))),
                    (CoreType::I32, 2) => out.push(I::I32Load16U(mem(0, 0))),
                    (CoreType::I32, _) => out.push(I::I32Load(mem(0, 0))),
                    (CoreType::I64, 1) => out.push(I::I64Load8U(mem(0, 0))),
                    (CoreType::I64, 2) => out.push(I::I64Load16U(mem(0, 0))),
                    (CoreType::I64, 8) => out.push(I::I64Load(mem(0, 0))),
                    (CoreType::I64, _) => out.push(I::I64Load32U(mem(0, 0))),
                }
            }
        }
    }

    fn arg(
        &mut self,
        ty: ParamType,
        a: &Arg,
        sl: &mut StepLayout,
        pre: &mut Vec<I<'static>>,
        out: &mut Vec<I<'static>>,
    ) {
        let ptr_len = |out: &mut Vec<I<'static>>, p: u32, n: u32| {
            out.push(I::I32Const(p as i32));
            out.push(I::I32Const(n as i32));
        };
        match a {
            Arg::Scalar(s) => self.scalar(s, ty.core()[0], out),
            Arg::Str(Data::Bytes(b)) => {
                let n = b.len() as u32;
                let p = self.memory.put(b.clone());
                ptr_len(out, p, n);
            }
            Arg::Str(Data::Raw { ptr, len }) => ptr_len(out, *ptr, *len),
            Arg::Ciovecs(parts) => {
                let addrs: Vec<(u32, u32)> =
                    parts.iter().map(|b| (self.memory.put(b.clone()), b.len() as u32)).collect();
                let arr: Vec<u8> =
                    addrs.iter().flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat()).collect();
                let at = self.memory.put(arr);
                ptr_len(out, at, parts.len() as u32);
            }
            Arg::Iovecs(sizes) => {
                let bufs: Vec<(u32, u32)> = sizes.iter().map(|n| (self.memory.alloc(*n as u64), *n)).collect();
                let arr: Vec<u8> = bufs.iter().flat_map(|(p, n)| [p.to_le_bytes(), n.to_le_bytes()].concat()).collect();
                let at = self.memory.put(arr);
                sl.iovecs = bufs;
                ptr_len(out, at, sizes.len() as u32);
            }
            Arg::Buffer { size, len } => {
                let at = self.memory.alloc(*size as u64);
                sl.buffer = Some((at, *len));
                ptr_len(out, at, *len);
            }
            Arg::Region(size) => {
                let at = self.memory.alloc(*size as u64);
                sl.regions.push((at, *size));
                out.push(I::I32Const(at as i32));
            }
            Arg::Events(n) => {
                let at = self.memory.alloc(*n as u64 * layout::EVENT.size as u64);
                sl.events = Some((at, *n));
                out.push(I::I32Const(at as i32));
            }
            Arg::Subscriptions(subs) => {
                let size = layout::SUBSCRIPTION.size as usize;
                let mut bytes = vec![0u8; subs.len() * size];
                let mut fd_fixups = Vec::new();
                for (i, s) in subs.iter().enumerate() {
                    let r = &mut bytes[i * size..(i + 1) * size];
                    put_field(r, subscription::USERDATA, s.userdata);
                    match &s.kind {
                        SubscriptionKind::Clock { id, timeout, precision, flags } => {
                            put_field(r, subscription::TAG, eventtype::CLOCK as u64);
                            put_field(r, subscription_clock::ID, *id);
                            put_field(r, subscription_clock::TIMEOUT, *timeout);
                            put_field(r, subscription_clock::PRECISION, *precision);
                            put_field(r, subscription_clock::FLAGS, *flags);
                        }
                        SubscriptionKind::FdRead(fd) | SubscriptionKind::FdWrite(fd) => {
                            let tag = match s.kind {
                                SubscriptionKind::FdRead(_) => eventtype::FD_READ,
                                _ => eventtype::FD_WRITE,
                            };
                            put_field(r, subscription::TAG, tag as u64);
                            match fd {
                                Scalar::Value(v) => put_field(r, subscription_fd_readwrite::FILE_DESCRIPTOR, *v),
                                Scalar::Binding(_) | Scalar::Masked { .. } => fd_fixups.push((i as u32, fd.clone())),
                            }
                        }
                        SubscriptionKind::Tag(t) => put_field(r, subscription::TAG, *t as u64),
                    }
                }
                let at = self.memory.put(bytes);
                for (i, fd) in fd_fixups {
                    let field = at + i * size as u32 + subscription_fd_readwrite::FILE_DESCRIPTOR.1;
                    pre.push(I::I32Const(field as i32));
                    self.scalar(&fd, CoreType::I32, pre);
                    pre.push(I::I32Store(mem(0, 2)));
                }
                out.push(I::I32Const(at as i32));
            }
            Arg::Raw { ptr, len } => {
                out.push(I::I32Const(*ptr as i32));
                if ty.core().len() == 2 {
                    out.push(I::I32Const(*len as i32));
                }
            }
        }
    }
}
