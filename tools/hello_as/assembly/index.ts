// hello_as: a moat tool in AssemblyScript, compiled to a WASI command module
// with @assemblyscript/wasi-shim.
//
// It reads the call's arguments (one JSON object) from stdin and writes
// "hello, NAME!" to stdout. The manifest's input schema only admits a short
// name without quotes or backslashes, and the host validates every call
// against it before this program starts, so a small scanner is enough: no
// JSON library, no SDK, just the ABI (docs/abi.md).

// moat.log sends a log message to the MCP client (ABI v1).
@external("moat", "log")
declare function moat_log(level: i32, msg: usize, len: i32): void;

function log(level: i32, msg: string): void {
  const b = String.UTF8.encode(msg);
  moat_log(level, changetype<usize>(b), b.byteLength);
}

// readStdin reads all of stdin (the host caps it at the manifest's
// max_input).
function readStdin(): string {
  const chunk = new ArrayBuffer(4096);
  let all = new Uint8Array(0);
  for (;;) {
    const n = process.stdin.read(chunk);
    if (n <= 0) break;
    const next = new Uint8Array(all.length + n);
    next.set(all);
    next.set(Uint8Array.wrap(chunk, 0, n), all.length);
    all = next;
  }
  return String.UTF8.decode(all.buffer);
}

// findName returns the string value of the "name" key, or null.
function findName(input: string): string | null {
  let i = input.indexOf('"name"');
  if (i < 0) return null;
  i += 6;
  while (i < input.length) {
    const c = input.charAt(i);
    if (c != " " && c != "\t" && c != "\n" && c != "\r" && c != ":") break;
    i++;
  }
  if (input.charAt(i) != '"') return null;
  const end = input.indexOf('"', i + 1);
  if (end < 0) return null;
  return input.substring(i + 1, end);
}

const name = findName(readStdin());
if (name == null) {
  // stderr's tail becomes the error the agent reads; exit non-zero.
  process.stderr.write('missing "name"\n');
  process.exit(1);
} else {
  log(1, "greeting someone");
  process.stdout.write("hello, " + name! + "!\n");
}
