;; A reactor whose calls change its own table: moat_call prints "a" or
;; "b" through table slot 0, then points slot 0 at the other function.
;; Per-call isolation must print "a" every time; the table.set keeps it
;; from being reset in place (host/sandbox/reset.go).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 2 funcref)
  (elem (i32.const 0) $a $b)
  (type $print (func))
  ;; iovec at 16: {ptr 32, len 1}; the letters at 32 and 33
  (data (i32.const 32) "ab")
  (func $out (param $ptr i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func $a (call $out (i32.const 32)))
  (func $b (call $out (i32.const 33)))
  (func (export "moat_call")
    (call_indirect (type $print) (i32.const 0))
    (table.set $t (i32.const 0) (table.get $t (i32.const 1)))))
