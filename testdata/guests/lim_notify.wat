;; lim_notify: exercises moat.log and moat.progress. stdin's first byte picks:
;;   l  three logs: level 3 "hello", level 99 "high", level -1 "low"
;;   p  progress(1, 10, "step") then progress(2, 0, "")
;;   b  a log whose message lies outside memory (must trap)
;;   f  2000 logs "x" (at most 1000 may arrive)
;;   g  one 5000-byte log: 4095 'a', then "é" across the 4 KiB cap
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "moat" "log" (func $log (param i32 i32 i32)))
  (import "moat" "progress" (func $progress (param f64 f64 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\40\00\00\00\01\00\00\00")
  (data (i32.const 128) "hellohighlowstepx")
  (func (export "_start")
    (local $mode i32) (local $i i32)
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (local.set $mode (i32.load8_u (i32.const 64)))
    (if (i32.eq (local.get $mode) (i32.const 108)) ;; l
      (then
        (call $log (i32.const 3) (i32.const 128) (i32.const 5))
        (call $log (i32.const 99) (i32.const 133) (i32.const 4))
        (call $log (i32.const -1) (i32.const 137) (i32.const 3))))
    (if (i32.eq (local.get $mode) (i32.const 112)) ;; p
      (then
        (call $progress (f64.const 1) (f64.const 10) (i32.const 140) (i32.const 4))
        (call $progress (f64.const 2) (f64.const 0) (i32.const 0) (i32.const 0))))
    (if (i32.eq (local.get $mode) (i32.const 98)) ;; b
      (then (call $log (i32.const 1) (i32.const 65000) (i32.const 1000))))
    (if (i32.eq (local.get $mode) (i32.const 102)) ;; f
      (then
        (loop $more
          (call $log (i32.const 1) (i32.const 144) (i32.const 1))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $more (i32.lt_u (local.get $i) (i32.const 2000))))))
    (if (i32.eq (local.get $mode) (i32.const 103)) ;; g
      (then
        (memory.fill (i32.const 1024) (i32.const 97) (i32.const 5000))
        (i32.store8 (i32.const 5119) (i32.const 0xc3))
        (i32.store8 (i32.const 5120) (i32.const 0xa9))
        (call $log (i32.const 1) (i32.const 1024) (i32.const 5000))))))
