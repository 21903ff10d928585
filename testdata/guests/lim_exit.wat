;; lim_exit: reads a decimal number from stdin and exits with it.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: buf = 64, len = 16; nread at 16
  (data (i32.const 0) "\40\00\00\00\10\00\00\00")
  (func (export "_start")
    (local $i i32) (local $n i32) (local $end i32) (local $c i32)
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (local.set $end (i32.add (i32.const 64) (i32.load (i32.const 16))))
    (local.set $i (i32.const 64))
    (block $done
      (loop $digit
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.sub (i32.load8_u (local.get $i)) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10)) (local.get $c)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digit)))
    (call $proc_exit (local.get $n))))
