// The HTTP gateway (the contract, section 4): the API in front of the topics.
//
//   POST /v1/works, DELETE /v1/works/{ref}  -> validated, then produced to works.submitted;
//                                             answered once the broker has the record
//   GET /v1/works, GET /v1/alerts           <- live views of works.current and alerts
//   /v1/stream (WebSocket)                  <- the same changes pushed as they happen
//   /healthz, /metrics, / (the dashboard)
//
// Boost.Beast lives in gateway.cc only (it is slow to compile), which carries the connections;
// what they carry is in http_api.h (the routes and their answers), api_keys.h (who may do what),
// live_views.h (the tables the reads answer from), http_query.h (request targets),
// static_files.h (the dashboard) and work_producer.h (the way to Kafka). docs/API.md documents
// the API.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "base/result.h"
#include "services/settings.h"

namespace prometheus {
class Registry;
}

namespace digonce::services {

struct GatewayOptions {
  std::string listen;         // HOST:PORT (port 0: any free port)
  std::string brokers;        // Kafka bootstrap servers
  std::string api_keys_file;  // YAML; "" = the development keys of the source tree (loudly)
  std::string dashboard_dir;  // static files served at /
  /// More readiness for /healthz, e.g. `serve`'s stages owning their partitions (until then a
  /// submission waits for the stages' consumer groups). Called on the HTTP thread: it must be
  /// thread-safe. Null: the gateway's own views decide alone.
  std::function<bool()> ready;
};

/// Serves until `stop` becomes true, then closes every connection and returns. Fails at once
/// (without serving) when the key file is bad or the address cannot be listened on.
/// `on_listening` is called once with the base URL ("http://127.0.0.1:8080") when listening.
Status run_gateway(const Settings& settings, const GatewayOptions& options,
                   prometheus::Registry& registry, std::atomic<bool>& stop,
                   const std::function<void(const std::string& url)>& on_listening);

}  // namespace digonce::services
