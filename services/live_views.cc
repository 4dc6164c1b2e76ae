#include "services/live_views.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

#include "services/alert_audience.h"
#include "streams/admin.h"
#include "streams/kafka.h"

namespace digonce::services {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// One parser per thread: the views are fed by one thread each, and simdjson wants its buffers
// reused.
Result<object> parse_object(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(json.data(), json.size(), true).get(root))
    return error(std::string("invalid JSON: ") + simdjson::error_message(err));
  object o;
  if (root.get_object().get(o)) return error("must be a JSON object");
  return o;
}

Result<std::string> required_string(const object& o, const char* field) {
  std::string_view v;
  if (o[field].get_string().get(v)) return field_error(field, "is required (a string)");
  return std::string(v);
}

std::string optional_string(const object& o, const char* field) {
  std::string_view v;
  if (o[field].get_string().get(v)) return {};
  return std::string(v);
}

// Every position of a GeoJSON coordinates array, however deeply nested.
bool add_positions(const element& e, geo::Envelope& env, int depth) {
  array a;
  if (depth > 8 || e.get_array().get(a)) return false;
  double x = 0, y = 0;
  if (a.size() >= 2 && !a.at(0).get_double().get(x) && !a.at(1).get_double().get(y)) {
    env.add(x, y);
    return true;
  }
  for (element child : a)
    if (!add_positions(child, env, depth + 1)) return false;
  return true;
}

Result<geo::Micros> timestamp(const object& o, const char* field, geo::DateEnd end) {
  auto text = required_string(o, field);
  if (!text) return text.error();
  auto t = geo::parse_timestamp(*text, end);
  if (!t) return t.error().within(field);
  return *t;
}

}  // namespace

Result<LiveWork> parse_live_work(std::string_view json) {
  auto o = parse_object(json);
  if (!o) return o.error();
  LiveWork w;
  auto ref = required_string(*o, "work_ref");
  if (!ref) return ref.error();
  w.work_ref = std::move(*ref);
  w.promoter = optional_string(*o, "promoter");
  // Who may read the work goes by the authority its promoter gave and the areas the work meets
  // (highway_authority_areas); one ingest derived from the location is shown, and among those
  // areas, not used on its own (docs/API.md, the authority role).
  bool derived = false;
  if ((*o)["highway_authority_derived"].get_bool().get(derived) || !derived)
    w.authority = optional_string(*o, "highway_authority");
  array areas;
  if (!(*o)["highway_authority_areas"].get_array().get(areas)) {
    w.areas.emplace();
    for (element e : areas) {
      std::string_view code;
      if (!e.get_string().get(code)) w.areas->emplace_back(code);
    }
  }
  element coordinates;
  if ((*o)["geometry"]["coordinates"].get(coordinates) ||
      !add_positions(coordinates, w.envelope, 0) || w.envelope.empty())
    return field_error("geometry", "must be a GeoJSON geometry with coordinates");
  auto start = timestamp(*o, "start", geo::DateEnd::Start);
  if (!start) return start.error();
  auto end = timestamp(*o, "end", geo::DateEnd::End);
  if (!end) return end.error();
  w.start = *start;
  w.end = *end;
  std::int64_t version = 0;
  if (!(*o)["version"].get_int64().get(version)) w.version = version;
  w.json = std::string(json);
  return w;
}

Result<LiveAlert> parse_live_alert(std::string_view json) {
  auto o = parse_object(json);
  if (!o) return o.error();
  LiveAlert a;
  auto id = required_string(*o, "alert_id");
  if (!id) return id.error();
  a.alert_id = std::move(*id);
  a.kind = optional_string(*o, "kind");
  auto state = required_string(*o, "state");
  if (!state) return state.error();
  a.state = std::move(*state);
  if ((*o)["revision"].get_int64().get(a.revision))
    return field_error("revision", "is required (an integer)");
  array works;
  if ((*o)["works"].get_array().get(works)) return field_error("works", "is required (an array)");
  array authorities;
  if (!(*o)["highway_authorities"].get_array().get(authorities)) {
    for (element e : authorities) {
      std::string_view code;
      if (!e.get_string().get(code)) a.authorities.emplace_back(code);
    }
  }
  for (element w : works) {
    std::string_view ref, promoter;
    if (!w["work_ref"].get_string().get(ref)) a.work_refs.emplace_back(ref);
    if (!w["promoter"].get_string().get(promoter)) a.promoters.emplace_back(promoter);
  }
  add_named_authorities(works, a.authorities);
  a.json = std::string(json);
  return a;
}

bool visible_to(const ApiKey* viewer, const LiveWork& w) {
  return !viewer ||
         may_read_work(*viewer, w.promoter, w.authority, w.envelope, w.areas ? &*w.areas : nullptr);
}

bool visible_to(const ApiKey* viewer, const LiveAlert& a) {
  return !viewer || may_read_alert(*viewer, a.promoters, a.authorities);
}

// ---- WorksView

Result<std::optional<WorkChange>> WorksView::apply(std::string_view key,
                                                   std::optional<std::string_view> value) {
  if (!value) {
    std::unique_lock lock(mutex_);
    auto it = works_.find(key);
    if (it == works_.end()) return std::optional<WorkChange>();
    WorkChange change{std::string(key), nullptr, std::move(it->second)};
    works_.erase(it);
    const std::uint64_t seq = ++finished_seq_;
    finished_.insert_or_assign(change.work_ref, Finished{change.before->promoter, seq});
    finished_order_.emplace_back(change.work_ref, seq);
    while (finished_order_.size() > max_finished_) {
      // The oldest, unless that reference finished again since (a later place in the queue).
      const auto& [ref, at] = finished_order_.front();
      if (auto old = finished_.find(ref); old != finished_.end() && old->second.seq == at)
        finished_.erase(old);
      finished_order_.pop_front();
    }
    return std::optional<WorkChange>(std::move(change));
  }
  auto parsed = parse_live_work(*value);
  if (!parsed) return parsed.error();
  // The key is the identity (it is what a tombstone names); the value's work_ref should match.
  if (!key.empty()) parsed->work_ref = std::string(key);
  auto now = std::make_shared<const LiveWork>(std::move(*parsed));
  std::unique_lock lock(mutex_);
  if (auto it = finished_.find(now->work_ref); it != finished_.end()) finished_.erase(it);
  auto& slot = works_[now->work_ref];
  WorkChange change{now->work_ref, now, std::move(slot)};
  slot = now;
  return std::optional<WorkChange>(std::move(change));
}

std::vector<std::shared_ptr<const LiveWork>> WorksView::query(const WorkQuery& q) const {
  std::vector<std::shared_ptr<const LiveWork>> out;
  std::shared_lock lock(mutex_);
  for (auto it = q.after.empty() ? works_.begin() : works_.upper_bound(q.after); it != works_.end();
       ++it) {
    const auto& w = it->second;
    if (q.bbox && !w->envelope.intersects(*q.bbox)) continue;
    if (q.from && w->end < *q.from) continue;
    if (q.to && w->start > *q.to) continue;
    if (!visible_to(q.viewer, *w)) continue;
    out.push_back(w);
    if (q.limit && out.size() > q.limit) break;  // one more than asked: there is a next page
  }
  return out;
}

std::shared_ptr<const LiveWork> WorksView::find(std::string_view work_ref) const {
  std::shared_lock lock(mutex_);
  auto it = works_.find(work_ref);
  return it == works_.end() ? nullptr : it->second;
}

WorksView::Holder WorksView::holder_of(std::string_view work_ref) const {
  std::shared_lock lock(mutex_);
  if (auto it = works_.find(work_ref); it != works_.end()) return {it->second->promoter, true};
  if (auto it = finished_.find(work_ref); it != finished_.end())
    return {it->second.promoter, false};
  return {};
}

std::size_t WorksView::finished_size() const {
  std::shared_lock lock(mutex_);
  return finished_.size();
}

std::size_t WorksView::size() const {
  std::shared_lock lock(mutex_);
  return works_.size();
}

// ---- AlertsView

std::optional<StateFilter> parse_state_filter(std::string_view s) {
  if (s.empty() || s == "all") return StateFilter::All;
  if (s == "open") return StateFilter::Open;
  if (s == "closed") return StateFilter::Closed;
  return std::nullopt;
}

Result<std::optional<AlertChange>> AlertsView::apply(std::string_view key,
                                                     std::optional<std::string_view> value) {
  using Out = std::optional<AlertChange>;
  if (!value) {
    std::unique_lock lock(mutex_);
    auto it = alerts_.find(key);
    if (it == alerts_.end()) return Out();
    AlertChange gone{nullptr, std::move(it->second)};
    alerts_.erase(it);
    return Out(std::move(gone));
  }
  auto parsed = parse_live_alert(*value);
  if (!parsed) return parsed.error();
  auto now = std::make_shared<const LiveAlert>(std::move(*parsed));
  std::unique_lock lock(mutex_);
  auto& slot = alerts_[now->alert_id];
  if (slot && slot->revision > now->revision) return Out();  // a replay of an older revision
  AlertChange change{now, std::move(slot)};
  slot = now;
  return Out(std::move(change));
}

std::vector<std::shared_ptr<const LiveAlert>> AlertsView::query(const AlertQuery& q) const {
  std::vector<std::shared_ptr<const LiveAlert>> out;
  std::shared_lock lock(mutex_);
  for (auto it = q.after.empty() ? alerts_.begin() : alerts_.upper_bound(q.after);
       it != alerts_.end(); ++it) {
    const auto& a = it->second;
    if (q.limit && out.size() > q.limit) break;  // one more than asked: there is a next page
    if (q.state == StateFilter::Open && !a->open()) continue;
    if (q.state == StateFilter::Closed && a->open()) continue;
    if (!q.authority.empty() && std::find(a->authorities.begin(), a->authorities.end(),
                                          q.authority) == a->authorities.end())
      continue;
    if (!visible_to(q.viewer, *a)) continue;
    out.push_back(a);
  }
  return out;
}

std::size_t AlertsView::size() const {
  std::shared_lock lock(mutex_);
  return alerts_.size();
}

// ---- TopicFeed

TopicFeed::TopicFeed(std::string brokers, std::string topic, OnRecord on_record)
    : brokers_(std::move(brokers)),
      topic_(std::move(topic)),
      on_record_(std::move(on_record)),
      errors_("live view") {}

TopicFeed::~TopicFeed() {
  stop();
}

void TopicFeed::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void TopicFeed::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TopicFeed::run() {
  // A broker that is not there yet, or a topic not created yet, is waited for, not fatal: the
  // gateway answers from what it has and /healthz says it is not caught up.
  while (!stop_.load()) {
    auto s = consume();
    if (s.ok()) return;
    // Said once (then at most every 30 s) and shown by /healthz: a wrong broker address must
    // not look like a view still starting.
    errors_.report(digonce::error(topic_ + ": " + s.error().what() + "; retrying"),
                   topic_ +
                       ": cannot read the topic's metadata (brokers out of reach, no such "
                       "topic yet, or no Describe right on it); retrying");
    for (int i = 0; i < 10 && !stop_.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status TopicFeed::consume() {
  auto partitions = streams::partition_count(brokers_, topic_, 2000);
  if (!partitions) return partitions.error();
  // A group id is required by librdkafka even for assign(); no member ever joins it and nothing
  // is committed. Named after the topic, so that ACLs on the topic prefix cover it.
  auto config = streams::consumer_config(brokers_, "digonce-gateway-view", topic_ + ".view");
  config["enable.partition.eof"] = "true";
  config["fetch.wait.max.ms"] = "10";  // freshness: an alert shows within a second end to end
  auto consumer = streams::make_client(RD_KAFKA_CONSUMER, config);
  if (!consumer) return consumer.error();
  rd_kafka_t* rk = consumer->get();
  rd_kafka_poll_set_consumer(rk);
  DIGONCE_TRY(streams::assign_all(rk, topic_, *partitions, RD_KAFKA_OFFSET_BEGINNING));

  std::vector<bool> at_end(static_cast<std::size_t>(*partitions), false);
  int ends = 0;
  Status result;
  while (!stop_.load()) {
    streams::Message m(rd_kafka_consumer_poll(rk, 100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      errors_.clear();
      auto p = static_cast<std::size_t>(m->partition);
      if (p < at_end.size() && !at_end[p]) {
        at_end[p] = true;
        if (++ends == *partitions && !caught_up_.exchange(true))
          spdlog::info("live view of {} caught up", topic_);
      }
      continue;
    }
    if (m->err) {
      if (rd_kafka_fatal_error(rk, nullptr, 0)) {
        result = streams::kafka_error("consume " + topic_, m->err);
        break;
      }
      // librdkafka retries it (a refused fetch too: an ACL may yet be added); logged, and
      // shown by /healthz while the view waits.
      errors_.report(*m);
      continue;
    }
    errors_.clear();
    std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
    std::optional<std::string_view> value;
    if (m->payload) value = std::string_view(static_cast<const char*>(m->payload), m->len);
    on_record_(key, value);
  }
  rd_kafka_consumer_close(rk);
  return result;
}

}  // namespace digonce::services
