;; net_oob: calls moat.http_request with resp_len_ptr outside memory; the
;; guest traps, the host does not fault.
(module
  (import "moat" "http_request" (func $req (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $req (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x7fffffff)))))
