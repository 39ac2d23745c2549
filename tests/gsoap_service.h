// The one method of AzerothCore's and TrinityCore's SOAP service, as their
// ACSoap.cpp / TCSoap.cpp declare it for soapcpp2; tests/grant_soap_test.sh
// builds tests/gsoap_server.c from it with Debian's gsoap.
//gsoap ns1 service name: worldsoap
//gsoap ns1 service namespace: urn:AC
int ns1__executeCommand(char *command, char **result);
