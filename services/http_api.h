// The gateway's API (docs/API.md) without the HTTP library: requests and answers as plain values,
// the routes, the keys, and what answers them — the live views of works.current and alerts, and
// the producer to works.submitted. services/gateway.cc carries it over HTTP and WebSocket.
//
// Threads: handle() and the stream calls run on the HTTP thread, and every answer is given on it
// (a submission's answer waits for the broker: the producer's delivery thread hands it back through
// Hooks::post). The views are fed on their own threads, which report each change through
// Hooks::on_work and Hooks::on_alert.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"
#include "geo/parse.h"
#include "services/api_keys.h"
#include "services/gateway.h"
#include "services/http_query.h"
#include "services/live_views.h"

namespace digonce::services {

struct ApiRequest {
  std::string method;             // "GET", "POST", ...
  std::string target;             // as sent: path and query
  std::string authorization;      // the Authorization header; "" when absent
  std::string content_encoding;   // the Content-Encoding headers, joined by ", "; "" if none
  std::string transfer_encoding;  // the Transfer-Encoding headers, joined by ", "; "" if none
  std::string body;
  bool authorization_repeated = false;  // the header came more than once: refused (400)
};

/// A WebSocket upgrade to the live stream, as the gateway read it (the views live as long as the
/// request). Whether the upgrade is one, and Host, are the gateway's to check.
struct StreamRequest {
  std::string_view target;         // as sent: path and query
  std::string_view authorization;  // the Authorization header; "" when absent
  bool authorization_repeated = false;
  std::string_view websocket_version;  // Sec-WebSocket-Version
  std::string_view websocket_key;      // Sec-WebSocket-Key
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

/// {"error": message, "field": field, <extra members>}: every error the API answers.
ApiResponse api_error(int status, std::string_view message, std::string_view field = {},
                      std::string_view extra_members = {});
/// The same for an Error: its what() and its field.
ApiResponse api_error(int status, const Error& e);

struct GatewayMetrics {
  explicit GatewayMetrics(prometheus::Registry& r);
  void observe(const std::string& route, int code, double seconds);

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Counter& produce_failures;
  prometheus::Gauge& stream_clients;
  prometheus::Counter& stream_dropped;
  prometheus::Family<prometheus::Gauge>& view_items;
  prometheus::Family<prometheus::Counter>& key_reloads;  // SIGHUP re-reads, by outcome
  prometheus::Gauge& producer_replacements;              // WorkProducer::replacements()
  prometheus::Gauge& api_keys;                           // keys in force
};

class WorkProducer;

class HttpApi {
 public:
  struct Hooks {
    std::function<void(std::function<void()>)> post;  // runs a function on the HTTP thread
    std::function<void(WorkChange)> on_work;          // a change of the works view
    std::function<void(AlertChange)> on_alert;        // a new alert revision, or one gone
  };
  using Respond = std::function<void(ApiResponse&&)>;

  /// Starts the producer and the views' feeds. The CRS checks and the authority areas are set
  /// up when PROJ and the boundaries are there, and left out (with a warning) when not.
  static Result<std::unique_ptr<HttpApi>> start(const Settings& settings,
                                                const GatewayOptions& options,
                                                prometheus::Registry& registry, ApiKeys keys,
                                                Hooks hooks);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  /// Answers one request; `respond` runs exactly once, on the HTTP thread, now or later.
  void handle(ApiRequest&& req, Respond respond);

  /// The key of a live-stream request (`?key=KEY` or the Bearer header), or the refusal, in JSON
  /// as every error, in this order: 400 a bad target, 404 another path, 400 a repeated
  /// Authorization, 426 a Sec-WebSocket-Version other than 13, 400 a malformed Sec-WebSocket-Key,
  /// then 401 or 403 for the key.
  std::variant<const ApiKey*, ApiResponse> stream_key(const StreamRequest& req) const;
  /// The first message of a live stream: the works and open alerts the key may read.
  std::string snapshot(const ApiKey& key) const;
  /// The stream message of a change: the work, or {"work_ref", "removed": true}.
  static std::string work_message(const WorkChange& change, bool removed);
  static std::string alert_message(const LiveAlert& alert);
  /// {"type":"alert","data":{"alert_id":..,"removed":true}}: out of the key's sight, or gone.
  static std::string alert_removed_message(std::string_view alert_id);

  /// The keys from now on (HTTP thread: requests in progress are answered first). Keys that are
  /// no longer there are refused with 401 at once; live streams are the gateway's to close.
  void replace_keys(ApiKeys keys);
  /// The key of `key`, or null (HTTP thread).
  const ApiKey* find_key(std::string_view key) const { return keys_.find(key); }

  /// From now on submissions are refused (503): the gateway is stopping.
  void refuse_submissions() { stopping_ = true; }
  /// Submissions waiting for the broker's answer (HTTP thread).
  std::size_t pending() const { return pending_; }
  /// Stops the feeds and the producer (records in flight get up to 2 s).
  void stop();
  GatewayMetrics& metrics() { return metrics_; }

 private:
  HttpApi(const Settings& settings, const GatewayOptions& options, prometheus::Registry& registry,
          ApiKeys keys, Hooks hooks);
  void set_up_checks();
  // The EPSG:4326 envelope of an authority's area, when the boundaries are loaded and know it.
  std::optional<geo::Envelope> area_of(const std::string& org) const;
  /// Sets the authority keys' areas; warns of authority orgs the boundaries do not know.
  void attach_areas(ApiKeys& keys) const;

  const ApiKey* authenticate(std::string_view authorization,
                             std::optional<ApiResponse>& refusal) const;
  /// `detailed` (an ops key): the views' errors in full, broker addresses and all.
  ApiResponse healthz(bool detailed);
  ApiResponse metrics_text();
  ApiResponse list_works(const ApiKey& key, const Target& target);
  ApiResponse get_work(const ApiKey& key, const std::string& ref);
  ApiResponse list_alerts(const ApiKey& key, const Target& target);
  void submit(const ApiKey& key, const std::string& body, Respond respond);
  void cancel(const ApiKey& key, const std::string& ref, Respond respond);
  void produce(const std::string& key, const std::string& value, std::string answer_members,
               Respond respond);
  /// A record per (key, value), all to works.submitted; one answer once the broker has taken
  /// them all (202: the first record's partition and offset, and every record's under
  /// "records"), or 503 with the first failure.
  void produce_all(std::vector<std::pair<std::string, std::string>> records,
                   std::string answer_members, Respond respond);
  void streetmanager_feed(std::string body, Respond respond);
  void feed_notification(const std::string& body, Respond respond);

  // Works this gateway has given the broker that the live works view may not show yet (ingest
  // publishes a work a moment after it is taken), so that a DELETE right after its POST cancels
  // the work instead of answering 404, and so that another promoter's POST under it is refused.
  // HTTP thread only; an entry is forgotten when the view shows a change of the reference (for
  // a work submitted finished, only once the view names its promoter: its tombstone does not),
  // after kAcceptedMemory, when the work is cancelled here, or when the broker does not take it.
  struct Accepted {
    std::string promoter;
    std::chrono::steady_clock::time_point at;
    std::uint64_t generation = 0;  // so that a failed POST forgets only its own entry
    bool live = true;              // else submitted finished (completed or cancelled status)
  };
  using AcceptedRefs = std::vector<std::pair<std::string, std::uint64_t>>;  // ref, generation
  /// Notes the works of a submission, live or submitted finished (and forgets those it
  /// cancels), but those marked `stale`; returns what forget_accepted() needs to undo it.
  AcceptedRefs note_accepted(const std::vector<geo::WorkEvent>& works,
                             const std::vector<bool>& stale = {});
  /// Forgets these entries, each unless a later submission has replaced it.
  void forget_accepted(const AcceptedRefs& refs);
  /// The promoter of a live work accepted here within kAcceptedMemory (with `finished_too`,
  /// or of one submitted finished: its reference is as taken), or null.
  const std::string* recently_accepted(const std::string& ref, bool finished_too = false) const;

  /// The geometry and CRS checks of every parsed work: errors for those that fail them, a
  /// warning for each read otherwise than sent (a polygon GEOS repaired).
  /// error_works, when given, gets the index in parsed.works of each error's work.
  void check_geometries(const geo::Parsed& parsed, std::vector<Error>& errors,
                        std::vector<Error>& warnings,
                        std::vector<std::size_t>* error_works = nullptr);

  struct Checks;     // PROJ and GEOS: the normalizer, on the HTTP thread only
  class FeedWorker;  // the Street Manager feed's network work (certificates, confirmations)
  const Settings& settings_;
  const GatewayOptions& options_;
  prometheus::Registry& registry_;
  ApiKeys keys_;
  Hooks hooks_;
  GatewayMetrics metrics_;
  std::string submitted_topic_;
  std::unique_ptr<Checks> checks_;
  // GET /v1/areas: the authority areas for maps, made once at start (empty without boundaries).
  std::string areas_json_ = R"({"type":"FeatureCollection","features":[]})";
  std::unique_ptr<WorkProducer> producer_;
  std::unique_ptr<FeedWorker> feed_worker_;
  WorksView works_;
  AlertsView alerts_;
  std::unique_ptr<TopicFeed> works_feed_;  // after the views: stopped before they go
  std::unique_ptr<TopicFeed> alerts_feed_;
  std::size_t pending_ = 0;
  bool stopping_ = false;
  std::unordered_map<std::string, Accepted> accepted_;
  std::atomic<std::size_t> accepted_count_{0};  // accepted_.size(), for the works feed's thread
  std::uint64_t accepted_generation_ = 0;
  std::size_t accepted_sweep_at_ = 1024;
};

}  // namespace digonce::services
