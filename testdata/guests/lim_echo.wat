;; lim_echo: copies stdin to stdout, byte for byte, then exits 0.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; read iovec at 0 (buf 1024, len 32768), write iovec at 8, counters at 16, 20.
  (data (i32.const 0) "\00\04\00\00\00\80\00\00")
  (func (export "_start")
    (local $n i32)
    (block $eof
      (loop $copy
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $eof (i32.eqz (local.get $n)))
        (i32.store (i32.const 8) (i32.const 1024))
        (i32.store (i32.const 12) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 20)))
        (br $copy)))))
