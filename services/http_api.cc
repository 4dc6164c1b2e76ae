#include "services/http_api.h"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "base/ascii.h"
#include "base/json_writer.h"
#include "geo/authorities.h"
#include "geo/crs.h"
#include "geo/geos.h"
#include "geo/normalize.h"
#include "geo/parse.h"
#include "geo/work.h"
#include "services/sns.h"
#include "services/static_files.h"
#include "services/work_producer.h"

namespace digonce::services {
namespace {

using Clock = std::chrono::steady_clock;
// How long a work accepted here counts as live for a DELETE before the live view shows it, and
// how many such works are remembered at most (HttpApi::accepted_).
constexpr auto kAcceptedMemory = std::chrono::seconds(60);
constexpr std::size_t kAcceptedMax = 200000;

constexpr int kProduceTimeoutMs = 10'000;  // then 503: the broker could not take the work

ApiResponse json_response(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

ApiResponse method_not_allowed(std::string allow) {
  auto r = api_error(405, "method not allowed on this path");
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

template <class Items>
std::string json_list(std::string_view name, const Items& items) {
  std::string body = "{\"";
  body += name;
  body += "\":[";
  bool first = true;
  for (const auto& item : items) {
    if (!first) body += ',';
    first = false;
    body += item->json;
  }
  body += "]}";
  return body;
}

// A list sorted by its id, a page at a time: `limit` items at most, after the id `after`
// (the `next` of the page before). Error responses for bad values.
std::optional<ApiResponse> read_paging(const Target& target, std::string& after,
                                       std::size_t& limit) {
  if (auto it = target.query.find("limit"); it != target.query.end()) {
    unsigned long long v = 0;
    const auto& text = it->second;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 1 ||
        v > 10000)
      return api_error(400, "limit must be a whole number from 1 to 10000", "limit");
    limit = static_cast<std::size_t>(v);
  }
  if (auto it = target.query.find("after"); it != target.query.end()) {
    if (it->second.empty() || it->second.size() > 1024)
      return api_error(400, "after must be the next of the page before", "after");
    after = it->second;
  }
  return std::nullopt;
}

// json_list of one page: the items beyond `limit` (the query gives one more than asked when
// there are more) are left out and `next` names the last item given.
template <class Items, class IdOf>
std::string json_page(std::string_view name, Items items, std::size_t limit, IdOf id_of) {
  std::string next;
  if (limit && items.size() > limit) {
    items.resize(limit);
    next = id_of(*items.back());
  }
  std::string body = json_list(name, items);
  if (!next.empty()) {
    body.pop_back();
    body += ",\"next\":";
    append_json_string(body, next);
    body += '}';
  }
  return body;
}

// The members of a JSON object without its braces, for splicing into another.
std::string members_of(const std::string& object) {
  return object.size() < 2 ? std::string() : object.substr(1, object.size() - 2);
}

}  // namespace

ApiResponse api_error(int status, std::string_view message, std::string_view field,
                      std::string_view extra_members) {
  std::string body;
  {
    JsonObject o(body);
    o.str("error", message);
    o.str_if("field", field);
  }
  if (!extra_members.empty()) body.insert(body.size() - 1, "," + std::string(extra_members));
  return json_response(status, std::move(body));
}

ApiResponse api_error(int status, const Error& e) {
  return api_error(status, e.what(), e.field);
}

namespace {

// A JSON array of {"field", "message"} (no field when none is at fault: bad JSON), the first
// `limit` of `items`, appended to `out`: a 400's errors, a 202's warnings.
void append_problems(std::string& out, const std::vector<Error>& items, std::size_t limit) {
  out += '[';
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) {
    if (i) out += ',';
    JsonObject o(out);
    o.str_if("field", items[i].field);
    o.str("message", items[i].message);
  }
  out += ']';
}

// 400 for a submission that breaks the contract: the first error as "error" and "field", and
// every one (at most 100) under "errors", whichever check found them; beyond 100, how many more
// under "more_errors".
ApiResponse invalid_submission(const std::vector<Error>& found) {
  constexpr std::size_t kMaxErrors = 100;
  std::string errors = "\"errors\":";
  append_problems(errors, found, kMaxErrors);
  if (found.size() > kMaxErrors)
    errors += ",\"more_errors\":" + std::to_string(found.size() - kMaxErrors);
  return api_error(400, found.front().what(), found.front().field, errors);
}

// The parser's errors of a FeatureCollection and the geometry and CRS checks' (each with the
// index of its feature), in the order of the features, those of no feature (the document's own)
// first; stable otherwise.
std::vector<Error> in_feature_order(
    std::vector<Error> parse_errors,
    const std::vector<std::pair<std::size_t, Error>>& check_errors) {
  std::vector<std::pair<long, Error>> all;
  constexpr std::string_view kPrefix = "features[";
  for (auto& e : parse_errors) {
    const long at = e.field.starts_with(kPrefix)
                        ? std::strtol(e.field.c_str() + kPrefix.size(), nullptr, 10)
                        : -1;
    all.emplace_back(at, std::move(e));
  }
  for (const auto& [at, e] : check_errors) all.emplace_back(static_cast<long>(at), e);
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Error> out;
  out.reserve(all.size());
  for (auto& [at, e] : all) out.push_back(std::move(e));
  return out;
}

}  // namespace

// ---- metrics

GatewayMetrics::GatewayMetrics(prometheus::Registry& r)
    : requests(prometheus::BuildCounter()
                   .Name("digonce_gateway_requests_total")
                   .Help("HTTP requests answered by the gateway, by route and status code")
                   .Register(r)),
      latency(prometheus::BuildHistogram()
                  .Name("digonce_gateway_request_seconds")
                  .Help("Time from a request read to its answer, by route")
                  .Register(r)),
      produce_failures(prometheus::BuildCounter()
                           .Name("digonce_gateway_produce_failures_total")
                           .Help("Submissions the broker did not take (answered 503)")
                           .Register(r)
                           .Add({})),
      stream_clients(prometheus::BuildGauge()
                         .Name("digonce_gateway_stream_clients")
                         .Help("Live-stream (WebSocket) clients connected")
                         .Register(r)
                         .Add({})),
      stream_dropped(prometheus::BuildCounter()
                         .Name("digonce_gateway_stream_dropped_total")
                         .Help("Live-stream clients closed for reading too slowly")
                         .Register(r)
                         .Add({})),
      view_items(prometheus::BuildGauge()
                     .Name("digonce_gateway_view_items")
                     .Help("Items held by the gateway's live views")
                     .Register(r)),
      key_reloads(prometheus::BuildCounter()
                      .Name("digonce_gateway_api_key_reloads_total")
                      .Help("Re-reads of the API key file on SIGHUP, by outcome (ok, failed: "
                            "the keys in force stay)")
                      .Register(r)),
      producer_replacements(prometheus::BuildGauge()
                                .Name("digonce_gateway_producer_replacements")
                                .Help("Producers replaced after a fatal error since the start")
                                .Register(r)
                                .Add({})),
      api_keys(prometheus::BuildGauge()
                   .Name("digonce_gateway_api_keys")
                   .Help("API keys in force")
                   .Register(r)
                   .Add({})) {
  // Both outcomes from the start, so that an alert on {outcome="failed"} has a series to watch.
  key_reloads.Add({{"outcome", "ok"}});
  key_reloads.Add({{"outcome", "failed"}});
}

void GatewayMetrics::observe(const std::string& route, int code, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  requests.Add({{"route", route}, {"code", std::to_string(code)}}).Increment();
  latency.Add({{"route", route}}, kBuckets).Observe(seconds);
}

// ---- start and stop

// The checks POST /v1/works makes beyond parsing (CRS area of use, geometry validity), so that
// what ingest would reject is answered 400 here.
struct HttpApi::Checks {
  geo::ParseLimits limits;
  geo::Geos geos;
  std::unique_ptr<geo::CrsContext> crs;
  std::unique_ptr<geo::Normalizer> normalizer;
  std::unique_ptr<geo::AuthorityMap> authorities;  // the areas of authority keys, when loaded
};

// The Street Manager feed's thread, defined ahead of the constructor (which must be able to
// destroy the member that holds it).

// One thread for the feed's network work, so that a slow certificate fetch or subscription
// confirmation never holds the HTTP thread. Jobs still queued at stop are dropped (SNS sends
// again what it got no answer for).
class HttpApi::FeedWorker {
 public:
  explicit FeedWorker(const StreetManagerFeedSettings& settings)
      : verifier_(settings), thread_([this] { run(); }) {}
  ~FeedWorker() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  std::size_t queued() {
    std::lock_guard lock(mutex_);
    return jobs_.size();
  }
  void add(std::function<void(SnsVerifier&)> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void(SnsVerifier&)> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job(verifier_);
    }
  }
  SnsVerifier verifier_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(SnsVerifier&)>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

HttpApi::HttpApi(const Settings& settings, const GatewayOptions& options,
                 prometheus::Registry& registry, ApiKeys keys, Hooks hooks)
    : settings_(settings),
      options_(options),
      registry_(registry),
      keys_(std::move(keys)),
      hooks_(std::move(hooks)),
      metrics_(registry),
      submitted_topic_(settings.topic("works.submitted")),
      checks_(std::make_unique<Checks>()) {
  checks_->limits.max_vertices = settings.max_vertices;
}

HttpApi::~HttpApi() {
  stop();
}

Result<std::unique_ptr<HttpApi>> HttpApi::start(const Settings& settings,
                                                const GatewayOptions& options,
                                                prometheus::Registry& registry, ApiKeys keys,
                                                Hooks hooks) {
  std::unique_ptr<HttpApi> api(
      new HttpApi(settings, options, registry, std::move(keys), std::move(hooks)));
  api->set_up_checks();
  api->metrics_.api_keys.Set(static_cast<double>(api->keys_.size()));
  auto producer = WorkProducer::create(options.brokers, kProduceTimeoutMs);
  if (!producer) return producer.error();
  api->producer_ = std::move(*producer);
  HttpApi* self = api.get();
  api->works_feed_ = std::make_unique<TopicFeed>(
      options.brokers, settings.topic("works.current"),
      [self](std::string_view key, std::optional<std::string_view> value) {
        auto change = self->works_.apply(key, value);
        if (!change)
          spdlog::warn("live view of works: record {} skipped: {}", key, change.error().what());
        else if (*change && self->hooks_.on_work)
          self->hooks_.on_work(std::move(**change));
        // The view now shows what ingest made of the reference: a work this gateway took is no
        // longer one the view does not show (posted only while there are such works, so that
        // catching up on the topic queues nothing).
        // (A work submitted finished shows only as a tombstone, which names no promoter: it
        // stays remembered, for its minute, unless the view holds the reference otherwise.)
        if (self->accepted_count_.load(std::memory_order_relaxed) > 0)
          self->hooks_.post([self, ref = std::string(key)] {
            auto it = self->accepted_.find(ref);
            if (it == self->accepted_.end()) return;
            if (!it->second.live && self->works_.holder_of(ref).promoter.empty()) return;
            self->accepted_.erase(it);
            self->accepted_count_.store(self->accepted_.size(), std::memory_order_relaxed);
          });
      });
  api->alerts_feed_ = std::make_unique<TopicFeed>(
      options.brokers, settings.topic("alerts"),
      [self](std::string_view key, std::optional<std::string_view> value) {
        auto change = self->alerts_.apply(key, value);
        if (!change)
          spdlog::warn("live view of alerts: record {} skipped: {}", key, change.error().what());
        else if (*change && self->hooks_.on_alert)
          self->hooks_.on_alert(std::move(**change));
      });
  api->works_feed_->start();
  api->alerts_feed_->start();
  return api;
}

void HttpApi::set_up_checks() {
  geo::CrsOptions crs_options;
  crs_options.metric_crs = settings_.metric_crs;
  crs_options.search_paths = settings_.proj_search_paths;
  auto crs = geo::CrsContext::create(crs_options);
  if (!crs) {
    spdlog::warn("gateway: no CRS checks on submissions ({}); ingest still makes them",
                 crs.error().what());
    return;
  }
  checks_->crs = std::move(*crs);
  checks_->normalizer = std::make_unique<geo::Normalizer>(*checks_->crs, checks_->geos);

  // Authority keys read the works in their area: the envelope of the authority's boundary, in
  // EPSG:4326, for works that name no highway_authority (a derived one does not count: see
  // parse_live_work).
  if (settings_.boundaries.empty()) return;
  auto authority_options = geo::load_authority_options(settings_.boundaries, settings_.shared_data);
  if (!authority_options) {
    spdlog::warn("gateway: authority areas not loaded: {}", authority_options.error().what());
    return;
  }
  auto map = geo::AuthorityMap::load(*authority_options, *checks_->crs, checks_->geos);
  if (!map) {
    spdlog::warn("gateway: authority areas not loaded: {}", map.error().what());
    return;
  }
  checks_->authorities = std::make_unique<geo::AuthorityMap>(std::move(*map));
  attach_areas(keys_);
  // 10 m: a borough outline on a city map; London's 33 make 179 KB. Made here, before any
  // request: the map's GEOS context and the transform are not for concurrent use.
  areas_json_ = checks_->authorities->areas_geojson(checks_->crs->metric_to_wgs84(), 10.0);
}

std::optional<geo::Envelope> HttpApi::area_of(const std::string& org) const {
  if (!checks_->authorities) return std::nullopt;
  auto metric = checks_->authorities->envelope_of(org);
  if (!metric) return std::nullopt;
  const auto& to_wgs84 = checks_->crs->metric_to_wgs84();
  geo::Envelope out;
  // Corners and edge midpoints: a projected box is not quite a box in longitude and latitude.
  for (double fx : {0.0, 0.5, 1.0}) {
    for (double fy : {0.0, 0.5, 1.0}) {
      double x = metric->minx + fx * metric->width(), y = metric->miny + fy * metric->height();
      if (to_wgs84.apply(x, y).ok()) out.add(x, y);
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

void HttpApi::attach_areas(ApiKeys& keys) const {
  auto unknown = keys.set_areas([this](const std::string& org) { return area_of(org); });
  if (!checks_->authorities || unknown.empty()) return;
  std::string orgs;
  for (const auto& org : unknown) orgs += (orgs.empty() ? "" : ", ") + org;
  spdlog::warn(
      "gateway: authority keys of {} name no area in {}: they see only the works and alerts that "
      "name their org (a typo in an org code?)",
      orgs, settings_.boundaries);
}

void HttpApi::replace_keys(ApiKeys keys) {
  attach_areas(keys);
  keys_ = std::move(keys);
  metrics_.api_keys.Set(static_cast<double>(keys_.size()));
}

void HttpApi::stop() {
  stopping_ = true;
  feed_worker_.reset();
  if (works_feed_) works_feed_->stop();
  if (alerts_feed_) alerts_feed_->stop();
  if (producer_) producer_->close(2000);
}

// ---- the Street Manager feed (SNS)

void HttpApi::streetmanager_feed(std::string body, Respond respond) {
  auto message = parse_sns(body);
  if (!message) return respond(api_error(400, message.error()));
  const auto& fs = settings_.streetmanager_feed;
  // A valid signature proves that SNS sent the message, not whose topic it is: with signatures
  // checked, no topic is taken until topic_arns names it (docs/API.md).
  // The ARN as sent, shortened for the log and the answer (anyone with a feed key sends it).
  const std::string topic = message->topic_arn.size() > 256
                                ? message->topic_arn.substr(0, 256) + "..."
                                : message->topic_arn;
  if (fs.topic_arns.empty() && fs.verify_signatures) {
    spdlog::warn(
        "Street Manager feed: a message of topic {} refused: feeds.streetmanager.topic_arns "
        "lists no topic (name the Street Manager topic there)",
        topic);
    return respond(api_error(403,
                             "topic " + topic +
                                 " is not an accepted feed: this gateway's "
                                 "feeds.streetmanager.topic_arns lists no topic yet",
                             "TopicArn"));
  }
  if (!fs.topic_arns.empty() && std::find(fs.topic_arns.begin(), fs.topic_arns.end(),
                                          message->topic_arn) == fs.topic_arns.end())
    return respond(api_error(403, "topic " + topic + " is not an accepted feed", "TopicArn"));
  if (!feed_worker_) feed_worker_ = std::make_unique<FeedWorker>(fs);
  if (const auto waiting = feed_worker_->queued();
      waiting >= static_cast<std::size_t>(fs.max_waiting)) {
    // SNS sends a message again after a 5xx; a queue without bound would hold the memory of
    // every message a stalled certificate host kept waiting.
    spdlog::warn("Street Manager feed: message {} refused for now: {} messages are waiting",
                 message->message_id, waiting);
    auto busy = api_error(503, std::to_string(waiting) +
                                   " feed messages are waiting to be checked "
                                   "(feeds.streetmanager.max_waiting); send it again later");
    busy.headers.emplace_back("Retry-After", "5");
    return respond(std::move(busy));
  }
  feed_worker_->add([this, m = std::move(*message), body = std::move(body),
                     respond = std::move(respond)](SnsVerifier& verifier) mutable {
    // On the feed thread: the signature, then what the message asks for.
    ApiResponse answer;
    bool produce_it = false;
    bool unavailable = false;
    if (auto s = verifier.verify(m, unavailable); !s.ok()) {
      // 503 when it could not be checked now: SNS retries a 5xx, but not a 4xx.
      spdlog::warn("Street Manager feed: message {} {}: {}", m.message_id,
                   unavailable ? "not checked (asked to retry)" : "refused", s.error().what());
      answer = api_error(unavailable ? 503 : 403, s.error());
    } else if (m.type == "SubscriptionConfirmation") {
      if (auto c = confirm_subscription(settings_.streetmanager_feed, m); !c.ok()) {
        spdlog::error("Street Manager feed: subscription to {} not confirmed: {}", m.topic_arn,
                      c.error().what());
        answer = api_error(502, c.error());
      } else {
        spdlog::info("Street Manager feed: subscribed to {}", m.topic_arn);
        std::string b;
        {
          JsonObject o(b);
          o.boolean("confirmed", true);
          o.str("topic_arn", m.topic_arn);
        }
        answer = json_response(200, std::move(b));
      }
    } else if (m.type == "UnsubscribeConfirmation") {
      spdlog::warn("Street Manager feed: unsubscribed from {}", m.topic_arn);
      answer = json_response(200, "{\"unsubscribed\":true}");
    } else {
      produce_it = true;
    }
    hooks_.post([this, produce_it, answer = std::move(answer), body = std::move(body),
                 respond = std::move(respond)]() mutable {
      if (!produce_it) return respond(std::move(answer));
      feed_notification(body, std::move(respond));
    });
  });
}

// A verified notification goes to works.submitted as it came, valid or not: ingest keeps what it
// cannot read in works.rejected with the reason, so nothing the feed sends is lost. The answer
// says whether it parsed.
void HttpApi::feed_notification(const std::string& body, Respond respond) {
  geo::Parsed parsed = geo::parse_submission(body, checks_->limits);
  std::string answer;
  std::string record_key;
  {
    JsonObject o(answer);
    if (!parsed.works.empty()) record_key = parsed.works.front().work_ref;
    if (record_key.empty())
      o.raw("work_ref", "null");
    else
      o.str("work_ref", record_key);
    o.boolean("valid", parsed.errors.empty());
    if (!parsed.errors.empty()) o.str("error", parsed.errors.front().what());
  }
  if (!parsed.errors.empty())
    spdlog::warn(
        "Street Manager feed: a notification that does not parse ({}); sent on to be "
        "rejected with its reason",
        parsed.errors.front().what());
  produce(record_key, body, members_of(answer), std::move(respond));
}

// ---- routing

namespace {

// Every 401: the reason, and the challenge that says how to authenticate.
ApiResponse unauthorized(std::string_view message) {
  auto r = api_error(401, message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"digonce\"");
  return r;
}

}  // namespace

namespace {

// The 400 of a /v1/works/<ref> path that can name no work (GET and DELETE alike).
ApiResponse bad_work_ref() {
  return api_error(400, "a work_ref is 1-64 characters of A-Z a-z 0-9 _ . / -", "work_ref");
}

// The 400 of a request with more than one Authorization header: which one counts is not defined
// (RFC 9110 5.3 allows a field line twice only for a list), and a proxy in front may read the
// other.
ApiResponse repeated_authorization() {
  return api_error(400, "the Authorization header is given more than once: send it once");
}

}  // namespace

const ApiKey* HttpApi::authenticate(std::string_view authorization,
                                    std::optional<ApiResponse>& refusal) const {
  if (authorization.empty()) {
    refusal = unauthorized("an API key is required: send Authorization: Bearer KEY");
  } else if (auto token = bearer_token(authorization)) {
    if (const ApiKey* key = keys_.find(*token)) return key;
    refusal = unauthorized("unknown API key");
  } else if (auto password = basic_password(authorization)) {
    if (const ApiKey* key = keys_.find(*password)) return key;
    refusal = unauthorized("unknown API key");
  } else if (ascii_istarts_with(authorization, "basic ")) {
    refusal = unauthorized("Basic credentials must be base64(user:KEY)");
  } else {
    refusal = unauthorized("the Authorization header must be Bearer KEY");
  }
  return nullptr;
}

namespace {

// The first coding of a comma-separated list (Content-Encoding, Transfer-Encoding) other than
// `taken`, named as sent in printable ASCII only (the answer is JSON, and UTF-8); nullopt if none.
std::optional<std::string> coding_not_taken(std::string_view codings, std::string_view taken) {
  while (!codings.empty()) {
    const auto comma = std::min(codings.find(','), codings.size());
    const std::string_view coding = ascii_trim(codings.substr(0, comma));
    codings.remove_prefix(std::min(comma + 1, codings.size()));
    if (coding.empty() || ascii_iequals(coding, taken)) continue;
    std::string shown;
    for (char c : coding.substr(0, 64)) shown.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    return shown;
  }
  return std::nullopt;
}

// A body in a content coding other than identity (gzip, say) would read as bad JSON at byte 0:
// 415 says what is wrong instead, with the one coding taken (RFC 9110 sections 15.5.16 and
// 12.5.3). Checked where a body is read, after the route, the method and the key.
std::optional<ApiResponse> unsupported_coding(const ApiRequest& req) {
  auto shown = coding_not_taken(req.content_encoding, "identity");
  if (!shown) return std::nullopt;
  ApiResponse res = api_error(
      415, Error{"Content-Encoding", "'" + *shown + "' is not taken: send the body uncompressed"});
  res.headers.emplace_back("Accept-Encoding", "identity");
  return res;
}

// A transfer coding other than chunked (gzip, chunked) is not undone here: the body would read as
// bad JSON at byte 0. RFC 9112 section 6.1: 501 for a transfer coding not understood.
std::optional<ApiResponse> unsupported_transfer_coding(const ApiRequest& req) {
  auto shown = coding_not_taken(req.transfer_encoding, "chunked");
  if (!shown) return std::nullopt;
  return api_error(501, Error{"Transfer-Encoding", "'" + *shown +
                                                       "' is not taken: send the body "
                                                       "uncompressed (chunked is taken)"});
}

}  // namespace

void HttpApi::handle(ApiRequest&& req, Respond respond) {
  auto started = Clock::now();
  auto target = parse_target(req.target);
  const std::string path = target ? target->path : std::string();

  // A target that cannot be read is counted as `unread`, as a malformed request is.
  std::string route = target ? "static" : "unread";
  if (path == "/healthz")
    route = "healthz";
  else if (path == "/metrics")
    route = "metrics";
  else if (path == "/v1/works")
    route = "works";
  else if (path.rfind("/v1/works/", 0) == 0)
    route = "work";
  else if (path == "/v1/alerts")
    route = "alerts";
  else if (path == "/v1/areas")
    route = "areas";
  else if (path == "/v1/stream")
    route = "stream";
  else if (path == "/v1/feeds/streetmanager")
    route = "feed";
  else if (path == "/v1" || path.rfind("/v1/", 0) == 0)
    route = "unknown";

  Respond done = [this, respond = std::move(respond), route, started, method = req.method,
                  raw_target = req.target](ApiResponse&& res) {
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    metrics_.observe(route, res.status, seconds);
    spdlog::debug("{} {} -> {} ({:.1f} ms)", method, raw_target, res.status, seconds * 1000);
    respond(std::move(res));
  };
  if (!target) return done(api_error(400, target.error()));
  if (req.authorization_repeated) return done(repeated_authorization());
  if (auto refused = unsupported_transfer_coding(req)) return done(std::move(*refused));
  const std::string& method = req.method;
  bool get = method == "GET" || method == "HEAD";

  if (route == "healthz") {
    // No key needed; an ops key also sees the views' errors as the log has them.
    std::optional<ApiResponse> unused;
    const ApiKey* key =
        req.authorization.empty() ? nullptr : authenticate(req.authorization, unused);
    return done(get ? healthz(key && key->role == Role::Ops) : method_not_allowed("GET, HEAD"));
  }
  if (route == "metrics") return done(get ? metrics_text() : method_not_allowed("GET, HEAD"));
  if (route == "static") {
    if (!get) return done(method_not_allowed("GET, HEAD"));
    StaticFile file = read_static_file(options_.dashboard_dir, path);
    ApiResponse res;
    res.status = file.status;
    res.body = std::move(file.content);
    res.content_type = std::move(file.content_type);
    res.headers = {{"Cache-Control", "no-cache"},
                   {"X-Content-Type-Options", "nosniff"},
                   // The dashboard talks to this server only: no CDN, no third party.
                   {"Content-Security-Policy",
                    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                    "frame-ancestors 'none'"}};
    return done(std::move(res));
  }
  if (route == "unknown") return done(api_error(404, "no such API path: " + path));
  if (route == "stream") {
    auto upgrade = api_error(
        426, "the live stream is a WebSocket: connect with ws://HOST" + path + "?key=KEY");
    upgrade.headers.emplace_back("Upgrade", "websocket");  // RFC 9110 15.5.22: which protocol
    return done(std::move(upgrade));
  }

  bool allowed = route == "works"    ? (get || method == "POST")
                 : route == "work"   ? (get || method == "DELETE")
                 : route == "alerts" ? get
                 : route == "areas"  ? get
                 : route == "feed"   ? method == "POST"
                                     : false;
  if (!allowed)
    return done(method_not_allowed(route == "works"  ? "GET, HEAD, POST"
                                   : route == "work" ? "GET, HEAD, DELETE"
                                   : route == "feed" ? "POST"
                                                     : "GET, HEAD"));
  std::optional<ApiResponse> refusal;
  const ApiKey* key = authenticate(req.authorization, refusal);
  if (!key) {
    if (route == "feed") refusal->headers = {{"WWW-Authenticate", "Basic realm=\"digonce\""}};
    return done(std::move(*refusal));
  }
  if (route == "feed") {
    if (key->role != Role::Feed && key->role != Role::Ops)
      return done(api_error(403, "the Street Manager feed takes a feed or ops key"));
    if (auto refused = unsupported_coding(req)) return done(std::move(*refused));
    return streetmanager_feed(std::move(req.body), std::move(done));
  }
  if (key->role == Role::Feed)
    return done(api_error(403, "a feed key may only POST to /v1/feeds/streetmanager"));
  if (route == "works" && method == "POST") {
    if (auto refused = unsupported_coding(req)) return done(std::move(*refused));
    return submit(*key, req.body, std::move(done));
  }
  if (route == "works") return done(list_works(*key, *target));
  if (route == "alerts") return done(list_alerts(*key, *target));
  if (route == "areas") {
    // They change only with the gateway's configuration: a page reloaded within 5 minutes
    // (or a second tab) does not fetch them again.
    ApiResponse res = json_response(200, areas_json_);
    res.headers.emplace_back("Cache-Control", "private, max-age=300");
    return done(std::move(res));
  }
  std::string ref = path.substr(std::string_view("/v1/works/").size());
  if (method == "DELETE") return cancel(*key, ref, std::move(done));
  return done(get_work(*key, ref));
}

// ---- reads

ApiResponse HttpApi::healthz(bool detailed) {
  bool pipeline = !options_.ready || options_.ready();
  bool failed = !producer_->healthy();
  bool ready = works_feed_->caught_up() && alerts_feed_->caught_up() && pipeline && !failed;
  std::string body;
  {
    JsonObject o(body);
    o.str("status", ready ? "ok" : failed ? "failed" : "starting");
    if (options_.ready) {
      JsonObject p(o.key("pipeline"));
      p.boolean("ready", pipeline);
    }
    JsonObject v(o.key("views"));
    {
      JsonObject a(v.key("alerts"));
      a.boolean("caught_up", alerts_feed_->caught_up());
      a.integer("count", static_cast<std::int64_t>(alerts_.size()));
      if (auto e = alerts_feed_->error(detailed); !e.empty()) a.str("error", e);
    }
    {
      JsonObject w(v.key("works"));
      w.boolean("caught_up", works_feed_->caught_up());
      w.integer("count", static_cast<std::int64_t>(works_.size()));
      if (auto e = works_feed_->error(detailed); !e.empty()) w.str("error", e);
    }
  }
  // Not ready until the views hold what the topics hold: a load balancer waits for it.
  return json_response(ready ? 200 : 503, std::move(body));
}

ApiResponse HttpApi::metrics_text() {
  metrics_.view_items.Add({{"view", "works"}}).Set(static_cast<double>(works_.size()));
  metrics_.view_items.Add({{"view", "finished_works"}})
      .Set(static_cast<double>(works_.finished_size()));
  metrics_.view_items.Add({{"view", "alerts"}}).Set(static_cast<double>(alerts_.size()));
  metrics_.producer_replacements.Set(static_cast<double>(producer_->replacements()));
  ApiResponse res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body = prometheus::TextSerializer().Serialize(registry_.Collect());
  return res;
}

ApiResponse HttpApi::list_works(const ApiKey& key, const Target& target) {
  if (auto twice = target.repeated_among({"bbox", "from", "to", "limit", "after"}))
    return api_error(400, *twice);
  WorkQuery q;
  q.viewer = &key;
  if (auto it = target.query.find("bbox"); it != target.query.end()) {
    auto bbox = parse_bbox(it->second);
    if (!bbox) return api_error(400, bbox.error());
    q.bbox = *bbox;
  }
  // An empty from= or to= bounds nothing: the contract writes the query `&from=&to=`, so a
  // client filling in no date gets every work (as an empty authority= does for alerts).
  if (auto it = target.query.find("from"); it != target.query.end() && !it->second.empty()) {
    auto t = parse_time_param(it->second, geo::DateEnd::Start, "from");
    if (!t) return api_error(400, t.error());
    q.from = *t;
  }
  if (auto it = target.query.find("to"); it != target.query.end() && !it->second.empty()) {
    auto t = parse_time_param(it->second, geo::DateEnd::End, "to");
    if (!t) return api_error(400, t.error());
    q.to = *t;
  }
  if (q.from && q.to && *q.from > *q.to) return api_error(400, "from must not be after to", "from");
  if (auto bad = read_paging(target, q.after, q.limit)) return std::move(*bad);
  return json_response(200, json_page("works", works_.query(q), q.limit,
                                      [](const LiveWork& w) { return w.work_ref; }));
}

ApiResponse HttpApi::get_work(const ApiKey& key, const std::string& ref) {
  // As DELETE does: a path that can name no work is the client's mistake, not a missing work.
  if (!geo::valid_work_ref(ref)) return bad_work_ref();
  auto w = works_.find(ref);
  // A work the key may not read is answered as one that does not exist.
  if (!w || !visible_to(&key, *w)) {
    // One this gateway took a moment ago, not in the view yet: say so, rather than that it
    // does not exist (a promoter key, of its own works only; other readers need its area).
    const std::string* p = w ? nullptr : recently_accepted(ref);
    if (p && (key.role == Role::Ops || (key.role == Role::Promoter && *p == key.org))) {
      auto r = api_error(404,
                         "work " + ref +
                             " was accepted and is not live yet (ingest has not published it, "
                             "or rejected it: see works.rejected): try again shortly",
                         "work_ref");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    return api_error(404, "no live work " + ref, "work_ref");
  }
  return json_response(200, w->json);
}

ApiResponse HttpApi::list_alerts(const ApiKey& key, const Target& target) {
  if (auto twice = target.repeated_among({"state", "authority", "limit", "after"}))
    return api_error(400, *twice);
  AlertQuery q;
  q.viewer = &key;
  if (auto it = target.query.find("state"); it != target.query.end()) {
    auto state = parse_state_filter(it->second);
    if (!state) return api_error(400, "state must be open, closed or all", "state");
    q.state = *state;
  }
  if (auto it = target.query.find("authority"); it != target.query.end()) q.authority = it->second;
  if (auto bad = read_paging(target, q.after, q.limit)) return std::move(*bad);
  return json_response(200, json_page("alerts", alerts_.query(q), q.limit,
                                      [](const LiveAlert& a) { return a.alert_id; }));
}

// ---- writes

// The geometry and CRS checks (geo/normalize.h) of every work parsed: errors for those that fail
// them, warnings for those read otherwise than sent (an invalid polygon taken as GEOS repairs it).
void HttpApi::check_geometries(const geo::Parsed& parsed, std::vector<Error>& errors,
                               std::vector<Error>& warnings,
                               std::vector<std::size_t>* error_works) {
  if (!checks_->normalizer) return;
  for (std::size_t i = 0; i < parsed.works.size(); ++i) {
    const geo::WorkEvent& w = parsed.works[i];
    geo::WorkEvent copy = w;
    const auto repaired_before = checks_->normalizer->repaired();
    if (auto s = checks_->normalizer->normalize(copy); !s.ok()) {
      Error e = s.error();
      if (parsed.layout == geo::Parsed::Layout::Collection)
        e.message = "(work " + w.work_ref + ") " + e.message;
      // Where the work's geometry is in the submission (a feature's); other fields as named.
      if (e.field.starts_with("geometry"))
        e.field = parsed.field(i, "geometry") + e.field.substr(8);
      else if (e.field == "crs")
        e.field = parsed.field(i, "crs");
      errors.push_back(std::move(e));
      if (error_works) error_works->push_back(i);
    } else if (checks_->normalizer->repaired() != repaired_before) {
      warnings.push_back(Error{parsed.field(i, "geometry"),
                               "is not a valid geometry (" + checks_->normalizer->last_repair() +
                                   "): work " + w.work_ref +
                                   " is read as GEOS MakeValid repairs it (" +
                                   checks_->normalizer->last_repair_how() + ")"});
    }
  }
}

void HttpApi::submit(const ApiKey& key, const std::string& body, Respond respond) {
  if (key.role == Role::Authority)
    return respond(api_error(403, "an authority key may read, not submit works"));
  geo::Parsed parsed = geo::parse_submission(body, checks_->limits);
  if (!parsed.errors.empty()) {
    // The features the parser took may still break the geometry or CRS checks: one answer names
    // every bad feature, whichever check found it.
    std::vector<Error> checked, unused;
    std::vector<std::size_t> works_of;  // the work each of `checked` is about
    check_geometries(parsed, checked, unused, &works_of);
    // Sorted by each work's feature, not by the field's text: a CRS error's field may be the
    // collection's "crs", which several features use.
    std::vector<std::pair<std::size_t, Error>> by_feature;
    for (std::size_t k = 0; k < checked.size(); ++k) {
      const std::size_t i = works_of[k];
      by_feature.emplace_back(i < parsed.feature_index.size() ? parsed.feature_index[i] : i,
                              std::move(checked[k]));
    }
    return respond(invalid_submission(in_feature_order(std::move(parsed.errors), by_feature)));
  }
  if (parsed.works.empty() && geo::feature_documents(body))
    return respond(invalid_submission(
        {Error{"features", "is empty: a FeatureCollection must hold at least one work"}}));
  for (std::size_t i = 0; i < parsed.works.size(); ++i) {
    const geo::WorkEvent& w = parsed.works[i];
    if (!may_submit(key, w.promoter))
      return respond(api_error(
          403, "the key of " + key.org + " may submit only its own works, not " + w.promoter + "'s",
          parsed.field(i, "promoter")));
    // A Section 58 restriction is the highway authority's: a promoter key setting one would warn
    // other promoters off a street in the authority's name.
    if (key.role == Role::Promoter && w.kind == geo::WorkKind::Restriction)
      return respond(api_error(403,
                               "work " + w.work_ref +
                                   " is a Section 58 restriction, which only the highway "
                                   "authority sets: submit it through the Street Manager feed "
                                   "or with an ops key",
                               parsed.field(i, "kind")));
    // A work_ref names one work of one promoter: a promoter key may not take over, reschedule
    // or cancel (event "cancel") another promoter's live work by posting under its reference.
    if (key.role == Role::Promoter) {
      // Until the view has read works.current to its end it cannot say who holds a reference.
      if (works_feed_ && !works_feed_->caught_up())
        return respond(api_error(503, "the live works view is still loading; try again shortly"));
      // A finished work's reference stays its promoter's too: another promoter's work under it
      // would carry on the finished work's alerts (their ids are made of the references).
      // Nor one this gateway took from another promoter a moment ago, not in the view yet.
      const auto holder = works_.holder_of(w.work_ref);
      const std::string* taken = recently_accepted(w.work_ref, true);
      const char* held_as = !holder.promoter.empty() && holder.promoter != w.promoter
                                ? (holder.live ? "a live work of another promoter"
                                               : "a finished work of another promoter")
                            : taken && *taken != w.promoter
                                ? "a work another promoter submitted a moment ago"
                                : nullptr;
      if (held_as)
        return respond(api_error(403,
                                 "work_ref " + w.work_ref + " is " + held_as + "; the key of " +
                                     key.org + " may submit and cancel only its own works",
                                 parsed.field(i, "work_ref")));
    }
  }
  // What the submission is read as, where that is not what it says: an invalid polygon is taken
  // as GEOS repairs it (geo/normalize.h), and the answer says so.
  std::vector<Error> warnings, errors;
  check_geometries(parsed, errors, warnings);
  if (!errors.empty()) return respond(invalid_submission(errors));
  // Two features of one collection for the same work are two events of it, applied in order:
  // taken, as a stream of events would be, but said, since it is more often a slip.
  if (parsed.works.size() > 1) {
    std::unordered_map<std::string_view, std::size_t> first_of;
    for (std::size_t i = 0; i < parsed.works.size(); ++i) {
      auto [it, fresh] = first_of.try_emplace(parsed.works[i].work_ref, i);
      if (!fresh)
        warnings.push_back(
            Error{parsed.field(i, "work_ref"),
                  "work " + parsed.works[i].work_ref + " is also " +
                      parsed.field(it->second, "work_ref") +
                      ": the features are applied in order, each replacing the work's last "
                      "(unless its version is lower: then it is stale, and dropped)"});
    }
  }
  // An event older than the live work it names is taken (the contract: ignored as stale, by
  // ingest), but said: the client holds an old copy. Not remembered as accepted, since the view
  // will never show it.
  std::vector<bool> stale(parsed.works.size(), false);
  for (std::size_t i = 0; i < parsed.works.size(); ++i) {
    const auto& w = parsed.works[i];
    auto live = w.version ? works_.find(w.work_ref) : nullptr;
    if (live && live->version && *w.version < *live->version) {
      warnings.push_back(Error{parsed.field(i, "version"),
                               "is older than the version " + std::to_string(*live->version) +
                                   " work " + w.work_ref +
                                   " holds: the event is ignored as stale (read the work, and "
                                   "send a version at least that)"});
      stale[i] = true;
    }
  }
  // Remembered until the live view shows them (see accepted_), unless the broker refuses them.
  auto noted = note_accepted(parsed.works, stale);
  respond = [this, noted = std::move(noted), inner = std::move(respond)](ApiResponse&& r) {
    if (r.status != 202) forget_accepted(noted);
    inner(std::move(r));
  };
  std::string answer;
  std::string record_key;
  {
    JsonObject o(answer);
    if (parsed.works.empty()) {
      o.raw("work_ref", "null");  // a notification that carries no work (SNS housekeeping)
    } else {
      record_key = parsed.works.front().work_ref;
      o.str("work_ref", record_key);
    }
    if (parsed.works.size() > 1) {
      auto& refs = o.key("work_refs");
      refs += '[';
      for (std::size_t i = 0; i < parsed.works.size(); ++i) {
        if (i) refs += ',';
        append_json_string(refs, parsed.works[i].work_ref);
      }
      refs += ']';
    }
    if (!warnings.empty()) append_problems(o.key("warnings"), warnings, warnings.size());
  }
  if (parsed.works.size() > 1) {
    // A record per work, keyed by its own work_ref, so that each lands on the partition that
    // owns its work, in order with the work's other events. (The whole collection under its
    // first work_ref made ingest forward the others, and a forwarded copy could land after a
    // later submission of the same work and undo it.) Each record is the feature as sent.
    auto features = geo::feature_documents(body);
    std::vector<std::pair<std::string, std::string>> records;
    records.reserve(parsed.works.size());
    for (std::size_t i = 0; i < parsed.works.size(); ++i)
      records.emplace_back(parsed.works[i].work_ref,
                           features && features->size() == parsed.works.size()
                               ? std::move((*features)[i])
                               : geo::work_to_json(parsed.works[i]));
    return produce_all(std::move(records), members_of(answer), std::move(respond));
  }
  // The original bytes go on: ingest parses them again and keeps what it cannot read as rejected.
  produce(record_key, body, members_of(answer), std::move(respond));
}

void HttpApi::cancel(const ApiKey& key, const std::string& ref, Respond respond) {
  if (key.role == Role::Authority)
    return respond(api_error(403, "an authority key may read, not cancel works"));
  if (!geo::valid_work_ref(ref)) return respond(bad_work_ref());
  // The live view's work, else one this gateway took a moment ago that the view does not show
  // yet (the cancel follows it in its partition). A promoter key sees neither of another's.
  std::string promoter;
  if (auto w = works_.find(ref); w && (key.role != Role::Promoter || visible_to(&key, *w)))
    promoter = w->promoter;
  else if (const std::string* p = recently_accepted(ref);
           p && (key.role != Role::Promoter || *p == key.org))
    promoter = *p;
  if (promoter.empty()) return respond(api_error(404, "no live work " + ref, "work_ref"));
  if (!may_cancel(key, promoter))
    return respond(
        api_error(403, "the key of " + key.org + " may cancel only its own works", "promoter"));
  // The work is forgotten once the broker has the cancel; a 503 keeps it, for the retry.
  if (auto it = accepted_.find(ref); it != accepted_.end()) {
    AcceptedRefs cancelled{{ref, it->second.generation}};
    respond = [this, cancelled = std::move(cancelled),
               inner = std::move(respond)](ApiResponse&& r) {
      if (r.status == 202) forget_accepted(cancelled);
      inner(std::move(r));
    };
  }
  std::string value, answer;
  {
    JsonObject o(value);
    o.str("work_ref", ref);
    o.str("promoter", promoter);
    o.str("event", "cancel");
  }
  {
    JsonObject o(answer);
    o.str("work_ref", ref);
    o.str("event", "cancel");
  }
  produce(ref, value, members_of(answer), std::move(respond));
}

HttpApi::AcceptedRefs HttpApi::note_accepted(const std::vector<geo::WorkEvent>& works,
                                             const std::vector<bool>& stale) {
  const auto now = Clock::now();
  if (accepted_.size() >= accepted_sweep_at_) {
    std::erase_if(accepted_, [&](const auto& a) { return now - a.second.at > kAcceptedMemory; });
    // Still full of young entries (a flood of submissions): forget them all rather than grow
    // without bound; a DELETE then waits for the view, as it would on another gateway.
    if (accepted_.size() >= kAcceptedMax) accepted_.clear();
    accepted_sweep_at_ = std::min(kAcceptedMax, std::max<std::size_t>(1024, 2 * accepted_.size()));
  }
  AcceptedRefs noted;
  for (std::size_t i = 0; i < works.size(); ++i) {
    const auto& w = works[i];
    if (i < stale.size() && stale[i]) continue;
    // A work submitted finished takes its reference as a live one does, for its minute (the
    // view sees only its tombstone, which names no promoter).
    if (w.event == geo::EventType::Upsert) {
      accepted_[w.work_ref] = Accepted{w.promoter, now, ++accepted_generation_, w.active()};
      noted.emplace_back(w.work_ref, accepted_generation_);
    } else {
      accepted_.erase(w.work_ref);
    }
  }
  accepted_count_.store(accepted_.size(), std::memory_order_relaxed);
  return noted;
}

void HttpApi::forget_accepted(const AcceptedRefs& refs) {
  for (const auto& [ref, generation] : refs)
    if (auto it = accepted_.find(ref); it != accepted_.end() && it->second.generation == generation)
      accepted_.erase(it);
  accepted_count_.store(accepted_.size(), std::memory_order_relaxed);
}

const std::string* HttpApi::recently_accepted(const std::string& ref, bool finished_too) const {
  auto it = accepted_.find(ref);
  if (it == accepted_.end() || Clock::now() - it->second.at > kAcceptedMemory) return nullptr;
  if (!it->second.live && !finished_too) return nullptr;
  return &it->second.promoter;
}

// Produces one record to works.submitted and answers 202 once the broker has it, 503 if it could
// not take it within kProduceTimeoutMs.
void HttpApi::produce(const std::string& key, const std::string& value, std::string answer_members,
                      Respond respond) {
  if (stopping_) return respond(api_error(503, "the gateway is stopping"));
  ++pending_;
  auto delivered = [this, respond, answer_members](rd_kafka_resp_err_t err, std::int32_t partition,
                                                   std::int64_t offset) mutable {
    // On the producer's delivery thread: the answer is given on the HTTP thread.
    hooks_.post([this, respond = std::move(respond), answer_members = std::move(answer_members),
                 err, partition, offset] {
      --pending_;
      if (err) {
        metrics_.produce_failures.Increment();
        spdlog::warn("gateway: produce to {} failed: {}", submitted_topic_, rd_kafka_err2str(err));
        return respond(api_error(
            503, std::string("the broker did not take the work: ") + rd_kafka_err2str(err)));
      }
      std::string status;
      {
        JsonObject o(status);
        o.str("status", "accepted");
        o.integer("partition", partition);
        o.integer("offset", offset);
      }
      std::string body =
          "{" + answer_members + (answer_members.empty() ? "" : ",") + members_of(status) + "}";
      respond(json_response(202, std::move(body)));
    });
  };
  auto s = producer_->send(submitted_topic_, key, value, std::move(delivered));
  if (!s.ok()) {
    --pending_;
    metrics_.produce_failures.Increment();
    respond(api_error(503, s.error().what()));
  }
}

void HttpApi::produce_all(std::vector<std::pair<std::string, std::string>> records,
                          std::string answer_members, Respond respond) {
  if (stopping_) return respond(api_error(503, "the gateway is stopping"));
  // Touched on the HTTP thread only: deliveries are posted back to it, and none can run before
  // this function returns.
  struct Join {
    std::size_t waiting = 0;
    std::size_t failed = 0;
    std::string failure;  // the first failure's reason
    std::vector<std::pair<std::int32_t, std::int64_t>> placed;
    std::string answer_members;
    Respond respond;
  };
  auto join = std::make_shared<Join>();
  join->placed.assign(records.size(), {-1, -1});
  join->answer_members = std::move(answer_members);
  join->respond = std::move(respond);
  auto finish = [](Join& j) {
    if (j.failed > 0)
      return j.respond(api_error(
          503, "the broker did not take " + std::to_string(j.failed) + " of the " +
                   std::to_string(j.placed.size()) + " works (" + j.failure +
                   "); the others may have been taken: submit the same collection again, which "
                   "changes nothing for those"));
    std::string status;
    {
      JsonObject o(status);
      o.str("status", "accepted");
      o.integer("partition", j.placed.front().first);
      o.integer("offset", j.placed.front().second);
      auto& list = o.key("records");
      list += '[';
      for (std::size_t i = 0; i < j.placed.size(); ++i) {
        if (i) list += ',';
        JsonObject r(list);
        r.integer("partition", j.placed[i].first);
        r.integer("offset", j.placed[i].second);
      }
      list += ']';
    }
    j.respond(json_response(202, "{" + j.answer_members + (j.answer_members.empty() ? "" : ",") +
                                     members_of(status) + "}"));
  };
  for (std::size_t i = 0; i < records.size(); ++i) {
    ++pending_;
    ++join->waiting;
    auto delivered = [this, join, i, finish](rd_kafka_resp_err_t err, std::int32_t partition,
                                             std::int64_t offset) {
      hooks_.post([this, join, i, finish, err, partition, offset] {
        --pending_;
        if (err) {
          metrics_.produce_failures.Increment();
          spdlog::warn("gateway: produce to {} failed: {}", submitted_topic_,
                       rd_kafka_err2str(err));
          if (join->failed++ == 0) join->failure = rd_kafka_err2str(err);
        }
        join->placed[i] = {partition, offset};
        if (--join->waiting == 0) finish(*join);
      });
    };
    auto s = producer_->send(submitted_topic_, records[i].first, records[i].second,
                             std::move(delivered));
    if (!s.ok()) {
      --pending_;
      --join->waiting;
      metrics_.produce_failures.Increment();
      if (join->failed == 0) join->failure = s.error().what();
      join->failed += records.size() - i;  // this one and those after it are not sent
      break;
    }
  }
  if (join->waiting == 0) finish(*join);
}

// ---- the live stream

std::variant<const ApiKey*, ApiResponse> HttpApi::stream_key(const StreamRequest& req) const {
  auto target = parse_target(req.target);
  if (!target) return api_error(400, target.error());
  if (target->path != "/v1/stream") return api_error(404, "no WebSocket at " + target->path);
  if (req.authorization_repeated) return repeated_authorization();
  // What Beast would refuse in plain text of its own, answered in JSON as every other error.
  if (req.websocket_version != "13") {
    // RFC 6455 section 4.4: 426 with the version this server speaks.
    auto res = api_error(426, "must be 13", "Sec-WebSocket-Version");
    res.headers.emplace_back("Sec-WebSocket-Version", "13");
    return res;
  }
  // A base64 nonce of 16 bytes: 24 characters, the last two "==" (RFC 6455 section 4.1).
  if (req.websocket_key.size() != 24 || !req.websocket_key.ends_with("=="))
    return api_error(400, "must be a base64 nonce of 16 bytes", "Sec-WebSocket-Key");
  // Browsers cannot set headers on a WebSocket: the key may come in the query instead.
  const ApiKey* key = nullptr;
  if (auto it = target->query.find("key"); it != target->query.end()) {
    key = keys_.find(it->second);
    if (!key) return unauthorized("unknown API key");
  } else {
    std::optional<ApiResponse> refusal;
    key = authenticate(req.authorization, refusal);
    if (!key) return std::move(*refusal);
  }
  if (key->role == Role::Feed)
    return api_error(403, "a feed key may only POST to /v1/feeds/streetmanager");
  return key;
}

std::string HttpApi::snapshot(const ApiKey& key) const {
  WorkQuery wq;
  wq.viewer = &key;
  AlertQuery aq;
  aq.viewer = &key;
  aq.state = StateFilter::Open;
  std::string message = "{\"type\":\"snapshot\",\"data\":{\"viewer\":";
  {
    JsonObject v(message);
    v.str("org", key.org);
    v.str("role", role_name(key.role));
  }
  message += ',' + members_of(json_list("works", works_.query(wq)));
  message += ',' + members_of(json_list("alerts", alerts_.query(aq)));
  message += "}}";
  return message;
}

std::string HttpApi::work_message(const WorkChange& change, bool removed) {
  std::string m = "{\"type\":\"work\",\"data\":";
  if (removed || !change.now) {
    JsonObject o(m);
    o.str("work_ref", change.work_ref);
    o.boolean("removed", true);
  } else {
    m += change.now->json;
  }
  m += '}';
  return m;
}

std::string HttpApi::alert_message(const LiveAlert& alert) {
  return "{\"type\":\"alert\",\"data\":" + alert.json + "}";
}

std::string HttpApi::alert_removed_message(std::string_view alert_id) {
  std::string m = "{\"type\":\"alert\",\"data\":";
  {
    JsonObject o(m);
    o.str("alert_id", alert_id);
    o.boolean("removed", true);
  }
  m += '}';
  return m;
}

}  // namespace digonce::services
