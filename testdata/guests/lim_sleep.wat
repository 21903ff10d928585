;; lim_sleep: reports progress "sleeping" once (moat.progress: a client that
;; sent a progress token sees the guest is running, an event tests wait on
;; instead of polling), then sleeps an hour at a time (poll_oneoff on a
;; relative clock subscription), forever. With the real clock granted, the
;; sandbox must still stop it at the call's timeout.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "moat" "progress" (func $progress (param f64 f64 i32 i32)))
  (memory (export "memory") 1)
  ;; subscription at 0: userdata 0, tag 0 (clock), clock id 1 (monotonic)
  ;; at 16, timeout at 24 = 3600e9 ns, precision 0, flags 0 (relative).
  (data (i32.const 16) "\01\00\00\00")
  (data (i32.const 24) "\00\a0\b8\30\46\03\00\00")
  (data (i32.const 256) "sleeping")
  (func (export "_start")
    (call $progress (f64.const 0) (f64.const 0) (i32.const 256) (i32.const 8))
    (loop $forever
      (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
      (br $forever))))
