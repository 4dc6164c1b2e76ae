#include "services/probes.h"

#include <CivetServer.h>
#include <civetweb.h>

#include <mutex>

namespace digonce::services {

namespace {

struct ProbeState {
  std::mutex mu;
  std::int64_t stall_ms = 180'000;
  std::string waiting = "waiting for the Kafka brokers and topics";
  std::function<std::vector<streams::LoopHealth>()> source;
};

ProbeState& state() {
  static ProbeState s;
  return s;
}

int begin_request(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (!info || !info->local_uri) return 0;
  const std::string_view path = info->local_uri;
  if (path != "/healthz" && path != "/readyz") return 0;  // /metrics: prometheus-cpp's
  const std::string_view method = info->request_method ? info->request_method : "";
  if (method != "GET" && method != "HEAD") {
    mg_printf(conn,
              "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n"
              "Connection: close\r\n\r\n");
    return 405;
  }
  const streams::ProbeAnswer a = answer_probe(path);
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            a.status, a.status == 200 ? "OK" : "Service Unavailable", a.body.size());
  if (method == "GET") mg_write(conn, a.body.data(), a.body.size());
  return a.status;
}

}  // namespace

const CivetCallbacks* probe_callbacks() {
  static const CivetCallbacks callbacks = [] {
    CivetCallbacks c;  // (its constructor clears every callback)
    c.begin_request = begin_request;
    return c;
  }();
  return &callbacks;
}

void set_probe_stall_ms(std::int64_t ms) {
  std::lock_guard lock(state().mu);
  state().stall_ms = ms;
}

void set_probe_waiting(std::string what) {
  std::lock_guard lock(state().mu);
  state().waiting = std::move(what);
}

void set_probe_source(std::function<std::vector<streams::LoopHealth>()> source) {
  std::lock_guard lock(state().mu);
  state().source = std::move(source);
}

void clear_probe_source() {
  set_probe_source({});
}

streams::ProbeAnswer answer_probe(std::string_view path) {
  auto& s = state();
  // (Under the lock: the source's owner clears it, under the same lock, before it goes.)
  std::lock_guard lock(s.mu);
  const auto loops = s.source ? s.source() : std::vector<streams::LoopHealth>{};
  if (path == "/healthz") return streams::liveness(loops, s.stall_ms);
  if (path == "/readyz") return streams::readiness(loops, s.stall_ms, s.waiting);
  return {0, {}};
}

}  // namespace digonce::services
