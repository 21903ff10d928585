/*
 * moat.h — the moat host imports (Tool ABI v1, docs/abi.md) for tools
 * written without moat's Go SDK: C, C++, Zig or anything clang compiles
 * to wasm32-wasip1 (clang --target=wasm32-wasi).
 *
 * A tool is a WASI command: read the call's arguments (one JSON object)
 * from stdin, write the result to stdout, exit 0. These functions are the
 * extras moat links. log, progress, exit_code and input_* are linked for
 * every tool. The http_* functions are linked only when the tool's
 * manifest grants [net];
 * a module importing them without the grant is refused at load, so a tool
 * that may run without the grant should not include calls to them.
 *
 * Pointers are offsets into the module's own memory; a range outside it
 * traps the tool.
 */
#ifndef MOAT_H
#define MOAT_H

#include <stdint.h>

#define MOAT_IMPORT(name) __attribute__((import_module("moat"), import_name(name)))

/* Log levels: MCP's syslog order. The client sees a message only at or
 * above the level it asked for. */
enum {
	MOAT_LOG_DEBUG = 0,
	MOAT_LOG_INFO = 1,
	MOAT_LOG_NOTICE = 2,
	MOAT_LOG_WARNING = 3,
	MOAT_LOG_ERROR = 4,
	MOAT_LOG_CRITICAL = 5,
	MOAT_LOG_ALERT = 6,
	MOAT_LOG_EMERGENCY = 7,
};

/* moat_log sends a notifications/message to the client that made the
 * call. msg is UTF-8, not NUL-terminated; at most 4 KiB is kept and a call
 * sends at most 1000 notifications (log and progress together). */
MOAT_IMPORT("log")
void moat_log(int32_t level, const char *msg, int32_t len);

/* moat_exit_code sets the exit code the call ends with when the entry
 * function returns (main returning in a command, moat_call in a reactor):
 * non-zero is a tool error, stderr its text. Unlike exit(), it leaves a
 * reactor's instance intact, so the host can reuse it. */
MOAT_IMPORT("exit_code")
void moat_exit_code(int32_t code);

/* moat_progress reports progress to the client, if it asked for progress
 * on this call. total <= 0 means unknown. Reports that do not move forward
 * are dropped. */
MOAT_IMPORT("progress")
void moat_progress(double progress, double total, const char *msg, int32_t len);

/* Error codes of moat_http_request and moat_http_response. */
enum {
	MOAT_HTTP_OK = 0,
	MOAT_HTTP_ERR_BAD_REQUEST = 1,        /* malformed document, URL or header; CR/LF/NUL; userinfo */
	MOAT_HTTP_ERR_DENIED_HOST = 2,        /* host:port not granted (also on a redirect) */
	MOAT_HTTP_ERR_DENIED_SCHEME = 3,      /* plain http not granted for the host, or not http(s) */
	MOAT_HTTP_ERR_DENIED_METHOD = 4,      /* method not granted (also after a redirect turned POST into GET) */
	MOAT_HTTP_ERR_DENIED_ADDRESS = 5,     /* the host resolves to a private, loopback, metadata… address */
	MOAT_HTTP_ERR_DNS = 6,                /* the name did not resolve */
	MOAT_HTTP_ERR_CONNECT = 7,            /* TCP or TLS failed */
	MOAT_HTTP_ERR_TIMEOUT = 8,            /* the request's or the call's time ran out */
	MOAT_HTTP_ERR_REQUEST_TOO_LARGE = 9,  /* body over the manifest's max_request */
	MOAT_HTTP_ERR_RESPONSE_TOO_LARGE = 10,/* body over the manifest's max_response */
	MOAT_HTTP_ERR_BUFFER_TOO_SMALL = 11,  /* *resp_len holds the size needed: call moat_http_response */
	MOAT_HTTP_ERR_NO_RESPONSE = 12,       /* moat_http_response with no response kept */
	MOAT_HTTP_ERR_FAILED = 13,            /* anything else */
};

/* moat_http_request makes one HTTP request under the manifest's [net]
 * grant and waits for the response.
 *
 * req is a JSON document of req_len bytes:
 *   {"method": "GET", "url": "https://api.example.com/x",
 *    "headers": {"Accept": "application/json"}, "body": "<base64>"}
 * method defaults to GET; headers and body are optional. Headers the
 * manifest injects (credentials) replace a header of the same name and are
 * never visible to the tool.
 *
 * On MOAT_HTTP_OK, resp holds *resp_len bytes of JSON:
 *   {"status": 200, "url": "<final URL>", "headers": {"Content-Type": "..."},
 *    "body": "<base64>"}
 * On MOAT_HTTP_ERR_BUFFER_TOO_SMALL nothing is written to resp, *resp_len
 * is the size needed, and the host keeps the response until the next
 * moat_http_request: fetch it with moat_http_response and a buffer that
 * big (the request is not made again). On any other error *resp_len is 0.
 */
MOAT_IMPORT("http_request")
uint32_t moat_http_request(const char *req, uint32_t req_len, char *resp, uint32_t resp_cap, uint32_t *resp_len);

/* moat_http_response delivers the response kept after
 * MOAT_HTTP_ERR_BUFFER_TOO_SMALL: MOAT_HTTP_OK and *resp_len bytes in
 * resp, or MOAT_HTTP_ERR_BUFFER_TOO_SMALL again (still kept), or
 * MOAT_HTTP_ERR_NO_RESPONSE. */
MOAT_IMPORT("http_response")
uint32_t moat_http_response(char *resp, uint32_t resp_cap, uint32_t *resp_len);

/* Error codes of moat_input_request and moat_input_response. */
enum {
	MOAT_INPUT_OK = 0,
	MOAT_INPUT_ERR_BAD_REQUEST = 1,      /* malformed document; bad key; unknown method; > 8 requests; > 64 KiB */
	MOAT_INPUT_ERR_UNSUPPORTED = 2,      /* the client cannot answer some requests: resp holds their keys, e.g. ["user_name"] */
	MOAT_INPUT_ERR_BUFFER_TOO_SMALL = 11,/* *resp_len holds the size needed: call moat_input_response */
	MOAT_INPUT_ERR_NO_RESPONSE = 12,     /* moat_input_response with no response kept */
	MOAT_INPUT_ERR_FAILED = 13,          /* the client did not answer (an error, a timeout, a closed session) */
};

/* moat_input_request asks the MCP client for input: one round of up to 8
 * requests, a JSON object of key -> request in MCP's inputRequests shape:
 *
 *   {"confirm": {"method": "elicitation/create",
 *                "params": {"message": "Overwrite notes.txt?",
 *                           "requestedSchema": {"type": "object",
 *                             "properties": {"ok": {"type": "boolean"}}}}}}
 *
 * Methods: elicitation/create, sampling/createMessage, roots/list. Keys
 * are 1-64 letters, digits, '_', '.', '-'. On MOAT_INPUT_OK, resp holds
 * *resp_len bytes of JSON, the client's results by the same keys:
 *
 *   {"confirm": {"action": "accept", "content": {"ok": true}}}
 *
 * The host may not have the answers yet: then this call does not return.
 * The tool is ended where it asked, the client gets the questions, and
 * the call runs again from the start once it has answered. So ask the
 * same questions, in the same order, on every run with the same
 * arguments, and do what cannot be repeated only after the last answer.
 * A run that asks something else ends the call with an error. */
MOAT_IMPORT("input_request")
uint32_t moat_input_request(const char *req, uint32_t req_len, char *resp, uint32_t resp_cap, uint32_t *resp_len);

/* moat_input_response delivers the answers kept after
 * MOAT_INPUT_ERR_BUFFER_TOO_SMALL, like moat_http_response. */
MOAT_IMPORT("input_response")
uint32_t moat_input_response(char *resp, uint32_t resp_cap, uint32_t *resp_len);

#endif /* MOAT_H */
