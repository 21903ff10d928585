;; lim_nostart: a reactor without _start, which ABI v1 does not accept.
(module
  (memory (export "memory") 1)
  (func (export "run")))
