;; Finds the preopen named argv[1], prints its `hello.txt` and creates `created.txt` in it
;; (dirs / root; the original fixture directory must stay unchanged).
;; Exit codes: 1 args, 3 preopen not found, 4 open, 5 read, 6 write, 7 create.
(module
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $prestat_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  ;; 64 prestat, 80 opened fd, 84 nread/nwritten, 88 created fd, 96 iovec,
  ;; 128 "hello.txt", 144 "created.txt", 1024 argv pointers, 4096 argv strings,
  ;; 8192 preopen name, 12288 file contents
  (memory (export "memory") 1 1)
  (data (i32.const 128) "hello.txt")
  (data (i32.const 144) "created.txt")
  (func $fail (param $code i32) (call $proc_exit (local.get $code)))
  (func (export "_start")
    (local $want i32) (local $want_len i32) (local $fd i32) (local $len i32) (local $i i32) (local $same i32)
    (if (call $args_get (i32.const 1024) (i32.const 4096)) (then (call $fail (i32.const 1))))
    (local.set $want (i32.load (i32.const 1028)))
    (block $end (loop $more
      (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $want) (local.get $want_len)))))
      (local.set $want_len (i32.add (local.get $want_len) (i32.const 1)))
      (br $more)))
    (local.set $fd (i32.const 3))
    (block $found (loop $scan
      (if (call $prestat (local.get $fd) (i32.const 64)) (then (call $fail (i32.const 3))))
      (local.set $len (i32.load (i32.const 68)))
      (if (i32.eq (local.get $len) (local.get $want_len))
        (then
          (if (i32.eqz (call $prestat_name (local.get $fd) (i32.const 8192) (local.get $len)))
            (then
              (local.set $same (i32.const 1))
              (local.set $i (i32.const 0))
              (block $cmp_end (loop $cmp
                (br_if $cmp_end (i32.ge_u (local.get $i) (local.get $len)))
                (if (i32.ne (i32.load8_u (i32.add (i32.const 8192) (local.get $i)))
                            (i32.load8_u (i32.add (local.get $want) (local.get $i))))
                  (then (local.set $same (i32.const 0))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $cmp)))
              (br_if $found (local.get $same))))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br $scan)))
    ;; rights: fd_read (1 << 1)
    (if (call $path_open (local.get $fd) (i32.const 1) (i32.const 128) (i32.const 9) (i32.const 0)
          (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 80))
      (then (call $fail (i32.const 4))))
    (i32.store (i32.const 96) (i32.const 12288))
    (i32.store (i32.const 100) (i32.const 256))
    (if (call $fd_read (i32.load (i32.const 80)) (i32.const 96) (i32.const 1) (i32.const 84))
      (then (call $fail (i32.const 5))))
    (i32.store (i32.const 100) (i32.load (i32.const 84)))
    (if (call $fd_write (i32.const 1) (i32.const 96) (i32.const 1) (i32.const 84))
      (then (call $fail (i32.const 6))))
    ;; oflags: creat; rights: fd_write (1 << 6)
    (if (call $path_open (local.get $fd) (i32.const 0) (i32.const 144) (i32.const 11) (i32.const 1)
          (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 88))
      (then (call $fail (i32.const 7))))))
