/*
 * gsoap_server - a world server's SOAP side on the real gSOAP engine
 * (Debian's libgsoap), so that tests/grant_soap_test.sh checks grant-soap
 * and tests/soap_server.py against the code ACSoap and TCSoap run on.
 * Built by the test: soapcpp2 -c -S tests/gsoap_service.h, then this file.
 *
 *   gsoap_server PORTFILE LOG ACCOUNT PASSWORD GMLEVEL CHARACTER...
 *
 * The service function takes ACSoap.cpp's ns1__executeCommand in its order
 * (no credentials, unknown account or wrong password 401; GM level below 3
 * 403; an empty command a sender fault), then "runs" the command: each is
 * appended to LOG; `.send items|mail|money NAME` answers "Mail sent to
 * NAME\r\n", or fails with "Character 'NAME' does not exist.\r\n" when NAME
 * is not among the CHARACTERs, as a soap_sender_fault carrying the output.
 */
#include "soapH.h"
#include "worldsoap.nsmap"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static char **characters;
static int ncharacters;
static const char *log_path, *account, *password;
static int level;

static int
known(const char *name, size_t len)
{
	int i;

	for (i = 0; i < ncharacters; i++)
		if (strlen(characters[i]) == len &&
		    strncmp(characters[i], name, len) == 0)
			return 1;
	return 0;
}

/* The command's output; *ok 0 when it failed. */
static char *
run(struct soap *soap, const char *command, int *ok)
{
	const char *p = command + (command[0] == '.'), *name;
	char *out = soap_malloc(soap, strlen(command) + 64);
	size_t len;

	*ok = 1;
	if (strncmp(p, "send ", 5) != 0) {
		sprintf(out, "OK: %s\r\n", command);
		return out;
	}
	name = strchr(p + 5, ' ');
	name = name != NULL ? name + 1 : "";
	len = strcspn(name, " ");
	*ok = known(name, len);
	sprintf(out, *ok ? "Mail sent to %.*s\r\n" :
	    "Character '%.*s' does not exist.\r\n", (int)len, name);
	return out;
}

int
ns1__executeCommand(struct soap *soap, char *command, char **result)
{
	FILE *f;
	char *out;
	int ok;

	if (soap->userid == NULL || soap->passwd == NULL ||
	    strcasecmp(soap->userid, account) != 0 ||
	    strcasecmp(soap->passwd, password) != 0)
		return 401;
	if (level < 3)
		return 403;
	if (command == NULL || *command == '\0')
		return soap_sender_fault(soap, "Command can not be empty",
		    "The supplied command was an empty string");
	if ((f = fopen(log_path, "a")) != NULL) {
		fprintf(f, "%s\n", command);
		fclose(f);
	}
	out = run(soap, command, &ok);
	if (ok) {
		*result = out;
		return SOAP_OK;
	}
	return soap_sender_fault(soap, out, out);
}

int
main(int argc, char *argv[])
{
	struct soap soap;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char tmp[4096];
	FILE *f;

	if (argc < 6)
		return 2;
	log_path = argv[2], account = argv[3], password = argv[4];
	level = atoi(argv[5]);
	characters = argv + 6, ncharacters = argc - 6;
	soap_init(&soap);
	soap_set_imode(&soap, SOAP_C_UTFSTRING);
	soap_set_omode(&soap, SOAP_C_UTFSTRING);
	soap.recv_timeout = 5;
	soap.send_timeout = 5;
	if (!soap_valid_socket(soap_bind(&soap, "127.0.0.1", 0, 16)) ||
	    getsockname(soap.master, (struct sockaddr *)&ss, &len) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int)sizeof(tmp) ||
	    (f = fopen(tmp, "w")) == NULL)
		return 1;
	fprintf(f, "%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	if (fclose(f) != 0 || rename(tmp, argv[1]) == -1)
		return 1;
	for (;;) {
		if (!soap_valid_socket(soap_accept(&soap)))
			continue;
		soap_serve(&soap);
		soap_destroy(&soap);
		soap_end(&soap);
	}
}
