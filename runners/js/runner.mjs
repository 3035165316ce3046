// wasi-conform's JS runner: runs one WASI preview1 module under `node:wasi` and reports how
// it ended plus the first bytes of its linear memory (the trace channel). Written for Node;
// the same file is meant to drive Bun and Deno through their `node:wasi`.
//
//   node --no-warnings runner.mjs --worker          one JSON request per stdin line, one
//                                                   JSON response per stdout line
//   node --no-warnings runner.mjs --once REQ.json   one request from a file, response on stdout
//
// Request:  {id, key?, module?, flush?, args, env: [[k, v]...], preopens: [[guest, host]...],
//            stdin, stdout, stderr (host paths), capture_len}
//   `module` is the module's bytes in base64; with a `key` the compiled module is kept and
//   later requests with the same key may omit `module`. `flush` forgets every kept module.
// Response: {id, ending, memory}
//   ending: {exit: u32} | {trap: {class, message}} | {crash: message}
//     class: "unreachable" | "memory-out-of-bounds" | "host-error" | "other"
//   memory: base64 of memory[0, capture_len) after the run (also after a trap or
//     proc_exit), or null when there is no instance or no exported memory.
//   A request that cannot be understood gets {id, error}.
//
// The guest's stdio are the paths named in the request (named pipes the adapter reads and
// writes; stdin is opened first, and blocks until the adapter's writer is there), never
// this process's own stdio: stdout carries only protocol lines.

import fs from 'node:fs';
import readline from 'node:readline';
import { WASI } from 'node:wasi';

const modules = new Map();

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

// Error thrown out of `wasi.start()` → ending.
function classify(err) {
  if (err instanceof WebAssembly.RuntimeError) {
    const message = String(err.message);
    let cls = 'other';
    // V8: "unreachable", "memory access out of bounds"; JavaScriptCore: "Unreachable code
    // should not be executed", "Out of bounds memory access".
    if (/unreachable/i.test(message)) cls = 'unreachable';
    else if (/memory access out of bounds|out of bounds memory access/i.test(message)) cls = 'memory-out-of-bounds';
    return { trap: { class: cls, message } };
  }
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    // Stack exhaustion in guest code surfaces as a JS RangeError, not a RuntimeError.
    return { trap: { class: 'other', message: describe(err) } };
  }
  // Anything else was thrown by the host: node:wasi refusing its arguments.
  return { trap: { class: 'host-error', message: describe(err) } };
}

function captureMemory(instance, len) {
  const mem = instance?.exports?.memory;
  if (!(mem instanceof WebAssembly.Memory)) return null;
  const buf = mem.buffer;
  return Buffer.from(buf, 0, Math.min(len, buf.byteLength)).toString('base64');
}

// The descriptors this process has open, or null where /proc/self/fd cannot be read.
// (The listing's own descriptor is closed by the time readdirSync returns: it is left out,
// its number is free again.)
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

// node:wasi (uvwasi) never closes the host descriptors behind a WASI instance: not the
// preopened directories, not the files the guest left open, not even when the instance is
// garbage-collected. In a long-lived worker they would pile up run after run, so after each
// run every file or directory descriptor opened since `before` is closed here.
function closeLeaked(before) {
  if (before === null) return;
  let now;
  try {
    now = fs.readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  for (const name of now) {
    if (before.has(name)) continue;
    let target;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // the descriptor readdir itself used, already gone
    }
    if (!target.startsWith('/')) continue; // pipes, sockets, anon inodes: not the guest's
    try {
      fs.closeSync(Number(name));
    } catch {
      // raced with a close
    }
  }
}

function run(req) {
  const before = openFds();
  try {
    return runGuest(req);
  } finally {
    closeLeaked(before);
  }
}

function runGuest(req) {
  let module;
  try {
    module = getModule(req);
  } catch (e) {
    return { id: req.id, ending: { crash: `compile: ${describe(e)}` }, memory: null };
  }
  const fds = [];
  let instance = null;
  let ending;
  try {
    let wasi;
    try {
      const stdin = fs.openSync(req.stdin, 'r');
      fds.push(stdin);
      const stdout = fs.openSync(req.stdout, 'w');
      fds.push(stdout);
      const stderr = fs.openSync(req.stderr, 'w');
      fds.push(stderr);
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
    const imports =
      typeof wasi.getImportObject === 'function'
        ? wasi.getImportObject()
        : { wasi_snapshot_preview1: wasi.wasiImport };
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      return { id: req.id, ending: { crash: `instantiate: ${describe(e)}` }, memory: null };
    }
    try {
      const code = wasi.start(instance);
      ending = { exit: typeof code === 'number' ? code >>> 0 : 0 };
    } catch (e) {
      ending = classify(e);
    }
  } finally {
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

function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: null, error: `bad request: ${describe(e)}` };
  }
  try {
    return run(req);
  } catch (e) {
    return { id: req?.id ?? null, error: `runner: ${describe(e)}` };
  }
}

const mode = process.argv[2];
if (mode === '--worker') {
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    process.stdout.write(JSON.stringify(handle(line)) + '\n');
  });
  rl.on('close', () => process.exit(0));
} else if (mode === '--once' && process.argv[3]) {
  const resp = handle(fs.readFileSync(process.argv[3], 'utf8'));
  process.stdout.write(JSON.stringify(resp) + '\n');
} else {
  process.stderr.write('usage: runner.mjs --worker | --once REQUEST.json\n');
  process.exit(2);
}
