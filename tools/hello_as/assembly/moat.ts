// moat.ts: moat's host imports for AssemblyScript tools (Tool ABI v1,
// docs/abi.md), for the imports that need more than one line: asking the
// MCP client for input mid-call. Import what you use:
//
//   import { inputRequest, InputResult } from "./moat";
//
// A tool that does not call a function does not import it (asc drops
// unused code), so this file costs nothing to a tool that does not ask.

// moat.input_request(req_ptr, req_len, resp_ptr, resp_cap, resp_len_ptr) -> errno
@external("moat", "input_request")
declare function moat_input_request(req: usize, reqLen: u32, resp: usize, respCap: u32, respLen: usize): u32;

// moat.input_response(resp_ptr, resp_cap, resp_len_ptr) -> errno
@external("moat", "input_response")
declare function moat_input_response(resp: usize, respCap: u32, respLen: usize): u32;

// Codes of moat.input_request.
export const INPUT_OK: u32 = 0;
export const INPUT_ERR_BAD_REQUEST: u32 = 1; // malformed document, bad key, unknown method, > 8 requests
export const INPUT_ERR_UNSUPPORTED: u32 = 2; // the client cannot answer: json lists the keys
export const INPUT_ERR_BUFFER_TOO_SMALL: u32 = 11;
export const INPUT_ERR_FAILED: u32 = 13; // the client did not answer

// InputResult is the host's answer: code, and json — the client's results
// by key (INPUT_OK), or the keys it cannot answer (INPUT_ERR_UNSUPPORTED).
export class InputResult {
  constructor(public code: u32, public json: string) {}
}

// inputRequest sends one round of requests: a JSON object of key ->
// {"method", "params"} in MCP's inputRequests shape, e.g.
//
//   {"ok":{"method":"elicitation/create","params":{"message":"Overwrite?",
//     "requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}}}}}}
//
// When the host does not have the answers yet this call does not return:
// the tool is ended where it asked and runs again from the start once the
// client has answered, so ask the same questions in the same order on
// every run with the same arguments.
export function inputRequest(doc: string): InputResult {
  const req = String.UTF8.encode(doc);
  let buf = new ArrayBuffer(16 << 10);
  const len = new Uint32Array(1);
  let code = moat_input_request(changetype<usize>(req), <u32>req.byteLength,
    changetype<usize>(buf), <u32>buf.byteLength, len.dataStart);
  if (code == INPUT_ERR_BUFFER_TOO_SMALL) {
    buf = new ArrayBuffer(<i32>len[0]);
    code = moat_input_response(changetype<usize>(buf), <u32>buf.byteLength, len.dataStart);
  }
  if ((code != INPUT_OK && code != INPUT_ERR_UNSUPPORTED) || len[0] > <u32>buf.byteLength) {
    return new InputResult(code, "");
  }
  return new InputResult(code, String.UTF8.decode(buf.slice(0, <i32>len[0])));
}
