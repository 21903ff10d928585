;; lim_import_wasi_bogus: imports a WASI function that does not exist.
(module
  (import "wasi_snapshot_preview1" "fd_teleport" (func $t (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $t (i32.const 0)))))
