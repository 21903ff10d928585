;; lim_bigmem: declares a 100-page (6.25 MiB) minimum memory.
(module
  (memory 100)
  (func (export "_start")))
