// <utility> first: Boost 1.74's Asio uses std::exchange and friends without including it, which
// breaks under C++20 and later when nothing before it pulled it in.
#include <utility>

#include "services/gateway.h"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "services/api_keys.h"
#include "services/http_api.h"
#include "services/resources.h"

namespace digonce::services {
namespace {

Result<ApiKeys> load_keys(const std::string& file);

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxBody = 8u << 20;       // as geo::ParseLimits::max_bytes
constexpr std::size_t kMaxStreamBacklog = 1024;  // messages queued for one live-stream client
constexpr auto kIdleConnection = std::chrono::seconds(60);
// How long a closing connection's late input is read and dropped (HttpSession::linger).
constexpr auto kLinger = std::chrono::seconds(5);
constexpr auto kShutdownGrace = std::chrono::seconds(3);

std::string_view view(beast::string_view s) {
  return {s.data(), s.size()};
}

Response to_beast(ApiResponse&& r) {
  Response res{http::int_to_status(static_cast<unsigned>(r.status)), 11};
  res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

class Gateway;

// ---- the live stream: one WebSocket client

class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(beast::tcp_stream&& stream, ApiKey key, Gateway& gateway)
      : ws_(std::move(stream)),
        key_(std::move(key)),
        gateway_(gateway),
        kill_(ws_.get_executor()) {}

  void start(const Request& req);  // Beast builds its response from req at once
  const ApiKey& key() const { return key_; }
  /// Queues a message; a client more than kMaxStreamBacklog messages behind is closed.
  void send(std::shared_ptr<const std::string> message);
  void close(websocket::close_code code, const std::string& reason);

 private:
  void read();
  void write_next();
  void ended();

  websocket::stream<beast::tcp_stream> ws_;
  ApiKey key_;
  Gateway& gateway_;
  asio::steady_timer kill_;
  beast::flat_buffer in_;
  std::deque<std::shared_ptr<const std::string>> backlog_;
  std::shared_ptr<const std::string> writing_;  // the message being written
  bool closing_ = false;
};

// ---- one HTTP connection

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Gateway& gateway)
      : stream_(std::move(socket)), gateway_(gateway), body_timer_(stream_.get_executor()) {}
  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read();
  void on_header(beast::error_code ec);
  void read_body();
  void on_request(beast::error_code ec);
  void write(Response&& res);
  void linger();
  void drain_more();

  beast::tcp_stream stream_;
  Gateway& gateway_;
  // A body that has not arrived in http.body_timeout_s: the read is cancelled (the socket stays
  // open for the 408; tcp_stream's own expiry would close it first) and body_late_ set.
  asio::steady_timer body_timer_;
  bool body_late_ = false;
  bool reading_body_ = false;  // from read_body to on_request
  std::vector<char> drain_;    // linger's reads
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> response_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  bool keep_alive_ = false;
  bool head_ = false;
  unsigned version_ = 11;
};

// ---- the gateway: the listening socket, the connections, and the HttpApi they carry

class Gateway {
 public:
  Gateway(const Settings& settings, const GatewayOptions& options, prometheus::Registry& registry)
      : settings_(settings),
        options_(options),
        registry_(registry),
        acceptor_(ioc_),
        timer_(ioc_) {}

  Status listen();
  Status run(ApiKeys keys, std::atomic<bool>& stop,
             const std::function<void(const std::string&)>& on_listening);

  bool stopping() const { return stopping_; }
  void handle(Request&& req, std::function<void(Response&&)> reply);
  /// The key of a live-stream upgrade request, or the response that refuses it.
  std::variant<const ApiKey*, Response> stream_key(const Request& req);
  void open_stream(beast::tcp_stream&& stream, const Request& req, const ApiKey& key);
  void stream_opened(const std::shared_ptr<StreamSession>& s);
  void stream_closed(const std::shared_ptr<StreamSession>& s);
  void stream_dropped() { api_->metrics().stream_dropped.Increment(); }
  /// A live-stream handshake answered: 101, or the status it was refused with.
  void stream_answered(int status) { api_->metrics().observe("stream", status, 0); }
  const Settings& settings() const { return settings_; }
  /// A request answered before its route was read (too large, malformed, without Host): route
  /// "unread".
  Response refuse_unread(int status, const std::string& why, std::string_view field = {}) {
    api_->metrics().observe("unread", status, 0);
    return to_beast(api_error(status, why, field));
  }

 private:
  void accept();
  void watch(std::atomic<bool>& stop);
  // SIGHUP: the API key file is read again; on success its keys replace the old ones and live
  // streams whose key went away (or changed organisation or role) are closed; on an error the
  // keys in force stay and the log says why.
  void wait_for_hangup();
  void reload_keys();
  void shut_down();
  void drain(Clock::time_point deadline);
  void broadcast_work(const WorkChange& change);
  void broadcast_alert(const AlertChange& change);
  template <class Change, class NowMessage, class GoneMessage>
  void broadcast(const Change& change, NowMessage&& now_message, GoneMessage&& gone_message);

  // The io_context comes first: it is destroyed last, after everything that uses it.
  asio::io_context ioc_{1};
  const Settings& settings_;
  const GatewayOptions& options_;
  prometheus::Registry& registry_;
  tcp::acceptor acceptor_;
  asio::steady_timer timer_;
  asio::signal_set hangup_{ioc_, SIGHUP};
  std::string url_;
  std::set<std::shared_ptr<StreamSession>> streams_;  // io thread only
  std::atomic<std::size_t> stream_count_{0};          // read by the feed threads
  bool stopping_ = false;
  std::unique_ptr<HttpApi> api_;  // last: stopped (its threads joined) before the rest goes
};

// ---- StreamSession

void StreamSession::start(const Request& req) {
  beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts take over
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "digonce"); }));
  ws_.read_message_max(64 * 1024);
  ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
    // Counted once its answer is written: 101, or what Beast refused it with (a handshake
    // HttpApi::stream_key lets through; the connection may also have gone).
    self->gateway_.stream_answered(ec ? 400 : 101);
    if (ec) return;
    self->gateway_.stream_opened(self);
    self->read();
  });
}

void StreamSession::read() {
  // Clients have nothing to say; reading keeps control frames (ping, close) flowing.
  ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->ended();
    self->in_.consume(self->in_.size());
    self->read();
  });
}

void StreamSession::send(std::shared_ptr<const std::string> message) {
  if (closing_) return;
  if (backlog_.size() >= kMaxStreamBacklog) {
    gateway_.stream_dropped();
    spdlog::warn("live stream of {}: more than {} messages behind, closing", key_.org,
                 kMaxStreamBacklog);
    return close(websocket::close_code::policy_error, "too slow: messages were piling up");
  }
  backlog_.push_back(std::move(message));
  if (!writing_) write_next();
}

void StreamSession::write_next() {
  if (backlog_.empty() || closing_) {
    writing_.reset();
    return;
  }
  writing_ = std::move(backlog_.front());
  backlog_.pop_front();
  ws_.text(true);
  ws_.async_write(asio::buffer(*writing_),
                  [self = shared_from_this()](beast::error_code ec, std::size_t) {
                    if (ec) return self->ended();
                    self->write_next();
                  });
}

void StreamSession::close(websocket::close_code code, const std::string& reason) {
  if (closing_) return;
  closing_ = true;
  backlog_.clear();
  // A client that does not read will not read the close frame either: cut it off after a while.
  kill_.expires_after(kShutdownGrace);
  kill_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;
    beast::error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().close(ignored);
    self->ended();
  });
  ws_.async_close(websocket::close_reason(code, reason),
                  [self = shared_from_this()](beast::error_code) {
                    self->kill_.cancel();
                    self->ended();
                  });
}

void StreamSession::ended() {
  closing_ = true;
  gateway_.stream_closed(shared_from_this());
}

// ---- HttpSession

void HttpSession::read() {
  parser_.emplace();
  parser_->body_limit(kMaxBody);
  parser_->header_limit(16 * 1024);
  stream_.expires_after(kIdleConnection);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void HttpSession::on_header(beast::error_code ec) {
  // Every answer, a refusal too, goes in this request's version (a message says 1.1 and its
  // method is unknown until the start line is read: Beast reads it before the fields, so a bad
  // field, or a Content-Length over the limit, is answered in the version the request gave, and
  // a HEAD's without a body).
  const auto& req = parser_->get();
  version_ = req.version() == 10 ? 10 : 11;
  head_ = req.method() == http::verb::head;
  if (ec) return on_request(ec);
  keep_alive_ = req.keep_alive();
  // Refused on its headers, before any of its body is read or a 100 Continue sent.
  // RFC 9112 section 6.3: a Transfer-Encoding that does not end in chunked leaves the body's
  // length unknown, so what follows could be taken for the next request.
  if (req.count(http::field::transfer_encoding) && !req.chunked()) {
    keep_alive_ = false;
    return write(gateway_.refuse_unread(
        400, "Transfer-Encoding must end in chunked (or send Content-Length instead)"));
  }
  // RFC 9112 section 3.2: an HTTP/1.1 request without Host is answered 400, an upgrade too, and
  // the connection closed, as for every request refused before its route is read.
  if (req.version() >= 11 && req.count(http::field::host) == 0) {
    keep_alive_ = false;
    return write(gateway_.refuse_unread(400, "missing: HTTP/1.1 requires it", "Host"));
  }
  // curl and others wait (a second) for "100 Continue" before sending a larger body.
  if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
    continue_ =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
    http::async_write(stream_, *continue_,
                      [self = shared_from_this()](beast::error_code wec, std::size_t) {
                        if (wec) return;
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void HttpSession::read_body() {
  const auto limit = std::chrono::seconds(gateway_.settings().http_body_timeout_s);
  stream_.expires_after(limit + std::chrono::seconds(5));  // should the cancel go unheard
  body_late_ = false;
  reading_body_ = true;
  body_timer_.expires_after(limit);
  body_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    // Cancelled (the body came, or the connection ended), or due in the same turn of the loop
    // as the body's end and run after it: too late to matter.
    if (ec || !self->reading_body_) return;
    self->body_late_ = true;
    self->stream_.cancel();
  });
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
}

void HttpSession::on_request(beast::error_code ec) {
  body_timer_.cancel();
  reading_body_ = false;
  // Only this request's body can be late (a header-stage error of the next one is its own).
  const bool late = std::exchange(body_late_, false);
  if (ec && late) {
    keep_alive_ = false;
    const auto& req = parser_->get();
    std::string got = std::to_string(req.body().size()) + " bytes";
    if (auto length = parser_->content_length())
      got += " of the " + std::to_string(*length) + " its Content-Length gives";
    return write(
        gateway_.refuse_unread(408, "the request's body did not arrive within " +
                                        std::to_string(gateway_.settings().http_body_timeout_s) +
                                        " s (http.body_timeout_s): " + got + " came"));
  }
  if (ec == http::error::body_limit) {
    keep_alive_ = false;  // the rest of the body is still on its way
    return write(gateway_.refuse_unread(
        413, "the body is larger than " + std::to_string(kMaxBody) + " bytes"));
  }
  if (ec == http::error::header_limit) {
    keep_alive_ = false;
    return write(gateway_.refuse_unread(431, "the request's headers are larger than 16 KiB"));
  }
  if (ec.category() == beast::error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    // A request that is not HTTP/1.1 as Beast reads it: say so before closing, not just close.
    keep_alive_ = false;
    return write(gateway_.refuse_unread(400, "malformed HTTP request: " + ec.message()));
  }
  if (ec == http::error::end_of_stream) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  if (ec) {
    if (ec != beast::error::timeout && ec != asio::error::operation_aborted &&
        ec != asio::error::connection_reset)
      spdlog::debug("http: {}", ec.message());
    return;  // a malformed request, a timeout, a reset: the connection ends
  }
  Request req = parser_->release();
  if (websocket::is_upgrade(req)) {
    auto key = gateway_.stream_key(req);
    if (auto* refusal = std::get_if<Response>(&key)) {
      keep_alive_ = false;
      return write(std::move(*refusal));
    }
    stream_.expires_never();
    gateway_.open_stream(std::move(stream_), req, *std::get<const ApiKey*>(key));
    return;
  }
  stream_.expires_never();  // while the request is being answered (a produce may take seconds)
  gateway_.handle(std::move(req),
                  [self = shared_from_this()](Response&& res) { self->write(std::move(res)); });
}

void HttpSession::write(Response&& res) {
  res.version(version_);
  res.keep_alive(keep_alive_ && !gateway_.stopping());
  res.set(http::field::server, "digonce");
  if (head_ && !res.body().empty()) {  // HEAD: the headers a GET would have, no body
    auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  response_ = std::make_shared<Response>(std::move(res));
  stream_.expires_after(kIdleConnection);
  http::async_write(stream_, *response_,
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return;
                      if (self->response_->need_eof()) return self->linger();
                      self->response_.reset();
                      self->read();
                    });
}

// The answer is sent and the connection ends: our side is shut, and what the client still sends
// (the rest of a body refused with 408 or 413, or the body of a request refused on its headers)
// is read and dropped until it closes too, for
// kLinger at most. Closing with unread data would reset the connection, and a client still
// sending could lose the answer before reading it (what nginx's lingering_close is for).
void HttpSession::linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kLinger);
  // What the request held (up to 8 MiB of a refused body) goes now, not when the session ends.
  parser_.reset();
  buffer_.clear();
  buffer_.shrink_to_fit();
  response_.reset();
  drain_.resize(4096);
  drain_more();
}

void HttpSession::drain_more() {
  stream_.async_read_some(asio::buffer(drain_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (!ec) self->drain_more();  // EOF, the deadline or a reset: done
                          });
}

// ---- Gateway: lifecycle

Status Gateway::listen() {
  const std::string& address = options_.listen;
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return error("HTTP address '" + address + "': must be HOST:PORT (127.0.0.1:8080)");
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  // A number from 0 (the system picks one) to 65535: the resolver would wrap 99999 round to a
  // port nobody asked for.
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return error("HTTP address '" + address + "': the port must be a number from 0 to 65535");
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto found = resolver.resolve(host, port, ec);
  if (ec || found.empty())
    return error("HTTP address '" + address + "': " + (ec ? ec.message() : "not found"));
  tcp::endpoint endpoint = found.begin()->endpoint();
  auto fail = [&](const char* what) {
    return error("cannot listen on " + address + ": " + what + ": " + ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("option");
  if (acceptor_.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  auto local = acceptor_.local_endpoint(ec);
  if (ec) return fail("local address");
  std::string shown = local.address().to_string();
  if (local.address().is_v6()) shown = "[" + shown + "]";
  url_ = "http://" + shown + ":" + std::to_string(local.port());
  return {};
}

Status Gateway::run(ApiKeys keys, std::atomic<bool>& stop,
                    const std::function<void(const std::string&)>& on_listening) {
  HttpApi::Hooks hooks;
  hooks.post = [this](std::function<void()> f) { asio::post(ioc_, std::move(f)); };
  // Changes reach the live stream only when someone listens (catching up on a big topic would
  // otherwise queue a handler per record). A client registers before its snapshot is taken, so
  // no change falls between the two.
  hooks.on_work = [this](WorkChange c) {
    if (stream_count_.load() > 0) asio::post(ioc_, [this, c = std::move(c)] { broadcast_work(c); });
  };
  hooks.on_alert = [this](AlertChange c) {
    if (stream_count_.load() > 0)
      asio::post(ioc_, [this, c = std::move(c)] { broadcast_alert(c); });
  };
  std::size_t key_count = keys.size();
  auto api = HttpApi::start(settings_, options_, registry_, std::move(keys), std::move(hooks));
  if (!api) return api.error();
  api_ = std::move(*api);

  accept();
  watch(stop);
  wait_for_hangup();
  spdlog::info("gateway listening at {} ({} API keys, dashboard {})", url_, key_count,
               options_.dashboard_dir);
  if (on_listening) on_listening(url_);
  ioc_.run();

  api_->stop();
  streams_.clear();
  spdlog::info("gateway stopped");
  return {};
}

void Gateway::accept() {
  acceptor_.async_accept(ioc_, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping_) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<HttpSession>(std::move(socket), *this)->start();
    } else {
      spdlog::warn("gateway: accept: {}", ec.message());
    }
    accept();
  });
}

void Gateway::watch(std::atomic<bool>& stop) {
  timer_.expires_after(std::chrono::milliseconds(100));
  timer_.async_wait([this, &stop](beast::error_code ec) {
    if (ec) return;
    if (stop.load()) return shut_down();
    watch(stop);
  });
}

void Gateway::wait_for_hangup() {
  hangup_.async_wait([this](const beast::error_code& ec, int) {
    if (ec) return;
    reload_keys();
    wait_for_hangup();
  });
}

void Gateway::reload_keys() {
  const std::string& file = options_.api_keys_file;
  auto keys = load_keys(file);
  if (!keys) {
    api_->metrics().key_reloads.Add({{"outcome", "failed"}}).Increment();
    spdlog::error("SIGHUP: API keys not reloaded, the keys in force stay: {}", keys.error().what());
    return;
  }
  std::size_t count = keys->size();
  api_->replace_keys(std::move(*keys));
  std::size_t closed = 0;
  for (const auto& s : std::set(streams_)) {
    const ApiKey* now = api_->find_key(s->key().key);
    if (now && now->org == s->key().org && now->role == s->key().role) continue;
    s->close(websocket::close_code::policy_error, "API key revoked");
    ++closed;
  }
  api_->metrics().key_reloads.Add({{"outcome", "ok"}}).Increment();
  spdlog::info("SIGHUP: API keys reloaded from {}: {} keys; {} live stream(s) closed (key revoked)",
               file.empty() ? std::string("the development key file") : file, count, closed);
}

void Gateway::shut_down() {
  stopping_ = true;
  api_->refuse_submissions();
  beast::error_code ignored;
  hangup_.cancel(ignored);
  acceptor_.close(ignored);
  auto streams = streams_;
  for (const auto& s : streams) s->close(websocket::close_code::going_away, "server stopping");
  drain(Clock::now() + kShutdownGrace);
}

// Lets answers in flight (a produce waiting for the broker, a close handshake) finish, for a
// bounded time, then stops the io_context; idle keep-alive connections are simply dropped.
void Gateway::drain(Clock::time_point deadline) {
  if ((api_->pending() == 0 && streams_.empty()) || Clock::now() >= deadline) {
    ioc_.stop();
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(20));
  timer_.async_wait([this, deadline](beast::error_code ec) {
    if (!ec) drain(deadline);
  });
}

// ---- Gateway: requests

// Every line of a header field, joined by ", " (RFC 9110 5.3); "" when there is none.
std::string joined(const Request& req, http::field field) {
  std::string out;
  for (auto [at, end] = req.equal_range(field); at != end; ++at)
    out += (out.empty() ? "" : ", ") + std::string(view(at->value()));
  return out;
}

void Gateway::handle(Request&& req, std::function<void(Response&&)> reply) {
  ApiRequest r;
  r.method = std::string(view(req.method_string()));
  r.target = std::string(view(req.target()));
  r.authorization = std::string(view(req[http::field::authorization]));
  r.authorization_repeated = req.count(http::field::authorization) > 1;
  r.content_encoding = joined(req, http::field::content_encoding);
  r.transfer_encoding = joined(req, http::field::transfer_encoding);
  r.body = std::move(req.body());
  api_->handle(std::move(r),
               [reply = std::move(reply)](ApiResponse&& res) { reply(to_beast(std::move(res))); });
}

std::variant<const ApiKey*, Response> Gateway::stream_key(const Request& req) {
  StreamRequest r;
  r.target = view(req.target());
  r.authorization = view(req[http::field::authorization]);
  r.authorization_repeated = req.count(http::field::authorization) > 1;
  r.websocket_version = view(req[http::field::sec_websocket_version]);
  r.websocket_key = view(req[http::field::sec_websocket_key]);
  auto key = api_->stream_key(r);
  if (auto* refusal = std::get_if<ApiResponse>(&key)) {
    stream_answered(refusal->status);
    return to_beast(std::move(*refusal));
  }
  return std::get<const ApiKey*>(key);
}

void Gateway::open_stream(beast::tcp_stream&& stream, const Request& req, const ApiKey& key) {
  if (stopping_) return;
  std::make_shared<StreamSession>(std::move(stream), key, *this)->start(req);
}

// ---- Gateway: the live stream

void Gateway::stream_opened(const std::shared_ptr<StreamSession>& s) {
  if (stopping_) return s->close(websocket::close_code::going_away, "server stopping");
  // Registered before the snapshot is taken: a change applied after it is pushed as well, one
  // applied before it is in the snapshot (and perhaps pushed too: messages are idempotent).
  streams_.insert(s);
  ++stream_count_;
  api_->metrics().stream_clients.Increment();
  s->send(std::make_shared<const std::string>(api_->snapshot(s->key())));
}

void Gateway::stream_closed(const std::shared_ptr<StreamSession>& s) {
  if (streams_.erase(s)) {
    --stream_count_;
    api_->metrics().stream_clients.Decrement();
  }
}

// A change of a work or an alert to every live stream: its new state to the keys that may read
// it, and "removed" to those that could read it before and cannot now (gone, or out of their
// sight: an alert whose location moved into another authority's area). Each message is made
// once, when a first client needs it.
template <class Change, class NowMessage, class GoneMessage>
void Gateway::broadcast(const Change& change, NowMessage&& now_message,
                        GoneMessage&& gone_message) {
  std::shared_ptr<const std::string> now, gone;
  for (const auto& s : std::set(streams_)) {
    if (change.now && visible_to(&s->key(), *change.now)) {
      if (!now) now = std::make_shared<const std::string>(now_message());
      s->send(now);
    } else if (change.before && visible_to(&s->key(), *change.before)) {
      if (!gone) gone = std::make_shared<const std::string>(gone_message());
      s->send(gone);
    }
  }
}

void Gateway::broadcast_work(const WorkChange& change) {
  broadcast(
      change, [&] { return HttpApi::work_message(change, false); },
      [&] { return HttpApi::work_message(change, true); });
}

void Gateway::broadcast_alert(const AlertChange& change) {
  broadcast(
      change, [&] { return HttpApi::alert_message(*change.now); },
      [&] { return HttpApi::alert_removed_message(change.before->alert_id); });
}

Result<ApiKeys> load_keys(const std::string& file) {
  std::string path = file;
  if (path.empty()) {
    path = resource_path("config/dev-api-keys.yaml");
    spdlog::warn(
        "*** no API key file given: using the DEVELOPMENT keys of {}; anyone who has read the "
        "source can use them: pass --api-keys FILE in production ***",
        path);
  }
  auto keys = ApiKeys::load(path);
  if (keys && keys->development() && !file.empty())
    spdlog::warn(
        "*** {} holds DEVELOPMENT API keys (development: true): never use it in production ***",
        path);
  return keys;
}

}  // namespace

Status run_gateway(const Settings& settings, const GatewayOptions& options,
                   prometheus::Registry& registry, std::atomic<bool>& stop,
                   const std::function<void(const std::string& url)>& on_listening) {
  auto keys = load_keys(options.api_keys_file);
  if (!keys) return keys.error();
  if (options.brokers.empty()) return error("gateway: no Kafka brokers given");
  Gateway gateway(settings, options, registry);
  DIGONCE_TRY(gateway.listen());
  return gateway.run(std::move(*keys), stop, on_listening);
}

}  // namespace digonce::services
