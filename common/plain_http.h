// HTTP/1.1 over a plain socket, for the gateway's own endpoints (/health,
// /readyz, /startupz on loopback or a LAN address): what the prober needs and
// nothing more, so the prober links no TLS stack (libcurl brings OpenSSL,
// GnuTLS, Kerberos, LDAP and SSH into every process that links it: ~7 MB of
// RSS for a GET to 127.0.0.1). Issue #16.
//
// http:// only (https is refused with an error, never sent in clear), no
// proxy, no redirects followed, one connection per request (Connection:
// close). The whole exchange is bounded by HttpRequest::timeout, however
// slowly the peer drips bytes. A body longer than max_response_bytes is kept
// up to the limit, marked truncated, and the rest is not read.
#pragma once

#include "common/http_client.h"

namespace gwr {

class PlainHttpClient final : public HttpClient {
 public:
  HttpResponse send(const HttpRequest& request) override;
};

}  // namespace gwr
