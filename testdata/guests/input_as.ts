// input_as: asks the client through tools/hello_as/assembly/moat.ts's
// inputRequest and prints the answer, or "code N" when the host refuses.
// Built with tools/hello_as's pinned compiler:
//   asc input_as.ts --config <hello_as>/node_modules/@assemblyscript/wasi-shim/asconfig.json \
//     --optimize --noAssert --outFile input_as.wasm
// Used by host's TestInputRequestGuests.
import { inputRequest, INPUT_OK } from "../../tools/hello_as/assembly/moat";
const r = inputRequest('{"ok":{"method":"elicitation/create","params":{"message":"Proceed?","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}}}}}}');
if (r.code == INPUT_OK) process.stdout.write(r.json);
else process.stdout.write("code " + r.code.toString());
