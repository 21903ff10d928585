// asecho copies stdin to stdout: the AssemblyScript row of `moat bench`
// (a WASI command built with @assemblyscript/wasi-shim; ../build.sh).
const chunk = new ArrayBuffer(32768);
for (;;) {
  const n = process.stdin.read(chunk);
  if (n <= 0) break;
  process.stdout.write(chunk.slice(0, n));
}
