;; lim_membomb: grows memory 16 pages (1 MiB) at a time until memory.grow
;; fails, then traps. The sandbox must report OutcomeMemory.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $more
      (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1))
        (then unreachable))
      (br $more))))
