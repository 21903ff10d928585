;; lim_loop: spins forever. The sandbox must stop it at the call's timeout
;; or when the caller cancels.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
