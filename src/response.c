#include <stdio.h>

#include "response.h"

struct status_text {
	int		 code;
	const char	*text;
};

static const struct status_text statuses[] = {
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 405, "Method Not Allowed" },
	{ 411, "Length Required" },
	{ 413, "Payload Too Large" },
	{ 500, "Internal Server Error" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
};

const char *
response_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == status)
			return statuses[i].text;
	return "Error";
}

int
response_send(const struct request_io *io, int status, const char *allow,
    const char *body)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf), "Status: %d %s\r\n"
	    "Content-Type: text/plain\r\n%s%s%s\r\n%s\n", status,
	    response_reason(status), allow != NULL ? "Allow: " : "",
	    allow != NULL ? allow : "", allow != NULL ? "\r\n" : "", body);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return io->write(io->ctx, buf, (size_t)n);
}
