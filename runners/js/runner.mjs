// wasi-conform's JS runner: runs one WASI preview1 module under the runtime's `node:wasi`
// (Node.js, Bun, Deno) and reports how it ended plus the first bytes of its linear memory
// (the trace channel). The adapters are runners/src/js/ (mod.rs and node.rs, bun.rs, deno.rs).
//
//   <runtime> runner.mjs --worker [--stdio=MODE] [--close-through-wasi]
//       one JSON request per stdin line, one JSON response per stdout line
//   <runtime> runner.mjs --once REQ.json [--stdio=MODE] [--close-through-wasi]
//       one request from a file, the response on stdout
//
// Request:  {id, key?, module?, flush?, args, env: [[k, v]...], preopens: [[guest, host]...],
//            stdin, stdout, stderr (host paths), capture_len, preload?}
//   `module` is the module's bytes in base64; with a `key` the compiled module is kept and
//   later requests with the same key may omit `module`. `flush` forgets every kept module.
//   `preload`: [[address, base64 bytes]...] written into the exported memory after
//   instantiation, before `_start` (how the fuzzer's interpreter module gets its program).
// Response: {id, ending, memory}
//   ending: {exit: u32} | {trap: {class, message}} | {crash: message}
//     class: "unreachable" | "memory-out-of-bounds" | "host-error" | "other"
//   memory: base64 of memory[0, capture_len) after the run (also after a trap or
//     proc_exit), or null when there is no instance or no exported memory.
//   A request that cannot be understood, or a run after which this process cannot be
//   trusted with another one, gets {id, error}; the adapter then discards the process.
//
// The guest's stdio are the paths named in the request (named pipes the adapter reads and
// writes; stdin is opened first, and blocks until the adapter's writer is there). How they
// reach the guest (--stdio):
//   descriptors (default)  opened here and passed to `new WASI({stdin, stdout, stderr})`
//                          (Node, Deno). This process's own stdio carry only the protocol.
//   takeover               for a `node:wasi` that ignores those options and always uses
//                          descriptors 0, 1 and 2 (Bun). At start the protocol pipes are
//                          reopened through /proc/self/fd at other numbers; for each run the
//                          three paths are opened *as* descriptors 0, 1 and 2 (close, then
//                          open: POSIX gives the lowest free number; checked), and afterwards
//                          0 and 1 become /dev/null again and 2 the original stderr.
//
// `proc_exit`: Node and Deno honour `returnOnExit: true` (start() returns the code). Bun's
// `node:wasi` has no such option and calls `process.exit(code)`; while the guest runs,
// `process.exit` is replaced by a function that throws, so the process survives and the
// code is reported as the exit (the whole u32, where a real process would keep 8 bits).
//
// --close-through-wasi (Deno): its `node:wasi` duplicates the stdio descriptors it is given
// (and owns the files the guest opens) inside the WASI instance, and closes them only when
// the instance is closed through its own `fd_close` or garbage-collected; this process
// cannot list or close them itself (/proc/self/fd needs --allow-all). A collection cannot be
// relied on: measured, the WASI object of a finished run sometimes survives several forced
// full collections (`gc()` after a turn of the event loop, then again, asynchronously and
// synchronously) and the adapter waits in vain for the end of the guest's output. So after
// each run the runner calls the instance's own `fd_close` on every number below
// WASI_FD_SWEEP (~0.2 ms): Deno hands out the lowest free number, so only a guest that
// renumbered a descriptor beyond it leaves one open — and the adapter, which checks after
// every answer whether this process still holds one of the guest's pipes, retires the worker
// then (runners/src/js/mod.rs; the numbers are in runners/src/js/deno.rs).
//
// Requests are read with blocking reads of the request pipe: every `node:wasi` call is
// synchronous anyway, and it behaves the same on the three runtimes.

import fs from 'node:fs';
import { WASI } from 'node:wasi';

const modules = new Map();

// See the header (--close-through-wasi).
const WASI_FD_SWEEP = 4096;
let closeThroughWasi = false;

function describe(err) {
  if (err instanceof Error) {
    return err.code ? `${err.name} [${err.code}]: ${err.message}` : `${err.name}: ${err.message}`;
  }
  try {
    return `thrown value: ${String(err)}`;
  } catch {
    return 'thrown value';
  }
}

// A null-prototype object, so that keys such as `__proto__` are plain keys.
function record(pairs) {
  const o = Object.create(null);
  for (const [k, v] of pairs) o[k] = v;
  return o;
}

function getModule(req) {
  if (req.flush) modules.clear();
  if (req.key != null && modules.has(req.key)) return modules.get(req.key);
  if (req.module == null) throw new Error(`module ${req.key} is not cached and no bytes were sent`);
  const m = new WebAssembly.Module(Buffer.from(req.module, 'base64'));
  if (req.key != null) modules.set(req.key, m);
  return m;
}

// What the replaced `process.exit` throws (see the header).
class ProcExit {
  constructor(code) {
    this.code = code;
  }
}

// Error thrown out of `wasi.start()` → ending.
function classify(err) {
  if (err instanceof ProcExit) {
    return { exit: Number(err.code ?? 0) >>> 0 };
  }
  if (err instanceof WebAssembly.RuntimeError) {
    const message = String(err.message);
    let cls = 'other';
    // V8 (Node, Deno): "unreachable", "memory access out of bounds"; JavaScriptCore (Bun):
    // "Unreachable code should not be executed", "Out of bounds memory access".
    if (/unreachable/i.test(message)) cls = 'unreachable';
    else if (/memory access out of bounds|out of bounds memory access/i.test(message)) cls = 'memory-out-of-bounds';
    return { trap: { class: cls, message } };
  }
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    // Stack exhaustion in guest code surfaces as a JS RangeError, not a RuntimeError.
    return { trap: { class: 'other', message: describe(err) } };
  }
  // Anything else was thrown by the host: the `node:wasi` implementation refusing its
  // arguments or failing inside a call.
  return { trap: { class: 'host-error', message: describe(err) } };
}

function captureMemory(instance, len) {
  const mem = instance?.exports?.memory;
  if (!(mem instanceof WebAssembly.Memory)) return null;
  const buf = mem.buffer;
  return Buffer.from(buf, 0, Math.min(len, buf.byteLength)).toString('base64');
}

// The descriptors this process has open, or null where /proc/self/fd cannot be read (Deno
// without --allow-all). The listing's own descriptor is closed by the time readdirSync
// returns: it is left out, its number is free again.
function openFds() {
  let names;
  try {
    names = fs.readdirSync('/proc/self/fd');
  } catch {
    return null;
  }
  return new Set(names.filter((n) => isOpen(n)));
}

function isOpen(name) {
  try {
    fs.fstatSync(Number(name));
    return true;
  } catch {
    return false;
  }
}

function realpathOr(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function within(path, dir) {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

// node:wasi (uvwasi) never closes the host descriptors behind a WASI instance: not the
// preopened directories, not the files the guest left open, not even when the instance is
// garbage-collected; Bun's neither. In a long-lived worker they would pile up run after run,
// so after each run every descriptor opened since `before` that names something inside a
// preopen is closed here (and nothing else: the runtime's own files are left alone).
function closeLeaked(before, preopens) {
  if (before === null) return;
  let now;
  try {
    now = fs.readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  const roots = [];
  for (const [, host] of preopens) {
    roots.push(host, realpathOr(host));
  }
  for (const name of now) {
    if (before.has(name)) continue;
    let target;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // the descriptor readdir itself used, already gone
    }
    if (!roots.some((r) => within(target, r))) continue;
    try {
      fs.closeSync(Number(name));
    } catch {
      // raced with a close
    }
  }
}

// Closes every descriptor of a WASI instance below WASI_FD_SWEEP through its own fd_close
// (see the header): an empty number answers badf, a throw is ignored.
function closeInstanceFds(wasi) {
  const close = wasi.wasiImport?.fd_close;
  if (typeof close !== 'function') return;
  for (let fd = 0; fd < WASI_FD_SWEEP; fd++) {
    try {
      close(fd);
    } catch {
      // nothing more this process can do; the adapter checks what is left
    }
  }
}

// --stdio=takeover: the protocol's own descriptors, and 0, 1, 2 between runs.
let saved = null;

function reopenAs(fd, path, flags) {
  const got = fs.openSync(path, flags);
  if (got !== fd) {
    try {
      fs.closeSync(got);
    } catch {
      // nothing more to do
    }
    throw new Error(`takeover: ${path} was opened as descriptor ${got}, not ${fd}`);
  }
}

// Descriptors 0, 1, 2 become the three given paths (all closed first, then opened in order,
// so each open gets the lowest free number).
function placeStdio(stdin, stdout, stderr) {
  for (const fd of [0, 1, 2]) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed (the guest closed it)
    }
  }
  reopenAs(0, stdin, fs.constants.O_RDONLY);
  reopenAs(1, stdout, fs.constants.O_WRONLY);
  reopenAs(2, stderr, fs.constants.O_WRONLY);
}

function startTakeover() {
  // New descriptions of the protocol pipes and of stderr, at numbers ≥ 3.
  saved = {
    requests: fs.openSync('/proc/self/fd/0', fs.constants.O_RDONLY),
    responses: fs.openSync('/proc/self/fd/1', fs.constants.O_WRONLY),
    stderr: fs.openSync('/proc/self/fd/2', fs.constants.O_WRONLY),
  };
  placeStdio('/dev/null', '/dev/null', `/proc/self/fd/${saved.stderr}`);
}

function run(req, stdioMode) {
  const before = openFds();
  let resp;
  try {
    resp = runGuest(req, stdioMode);
  } finally {
    closeLeaked(before, req.preopens ?? []);
    if (stdioMode === 'takeover') {
      // The guest's pipes must be closed for the adapter to see their end; a failure here
      // leaves this process unfit for another run, and `error` says so.
      try {
        placeStdio('/dev/null', '/dev/null', `/proc/self/fd/${saved.stderr}`);
      } catch (e) {
        return { id: req.id, error: `cannot restore descriptors 0-2 after the run: ${describe(e)}` };
      }
    }
  }
  return resp;
}

function runGuest(req, stdioMode) {
  let module;
  try {
    module = getModule(req);
  } catch (e) {
    return { id: req.id, ending: { crash: `compile: ${describe(e)}` }, memory: null };
  }
  const fds = [];
  let instance = null;
  let wasi;
  let ending;
  const realExit = process.exit;
  try {
    try {
      let stdin = 0;
      let stdout = 1;
      let stderr = 2;
      if (stdioMode === 'takeover') {
        placeStdio(req.stdin, req.stdout, req.stderr);
      } else {
        stdin = fs.openSync(req.stdin, 'r');
        fds.push(stdin);
        stdout = fs.openSync(req.stdout, 'w');
        fds.push(stdout);
        stderr = fs.openSync(req.stderr, 'w');
        fds.push(stderr);
      }
      wasi = new WASI({
        version: 'preview1',
        args: req.args,
        env: record(req.env),
        preopens: record(req.preopens),
        stdin,
        stdout,
        stderr,
        returnOnExit: true,
      });
    } catch (e) {
      return { id: req.id, ending: { crash: `wasi setup: ${describe(e)}` }, memory: null };
    }
    // Bun's WASI has no getImportObject().
    const imports =
      typeof wasi.getImportObject === 'function'
        ? wasi.getImportObject()
        : { wasi_snapshot_preview1: wasi.wasiImport };
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      return { id: req.id, ending: { crash: `instantiate: ${describe(e)}` }, memory: null };
    }
    if (req.preload) {
      // The program as data (see `preload` in the request): written before `_start`.
      const mem = instance.exports.memory;
      if (!(mem instanceof WebAssembly.Memory)) {
        return { id: req.id, ending: { crash: 'preload: the module exports no memory' }, memory: null };
      }
      const view = new Uint8Array(mem.buffer);
      for (const [at, b64] of req.preload) {
        const bytes = Buffer.from(b64, 'base64');
        if (at + bytes.length > view.length) {
          return { id: req.id, ending: { crash: `preload segment of ${bytes.length} bytes at ${at} does not fit in ${view.length} bytes of memory` }, memory: null };
        }
      }
      for (const [at, b64] of req.preload) view.set(Buffer.from(b64, 'base64'), at);
    }
    try {
      process.exit = (code) => {
        throw new ProcExit(code);
      };
      const code = wasi.start(instance);
      ending = { exit: typeof code === 'number' ? code >>> 0 : 0 };
    } catch (e) {
      ending = classify(e);
    } finally {
      process.exit = realExit;
    }
  } finally {
    if (closeThroughWasi && wasi !== undefined) closeInstanceFds(wasi);
    for (const fd of fds) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
  let memory = null;
  try {
    memory = captureMemory(instance, req.capture_len >>> 0);
  } catch {
    memory = null;
  }
  return { id: req.id, ending, memory };
}

function handle(line, stdioMode) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: null, error: `bad request: ${describe(e)}` };
  }
  try {
    return run(req, stdioMode);
  } catch (e) {
    return { id: req?.id ?? null, error: `runner: ${describe(e)}` };
  }
}

// Blocking line reader over a descriptor.
const chunk = Buffer.alloc(1 << 16);
let pending = Buffer.alloc(0);
const nap = new Int32Array(new SharedArrayBuffer(4));

function readLine(fd) {
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl >= 0) {
      const line = pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e?.code === 'EAGAIN') {
        Atomics.wait(nap, 0, 0, 1); // a non-blocking pipe: wait a millisecond
        continue;
      }
      throw e;
    }
    if (n === 0) return null;
    pending = Buffer.concat([pending, chunk.subarray(0, n)]);
  }
}

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e?.code !== 'EAGAIN') throw e;
      Atomics.wait(nap, 0, 0, 1);
    }
  }
}

async function main() {
  const args = process.argv.slice(2);
  const stdioArg = args.find((a) => a.startsWith('--stdio='));
  const stdioMode = stdioArg ? stdioArg.slice('--stdio='.length) : 'descriptors';
  closeThroughWasi = args.includes('--close-through-wasi');
  const rest = args.filter((a) => !a.startsWith('--stdio=') && a !== '--close-through-wasi');
  if (stdioMode !== 'descriptors' && stdioMode !== 'takeover') {
    process.stderr.write(`unknown --stdio mode ${stdioMode}\n`);
    return 2;
  }
  let requests = 0;
  let responses = 1;
  if (stdioMode === 'takeover') {
    startTakeover();
    requests = saved.requests;
    responses = saved.responses;
  }
  if (rest[0] === '--worker') {
    writeAll(responses, JSON.stringify({ ready: true }) + '\n');
    for (;;) {
      const line = readLine(requests);
      if (line === null) return 0;
      if (line.trim() === '') continue;
      const resp = handle(line, stdioMode);
      writeAll(responses, JSON.stringify(resp) + '\n');
      if (resp.error !== undefined) return 1;
    }
  } else if (rest[0] === '--once' && rest[1]) {
    const resp = handle(fs.readFileSync(rest[1], 'utf8'), stdioMode);
    writeAll(responses, JSON.stringify(resp) + '\n');
    return 0;
  }
  fs.writeSync(2, 'usage: runner.mjs --worker | --once REQUEST.json [--stdio=descriptors|takeover] [--close-through-wasi]\n');
  return 2;
}

process.exitCode = await main();
