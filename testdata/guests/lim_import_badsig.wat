;; lim_import_badsig: imports moat.log with the wrong signature.
(module
  (import "moat" "log" (func $log (param i64)))
  (memory (export "memory") 1)
  (func (export "_start") (call $log (i64.const 0))))
