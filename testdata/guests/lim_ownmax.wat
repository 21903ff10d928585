;; lim_ownmax: declares its own maximum (4 pages), grows a page at a time
;; until memory.grow fails, then traps. Running out of a self-declared max
;; is also OutcomeMemory.
(module
  (memory (export "memory") 1 4)
  (func (export "_start")
    (loop $more
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
        (then unreachable))
      (br $more))))
