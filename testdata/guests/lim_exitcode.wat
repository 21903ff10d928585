;; Sets its exit code with moat.exit_code(7) and returns from _start; with
;; "p" on stdin it calls proc_exit(0) afterwards (the code stays 7: see
;; docs/abi.md, moat.exit_code).
(module
  (import "moat" "exit_code" (func $exit_code (param i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit_code (i32.const 7))
    (i32.store (i32.const 0) (i32.const 64)) ;; iovec {64, 1}
    (i32.store (i32.const 4) (i32.const 1))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (i32.eq (i32.load8_u (i32.const 64)) (i32.const 112)) ;; 'p'
      (then (call $proc_exit (i32.const 0))))))
