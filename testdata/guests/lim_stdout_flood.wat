;; lim_stdout_flood: writes 1 KiB blocks to fd 1 forever, ignoring errors.
;; The sandbox must stop it once its stdout cap is reached.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: buf = 64, len = 1024
  (data (i32.const 0) "\40\00\00\00\00\04\00\00")
  (func (export "_start")
    (memory.fill (i32.const 64) (i32.const 120) (i32.const 1024))
    (loop $again
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (br $again))))
