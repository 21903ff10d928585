;; net_badsig: imports moat.http_request with the wrong signature; refused
;; at load even with the [net] grant.
(module
  (import "moat" "http_request" (func $req (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $req (i32.const 0) (i32.const 0)))))
