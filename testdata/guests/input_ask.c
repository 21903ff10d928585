// input_ask: asks the client to confirm through moat_input_request
// (sdk/c/moat.h) with a buffer too small for the answer, fetches it with
// moat_input_response, and prints it; exits 3 with the code on stderr
// when the host refuses. Built by build.sh; used by host's
// TestInputRequestGuests.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../sdk/c/moat.h"

int main(void) {
	const char *req = "{\"ok\":{\"method\":\"elicitation/create\",\"params\":{\"message\":\"Proceed?\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}}}}";
	char small[8];
	uint32_t n = 0;
	uint32_t code = moat_input_request(req, (uint32_t)strlen(req), small, sizeof small, &n);
	char *buf = small;
	if (code == MOAT_INPUT_ERR_BUFFER_TOO_SMALL) {
		buf = malloc(n);
		code = moat_input_response(buf, n, &n);
	}
	if (code != MOAT_INPUT_OK) {
		char msg[] = "input refused: code 00";
		msg[sizeof msg - 3] = (char)('0' + code / 10 % 10);
		msg[sizeof msg - 2] = (char)('0' + code % 10);
		write(2, msg, sizeof msg - 1);
		return 3;
	}
	write(1, buf, n);
	return 0;
}
