//! Generator 1: structured syscall programs, drawn with `arbitrary` from the
//! [`crate::alphabet`] and the function table of `wasi-conform-abi`.
//!
//! A program is the suite's own [`Scenario`] (with empty expectations), so it compiles
//! through the suite's compiler and its trace decodes with the suite's decoder; a divergence
//! minimises into a scenario file without any translation. Every argument is generated from
//! its [`ParamType`] in the table (and, for plain integers, the parameter's witx name, which
//! says whether it is an offset, a length or a time); no function is listed by hand except
//! the two whose effects reach past the guest, which [`weight`] documents.
//!
//! Descriptors come from a pool that grows as the program runs: the preopen (`$sandbox`,
//! found by name as wasi-libc does), stdio, a never-granted fd, huge fds, and every fd an
//! earlier step returned (`$f3` is step 3's `opened_fd`, valid, failed, or closed since).

use std::path::PathBuf;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use wasi_conform_abi::{types, Function, ParamType, ResultType, Returns, FUNCTIONS};
use wasi_conform_suite::scenario::*;

use crate::alphabet::{self, PREOPEN, PREOPEN_BINDING};

mod idioms;

/// What the generator may produce.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Most steps in a program (before an optional final `proc_exit`).
    pub max_steps: usize,
    /// Generate `poll_oneoff` subscriptions with invalid event tags. Off by default: an
    /// in-process Wasmer can take the process down on them.
    pub poll_bad_tags: bool,
    /// Functions never generated (by name), on top of [`weight`]'s exclusions.
    pub exclude: Vec<String>,
    /// Each program's time limit (its `budget`), after which a runtime's run is a timeout.
    pub time_limit: Duration,
    /// Stateful generation ([`idioms`]): descriptors chosen by kind (a directory where a
    /// path is resolved, a file where bytes move), names that earlier steps created, the
    /// call sequences real programs make, and a fixture with symlink chains, more hard links
    /// and a deep tree. Off, programs are generated exactly as before it existed.
    pub stateful: bool,
}

/// A generated program's time limit. A generated program waits at most a microsecond on a
/// clock and the reference never blocks, so an honest runtime finishes it at once, while
/// every hang costs this much (instead of the suite's default five seconds). Measured
/// (`examples/run_phases.rs`, seed 1, as data, 2 cores busy with other builds, load average
/// about 3.6): the slowest run that did not hang, of programs 0–1999, took 8.2 ms on
/// Wasmtime, 5.1 ms on wasmi and 7.5 ms on Wasmer (which hung on 4: its zero-timeout
/// `poll_oneoff`); of programs 0–299 through the JS workers, 111 ms on Node, 14 ms on Bun
/// and 124 ms on Deno (not counting a worker's start). One second is eight times the
/// slowest of those.
pub const TIME_LIMIT: Duration = Duration::from_secs(1);

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig { max_steps: 8, poll_bad_tags: false, exclude: Vec::new(), time_limit: TIME_LIMIT, stateful: true }
    }
}

/// How often a function is chosen, from the shape of its parameters: calls that take a
/// path or a descriptor reach the most behaviour. Two functions are never chosen:
/// `proc_exit` (it ends the program, so it is only ever appended as the last step) and
/// `proc_raise` (a runtime that forwards the signal to its own process would kill the
/// fuzzer; `suite/scenarios/proc_raise/` covers it).
pub fn weight(f: &Function) -> u32 {
    if f.returns == Returns::Never || f.name == "proc_raise" {
        return 0;
    }
    let has = |want: fn(ParamType) -> bool| f.params.iter().any(|p| want(p.ty));
    if has(|t| matches!(t, ParamType::Str)) {
        6
    } else if has(|t| matches!(t, ParamType::Fd)) {
        3
    } else {
        1
    }
}

/// A generated program (for cargo-fuzz targets: `Program::arbitrary` with the defaults).
#[derive(Debug, Clone)]
pub struct Program(pub Scenario);

impl<'a> Arbitrary<'a> for Program {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        generate(u, &GenConfig::default(), "fuzz/program").map(Program)
    }
}

/// Generates a program from the fuzzer's bytes.
pub fn generate(u: &mut Unstructured, cfg: &GenConfig, id: &str) -> arbitrary::Result<Scenario> {
    let mut include = [false; alphabet::FIXTURE.len()];
    for b in include.iter_mut() {
        *b = u.ratio(2, 3)?;
    }
    let mut tree = alphabet::fixture_tree(|i| include[i]);
    if cfg.stateful {
        idioms::extend_fixture(u, &mut tree)?;
    }
    let names: Vec<Vec<u8>> = tree.keys().map(|k| k.as_bytes().to_vec()).collect();
    let stdin = if u.ratio(1, 4)? { alphabet::STDIN.to_vec() } else { Vec::new() };
    let fixture = Fixture {
        preopens: vec![Preopen { name: PREOPEN.into(), binding: PREOPEN_BINDING.into(), tree }],
        args: vec!["prog.wasm".into()],
        env: if u.ratio(1, 4)? { vec!["K=v".into()] } else { Vec::new() },
        stdin,
    };
    let table: Vec<(&'static Function, u32)> = FUNCTIONS
        .iter()
        .filter(|f| !cfg.exclude.iter().any(|x| x == f.name))
        .map(|f| (f, weight(f)))
        .filter(|(_, w)| *w > 0)
        .collect();
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let n = u.int_in_range(1..=cfg.max_steps.max(1))?;
    let mut g = Gen {
        u,
        cfg,
        fds: vec![Scalar::Binding(PREOPEN_BINDING.into())],
        dirs: vec![Scalar::Binding(PREOPEN_BINDING.into())],
        files: Vec::new(),
        names,
        steps: Vec::new(),
    };
    for _ in 0..n {
        if g.u.is_empty() && !g.steps.is_empty() {
            break;
        }
        if cfg.stateful && g.u.ratio(1, 3)? {
            g.idiom()?;
            if g.steps.len() >= cfg.max_steps.max(1) {
                break;
            }
            continue;
        }
        let mut pick = g.u.int_in_range(0..=total.saturating_sub(1))?;
        let f = table
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(f, _)| *f)
            .unwrap_or(table[0].0);
        g.step(f)?;
    }
    if !cfg.exclude.iter().any(|x| x == "proc_exit") && g.u.ratio(1, 10)? {
        let f = wasi_conform_abi::function("proc_exit").expect("in the table");
        g.step(f)?;
    }
    let steps = g.steps;
    Ok(Scenario {
        id: id.to_owned(),
        function: steps.first().map(|s| s.function).unwrap_or(&FUNCTIONS[0]),
        summary: "generated program".into(),
        spec: String::new(),
        strength: Strength::DeFacto,
        choice: None,
        require: Vec::new(),
        budget: Some(cfg.time_limit),
        fixture,
        steps,
        end: End::default(),
        stdout: None,
        stderr: None,
        tree: None,
        source: PathBuf::from(format!("{id}.yaml")),
    })
}

struct Gen<'u, 'a, 'c> {
    u: &'u mut Unstructured<'a>,
    cfg: &'c GenConfig,
    /// Descriptors bound so far (the preopen and earlier steps' results).
    fds: Vec<Scalar>,
    /// Stateful generation: the descriptors that name directories (the preopen, and
    /// `path_open`s with `oflags.directory`), and the others `path_open` returned.
    dirs: Vec<Scalar>,
    files: Vec<Scalar>,
    /// Stateful generation: names in the preopen — the fixture's, and those earlier steps
    /// create.
    names: Vec<Vec<u8>>,
    steps: Vec<Step>,
}

/// How a descriptor parameter may be filled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FdUse {
    /// Any descriptor.
    Any,
    /// Not stdio: closing or renumbering over fd 0-2 (or making them non-blocking) would cut
    /// the channel command-line runtimes report their trace on.
    NotStdio,
}

impl Gen<'_, '_, '_> {
    fn step(&mut self, f: &'static Function) -> arbitrary::Result<()> {
        let fd_use = match f.name {
            "fd_close" | "fd_renumber" | "fd_fdstat_set_flags" => FdUse::NotStdio,
            _ => FdUse::Any,
        };
        let mut args = Vec::with_capacity(f.params.len());
        for p in f.params {
            let a = self.arg(f, p.name, p.ty, fd_use)?;
            args.push(a);
        }
        self.push(f, args);
        Ok(())
    }

    /// Appends a call with these arguments, binding the descriptor it returns (if any) as
    /// `$f<k>`; returns that binding.
    fn push(&mut self, f: &'static Function, args: Vec<Arg>) -> Option<Scalar> {
        let k = self.steps.len() + 1;
        if self.cfg.stateful {
            idioms::remember(self, f, &args);
        }
        let mut bind = Vec::new();
        let mut bound = None;
        if let Some((i, _)) = f.results.iter().enumerate().find(|(_, r)| r.ty == ResultType::Fd) {
            let name = format!("f{k}");
            bind.push(Bind { name: name.clone(), source: BindSource::Result { result: i, field: None } });
            self.fds.push(Scalar::Binding(name.clone()));
            bound = Some(Scalar::Binding(name));
        }
        let mut step = Step {
            function: f,
            args,
            defaulted: Vec::new(),
            out_ptrs: vec![None; f.results.len()],
            bind,
            expect: StepExpect::default(),
            line: k,
            probe: None,
        };
        fix_counts(&mut step);
        if let (true, Some(b)) = (self.cfg.stateful, &bound) {
            idioms::classify_fd(self, &step, b.clone());
        }
        self.steps.push(step);
        bound
    }

    fn fd(&mut self, usage: FdUse) -> arbitrary::Result<Scalar> {
        let choice = self.u.int_in_range(0..=9u8)?;
        Ok(match choice {
            0..=5 => self.u.choose(&self.fds)?.clone(),
            6 if usage == FdUse::Any => Scalar::Value(*self.u.choose(alphabet::STDIO_FDS)?),
            7 => Scalar::Value(alphabet::NEVER_GRANTED_FD),
            8 => Scalar::Value(*self.u.choose(&[alphabet::HUGE_FD, alphabet::MAX_FD])?),
            _ => self.fds.last().cloned().unwrap_or(Scalar::Value(alphabet::NEVER_GRANTED_FD)),
        })
    }

    fn path(&mut self) -> arbitrary::Result<Vec<u8>> {
        Ok(match self.u.int_in_range(0..=9u8)? {
            0 => self.u.choose(alphabet::WHOLE_PATHS)?.to_vec(),
            1 => {
                let mut p = alphabet::long_name();
                if self.u.ratio(1, 2)? {
                    p = [b"d/".to_vec(), p].concat();
                }
                p
            }
            _ => {
                let n = self.u.int_in_range(1..=3u8)?;
                let mut parts = Vec::new();
                for _ in 0..n {
                    parts.push(*self.u.choose(alphabet::PATH_ATOMS)?);
                }
                let mut p = parts.join("/").into_bytes();
                if self.u.ratio(1, 8)? {
                    p.push(b'/');
                }
                if self.u.ratio(1, 16)? {
                    p.insert(0, b'/');
                }
                p
            }
        })
    }

    fn flags(&mut self, t: &'static types::FlagsType) -> arbitrary::Result<u64> {
        if std::ptr::eq(t, &types::RIGHTS) {
            return Ok(match self.u.int_in_range(0..=5u8)? {
                0 | 1 => t.all(),
                2 => 0,
                3 => ["fd_read", "fd_seek", "fd_tell", "fd_filestat_get", "fd_readdir"]
                    .iter()
                    .filter_map(|n| t.bit(n))
                    .fold(0, |a, b| a | b),
                4 => ["fd_write", "fd_seek", "fd_tell", "fd_filestat_set_size", "fd_allocate"]
                    .iter()
                    .filter_map(|n| t.bit(n))
                    .fold(0, |a, b| a | b),
                _ => self.u.arbitrary::<u64>()? & t.all(),
            });
        }
        let mut bits = 0;
        for i in 0..t.flags.len() {
            if self.u.ratio(1, 3)? {
                bits |= 1 << i;
            }
        }
        if self.u.ratio(1, 20)? {
            bits |= 1 << t.flags.len();
        }
        Ok(bits)
    }

    fn arg(&mut self, f: &Function, name: &str, ty: ParamType, fd_use: FdUse) -> arbitrary::Result<Arg> {
        let value = |v: u64| Arg::Scalar(Scalar::Value(v));
        if self.cfg.stateful {
            if let Some(a) = idioms::arg(self, f, name, ty, fd_use)? {
                return Ok(a);
            }
        }
        Ok(match ty {
            ParamType::Fd => Arg::Scalar(self.fd(fd_use)?),
            ParamType::U32 => value(*self.u.choose(alphabet::U32S)?),
            ParamType::U64 => match name {
                "atim" | "mtim" => value(*self.u.choose(alphabet::TIMESTAMPS)?),
                "precision" => value(*self.u.choose(&[0, 1, u64::MAX])?),
                "cookie" => value(*self.u.choose(&[0, 1, 2, 3, u64::MAX])?),
                // offset, len, size: values that grow a file stay small (see the alphabet).
                _ => {
                    let grows = matches!(f.name, "fd_allocate" | "fd_filestat_set_size");
                    let mut v = *self.u.choose(alphabet::SIZES_U64)?;
                    if grows && !alphabet::grows_file_safely(v) {
                        v = alphabet::MAX_FILE_OFFSET;
                    }
                    value(v)
                }
            },
            ParamType::S64 => value(*self.u.choose(alphabet::DELTAS)? as u64),
            ParamType::Enum(e) => {
                let n = e.values.len() as u64;
                let v = if self.u.ratio(1, 16)? { n } else { self.u.int_in_range(0..=n - 1)? };
                value(v)
            }
            ParamType::Flags(t) => value(self.flags(t)?),
            ParamType::Str => {
                let mut p = self.path()?;
                // path_symlink's old_path is the link's contents: any path, including the
                // ones that point out.
                if f.name == "path_symlink" && name == "old_path" && self.u.ratio(1, 4)? {
                    p = b"../outside/secret".to_vec();
                }
                Arg::Str(Data::Bytes(p))
            }
            ParamType::Ciovecs => {
                let n = self.u.int_in_range(0..=2u8)?;
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(self.u.choose(alphabet::CIOVEC_DATA)?.to_vec());
                }
                Arg::Ciovecs(v)
            }
            ParamType::Iovecs => {
                let n = self.u.int_in_range(0..=2u8)?;
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(*self.u.choose(alphabet::IOVEC_SIZES)?);
                }
                Arg::Iovecs(v)
            }
            ParamType::Buffer => {
                let n = *self.u.choose(alphabet::BUFFER_SIZES)?;
                Arg::Buffer { size: n, len: n }
            }
            ParamType::Region => Arg::Region(wasi_conform_suite::load::DEFAULT_REGION),
            ParamType::Subscriptions => {
                let n = self.u.int_in_range(0..=2u8)?;
                let mut subs = Vec::new();
                for i in 0..n {
                    let kind = match self.u.int_in_range(0..=3u8)? {
                        0 | 1 => SubscriptionKind::Clock {
                            id: self.u.int_in_range(0..=1u64)?,
                            timeout: *self.u.choose(alphabet::POLL_TIMEOUTS)?,
                            precision: 0,
                            flags: if self.u.ratio(1, 4)? { 1 } else { 0 },
                        },
                        2 => SubscriptionKind::FdRead(self.fd(FdUse::Any)?),
                        _ if self.cfg.poll_bad_tags && self.u.ratio(1, 4)? => SubscriptionKind::Tag(3),
                        _ => SubscriptionKind::FdWrite(self.fd(FdUse::Any)?),
                    };
                    subs.push(Subscription { userdata: 10 + i as u64, kind });
                }
                Arg::Subscriptions(subs)
            }
            ParamType::Events => Arg::Events(1),
        })
    }
}

/// Makes counts agree with the arrays they count: `poll_oneoff`'s `nsubscriptions` and
/// the room for events follow the subscriptions laid out.
pub fn fix_counts(step: &mut Step) {
    let (Some(Arg::Subscriptions(subs)), Some(_), Some(_)) = (step.args.first(), step.args.get(1), step.args.get(2))
    else {
        return;
    };
    let n = subs.len() as u64;
    step.args[1] = Arg::Events(n.max(1) as u32);
    step.args[2] = Arg::Scalar(Scalar::Value(n));
}

/// Bytes for program `index` of a seeded run: the same seed and index always give the same
/// bytes, hence the same program (splitmix64; no dependency, no global state).
pub fn seeded_bytes(seed: u64, index: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Program `index` of the run seeded with `seed`.
pub fn seeded(seed: u64, index: u64, cfg: &GenConfig) -> Scenario {
    let bytes = seeded_bytes(seed, index, 2048);
    let mut u = Unstructured::new(&bytes);
    generate(&mut u, cfg, &format!("fuzz/seed-{seed}-{index}")).expect("2 KiB of bytes are enough for a program")
}
