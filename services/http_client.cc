#include <utility>  // before Boost.Asio (Boost 1.74 with C++20)

#include "services/http_client.h"

#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <charconv>
#include <filesystem>
#include <optional>

namespace digonce::services {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::size_t kMaxResponse = 64 * 1024;

// Where the headers end and, when the response says, how long its body is.
struct Head {
  std::size_t header_end = std::string::npos;  // just past "\r\n\r\n"
  std::optional<std::size_t> content_length;
};

Head parse_head(const std::string& r) {
  Head h;
  auto end = r.find("\r\n\r\n");
  if (end == std::string::npos) return h;
  h.header_end = end + 4;
  std::string lower = r.substr(0, end);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find("\r\ncontent-length:");
  if (at != std::string::npos) {
    at += 17;
    while (at < lower.size() && lower[at] == ' ') ++at;
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(lower.data() + at, lower.data() + lower.size(), n);
    if (ec == std::errc()) h.content_length = n;
  }
  return h;
}

// Writes the request and reads the response until the server closes, the announced body is
// complete, or the cap is reached.
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const std::string& request, std::string* response) {
  co_await asio::async_write(stream, asio::buffer(request), asio::use_awaitable);
  char buf[8192];
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await stream.async_read_some(asio::buffer(buf),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    response->append(buf, n);
    if (ec) {
      // The end of the stream, including a TLS peer that closes without close_notify, ends a
      // response that has its headers; anything else is a failure.
      if (response->find("\r\n\r\n") != std::string::npos) co_return;
      throw boost::system::system_error(ec);
    }
    Head h = parse_head(*response);
    if (h.header_end != std::string::npos && h.content_length &&
        response->size() >= h.header_end + *h.content_length)
      co_return;
    if (response->size() >= kMaxResponse) co_return;
  }
}

asio::awaitable<void> post_once(Url url, std::string request, asio::ssl::context* tls,
                                std::string* response, bool* done) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
  if (tls) {
    asio::ssl::stream<tcp::socket> stream(executor, *tls);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
      throw std::runtime_error("TLS: cannot set the server name");
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    co_await asio::async_connect(stream.lowest_layer(), endpoints, asio::use_awaitable);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    co_await exchange(stream, request, response);
  } else {
    tcp::socket socket(executor);
    co_await asio::async_connect(socket, endpoints, asio::use_awaitable);
    co_await exchange(socket, request, response);
  }
  *done = true;
}

}  // namespace

Result<Url> parse_url(std::string_view s) {
  // Nothing that could end the request line or add a header, nor a NUL.
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return error("URL has a space or a control character");
  Url u;
  auto scheme_end = s.find("://");
  if (scheme_end == std::string_view::npos)
    return error("URL '" + std::string(s) + "' has no scheme (http:// or https://)");
  u.scheme = std::string(s.substr(0, scheme_end));
  if (u.scheme != "http" && u.scheme != "https")
    return error("URL '" + std::string(s) + "': scheme must be http or https");
  auto rest = s.substr(scheme_end + 3);
  auto path_at = rest.find_first_of("/?");
  auto authority = rest.substr(0, path_at);
  u.target = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos)
    return error("URL '" + std::string(s) + "': user info is not supported (use a secret)");
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return error("URL '" + std::string(s) + "': bad IPv6 host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return error("URL '" + std::string(s) + "': bad port");
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return error("URL '" + std::string(s) + "' has no host");
  u.host = std::string(host);
  if (port.empty()) {
    u.port = u.scheme == "https" ? "443" : "80";
  } else {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
      return error("URL '" + std::string(s) + "': port must be 1-65535");
    u.port = std::string(port);
  }
  return u;
}

Result<HttpResponse> http_request(std::string_view method, const Url& url,
                                  const HttpHeaders& headers, std::string_view body,
                                  std::chrono::milliseconds timeout, const std::string& ca_file) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string request = std::string(method) + " " + url.target +
                        " HTTP/1.1\r\nHost: " + (ipv6 ? "[" + url.host + "]" : url.host);
  if (url.port != (url.scheme == "https" ? "443" : "80")) request += ":" + url.port;
  request += "\r\nConnection: close\r\n";
  if (method != "GET" || !body.empty())
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [name, value] : headers)
    request.append(name).append(": ").append(value) += "\r\n";
  request += "\r\n";
  request.append(body);

  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  if (url.scheme == "https") {
    tls.emplace(asio::ssl::context::tls_client);
    tls->set_default_verify_paths();
    if (!ca_file.empty()) {
      boost::system::error_code ec;
      tls->load_verify_file(ca_file, ec);
      if (ec) return error("ca_file " + ca_file + ": " + ec.message());
    }
    tls->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                     asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  }
  std::string response;
  bool done = false;
  std::string failure;
  asio::co_spawn(io, post_once(url, std::move(request), tls ? &*tls : nullptr, &response, &done),
                 [&](const std::exception_ptr& e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& x) {
                     failure = x.what();
                   }
                 });
  io.run_for(timeout);
  const std::string where = url.scheme + "://" + url.host + ":" + url.port;
  if (!failure.empty()) return error(where + ": " + failure);
  if (!done)
    return error(where + ": no response within " + std::to_string(timeout.count()) + " ms");

  HttpResponse out;
  // "HTTP/1.1 204 No Content"
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0)
    return error(where + ": not an HTTP response");
  auto sp = response.find(' ');
  int status = 0;
  auto [p, ec] =
      std::from_chars(response.data() + sp + 1, response.data() + response.size(), status);
  if (ec != std::errc() || status < 100 || status > 999) return error(where + ": bad status line");
  out.status = status;
  Head h = parse_head(response);
  if (h.header_end != std::string::npos) out.body = response.substr(h.header_end);
  return out;
}

std::string check_ca_file(const std::string& path) {
  asio::ssl::context tls(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  std::error_code fs_ec;
  if (!std::filesystem::exists(path, fs_ec)) return "cannot load " + path + ": no such file";
  tls.load_verify_file(path, ec);
  if (ec) return "cannot load " + path + ": it holds no PEM certificate (" + ec.message() + ")";
  return {};
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[mac[i] >> 4]);
    out.push_back(hex[mac[i] & 15]);
  }
  return out;
}

}  // namespace digonce::services
