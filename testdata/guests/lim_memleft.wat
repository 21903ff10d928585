;; Prints the 32 bytes at offset 1024 — 16 that start zero, then 16 that a
;; data segment sets — and then reads stdin over them: a call that sees
;; anything else there sees what an earlier call left in its memory
;; (instances' memories are pooled, and a command's data segments are
;; written by moat's allocator: host/sandbox/memory.go).
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1040) "0123456789abcdef")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))))
