// A small HTTP/1.1 client for the notifier's webhooks and the Street Manager feed's certificate
// and subscription fetches: one request per connection
// (`Connection: close`), over http or https (TLS with the system's CA store and the host name
// verified), the whole exchange bounded by a timeout. Boost.Asio only, no Beast: Beast stays in
// the gateway's translation unit.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace digonce::services {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  std::string port;    // "80" / "443" unless given
  std::string target;  // path and query, "/" at least
};

/// Parses http://host[:port][/path][?query] and https://...; anything else (including a space,
/// a control character or NUL anywhere) is an error that says what is wrong.
Result<Url> parse_url(std::string_view url);

struct HttpResponse {
  int status = 0;
  std::string body;  // at most the first 64 KiB (chunked bodies are returned as sent)
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// Sends `method` `url` with `headers` and `body` (Host, Content-Length and Connection are
/// added). An error is a failure to connect, resolve, shake hands or read a response within
/// `timeout`; any HTTP status is a response. The timeout bounds everything but a DNS lookup that
/// hangs in the system resolver (getaddrinfo cannot be cancelled): the call returns when it ends.
/// Over https the server's certificate must chain to the system's CA store, or to one of the
/// certificates in the PEM file `ca_file` when one is given, and name the host.
Result<HttpResponse> http_request(std::string_view method, const Url& url,
                                  const HttpHeaders& headers, std::string_view body,
                                  std::chrono::milliseconds timeout,
                                  const std::string& ca_file = {});

inline Result<HttpResponse> http_post(const Url& url, const HttpHeaders& headers,
                                      std::string_view body, std::chrono::milliseconds timeout,
                                      const std::string& ca_file = {}) {
  return http_request("POST", url, headers, body, timeout, ca_file);
}
inline Result<HttpResponse> http_get(const Url& url, std::chrono::milliseconds timeout) {
  return http_request("GET", url, {}, {}, timeout);
}

/// What is wrong with a PEM file of CA certificates for `ca_file` (unreadable, or not one
/// certificate in it), or "".
std::string check_ca_file(const std::string& path);

/// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace digonce::services
