#include "services/notifier.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "services/alert_audience.h"
#include "services/http_client.h"
#include "streams/kafka.h"

namespace digonce::services {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

Result<AlertRoute> read_alert_route(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size(), true).get(root))
    return error(std::string("invalid JSON: ") + simdjson::error_message(err));
  simdjson::dom::object o;
  if (root.get_object().get(o)) return error("an alert event must be a JSON object");
  AlertRoute r;
  std::string_view v;
  if (o["alert_id"].get_string().get(v)) return field_error("alert_id", "is required (a string)");
  r.alert_id = std::string(v);
  if (o["kind"].get_string().get(v)) return field_error("kind", "is required (a string)");
  r.kind = std::string(v);
  if (o["state"].get_string().get(v)) return field_error("state", "is required (a string)");
  r.state = std::string(v);
  if (o["revision"].get_int64().get(r.revision))
    return field_error("revision", "is required (an integer)");
  simdjson::dom::array authorities;
  if (o["highway_authorities"].get_array().get(authorities))
    return field_error("highway_authorities", "is required (an array of strings)");
  for (auto a : authorities) {
    if (a.get_string().get(v)) return field_error("highway_authorities", "must hold strings only");
    r.authorities.emplace_back(v);
  }
  simdjson::dom::array works;
  if (!o["works"].get_array().get(works)) add_named_authorities(works, r.authorities);
  return r;
}

bool webhook_wants(const WebhookSettings& w, const AlertRoute& a) {
  if (!w.kinds.empty() && !contains(w.kinds, a.kind)) return false;
  if (!w.states.empty() && !contains(w.states, a.state)) return false;
  if (contains(w.authorities, "*")) return true;
  return std::any_of(a.authorities.begin(), a.authorities.end(),
                     [&](const std::string& x) { return contains(w.authorities, x); });
}

std::string webhook_signature(std::string_view secret, std::int64_t t, std::string_view body) {
  std::string signed_text = std::to_string(t);
  signed_text.push_back('.');
  signed_text.append(body);
  return "t=" + std::to_string(t) + ",v1=" + hmac_sha256_hex(secret, signed_text);
}

std::string response_excerpt(std::string_view body, std::size_t max) {
  std::string out;
  bool space = false;
  for (char c : body) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      space = !out.empty();
      continue;
    }
    if (out.size() >= max) return out + "...";
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

struct Notifier::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : deliveries(prometheus::BuildCounter()
                       .Name("digonce_notifier_deliveries_total")
                       .Help("Webhook deliveries by outcome: delivered, dead_lettered")
                       .Register(r)),
        attempts(prometheus::BuildCounter()
                     .Name("digonce_notifier_attempts_total")
                     .Help("Webhook POSTs by result: ok, http_error, network_error")
                     .Register(r)),
        latency(prometheus::BuildHistogram()
                    .Name("digonce_notifier_delivery_seconds")
                    .Help("From reading an alert to its successful delivery, retries included")
                    .Register(r)),
        last_delivered(prometheus::BuildGauge()
                           .Name("digonce_notifier_last_delivery_timestamp_seconds")
                           .Help("Unix time of the last successful delivery")
                           .Register(r)) {}
  prometheus::Family<prometheus::Counter>& deliveries;
  prometheus::Family<prometheus::Counter>& attempts;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Gauge>& last_delivered;
};

struct Notifier::Worker {
  Worker(const Settings& s, const WebhookSettings& w, Url u, Metrics& m,
         const std::atomic<bool>& stop_flag, std::atomic<bool>& failed_flag)
      : settings(s),
        webhook(w),
        url(std::move(u)),
        stop(stop_flag),
        failed(failed_flag),
        delivered(m.deliveries.Add({{"webhook", w.name}, {"outcome", "delivered"}})),
        dead(m.deliveries.Add({{"webhook", w.name}, {"outcome", "dead_lettered"}})),
        ok(m.attempts.Add({{"webhook", w.name}, {"result", "ok"}})),
        http_error(m.attempts.Add({{"webhook", w.name}, {"result", "http_error"}})),
        network_error(m.attempts.Add({{"webhook", w.name}, {"result", "network_error"}})),
        latency(m.latency.Add(
            {{"webhook", w.name}},
            prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                    2.5, 5, 10, 30, 60, 300})),
        last_delivered(m.last_delivered.Add({{"webhook", w.name}})) {}

  void start() {
    thread = std::thread([this] {
      streams::bind_heartbeat_to_this_thread(&heart);  // (a produce waiting for room beats it)
      status = run();
      if (!status.ok()) {
        spdlog::error("notifier {}: {}", webhook.name, status.error().what());
        failed = true;
      }
    });
  }

  Status run();
  // Delivers one alert record; false if stopped before it was delivered or dead-lettered.
  Result<bool> handle(const rd_kafka_message_t* m);
  // Writes a dead letter and waits for the broker's ack.
  Status dead_letter(const rd_kafka_message_t* m, const std::string& reason, int attempts);
  bool sleep_unless_stopped(std::chrono::milliseconds d) const {
    auto until = Clock::now() + d;
    while (!stop.load()) {
      heart.beat();
      auto left = until - Clock::now();
      if (left <= Clock::duration::zero()) return true;
      std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
    }
    return false;
  }

  const Settings& settings;
  const WebhookSettings& webhook;
  const Url url;
  const std::atomic<bool>& stop;
  std::atomic<bool>& failed;
  prometheus::Counter& delivered;
  prometheus::Counter& dead;
  prometheus::Counter& ok;
  prometheus::Counter& http_error;
  prometheus::Counter& network_error;
  prometheus::Histogram& latency;
  prometheus::Gauge& last_delivered;
  streams::Handle producer;
  std::atomic<int> dead_letter_error{0};  // the last dead letter's delivery error, if any
  mutable streams::Heartbeat heart;       // for the probes (streams/health.h)
  std::thread thread;
  Status status;
};

namespace {
// Delivery reports of the dead-letter producer: a dead letter counts only once it is written.
void on_dead_letter_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err) static_cast<std::atomic<int>*>(opaque)->store(static_cast<int>(m->err));
}
void set_up_dead_letter_producer(rd_kafka_conf_t* conf, void* arg) {
  rd_kafka_conf_set_dr_msg_cb(conf, on_dead_letter_delivery);
  rd_kafka_conf_set_opaque(conf, arg);
}

// The consumer's rebalances (eager: the worker asks for `range`, and kafka.client cannot change
// it), called inside its poll on the worker's thread (`opaque`: the worker's heartbeat). In the
// group once an assignment has come (even an empty one), out of it when the assignment is lost.
// Partitions given up in an orderly way (another instance joined, or this one is leaving) have
// their stored offsets committed first, so that their next owner sends again nothing this one
// delivered.
void on_notifier_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto& heart = *static_cast<streams::Heartbeat*>(opaque);
  heart.beat();
  const bool assigned = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
  if (assigned) {
    heart.joined = true;
  } else if (rd_kafka_assignment_lost(rk)) {
    heart.joined = false;  // out of the group until it has rejoined; its offsets are not ours
  } else if (auto committed = rd_kafka_commit(rk, nullptr, 0);
             committed && committed != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    spdlog::warn("notifier: commit before giving up partitions: {}", rd_kafka_err2str(committed));
  }
  if (auto e = rd_kafka_assign(rk, assigned ? partitions : nullptr))
    spdlog::warn("notifier: rebalance: {}", rd_kafka_err2str(e));
}
void set_up_notifier_consumer(rd_kafka_conf_t* conf, void* heart) {
  rd_kafka_conf_set_rebalance_cb(conf, on_notifier_rebalance);
  rd_kafka_conf_set_opaque(conf, heart);
}
}  // namespace

Status Notifier::Worker::run() {
  const std::string topic = settings.topic("alerts");
  const std::string group = settings.topic("notifier." + webhook.name);
  auto config =
      streams::consumer_config(settings.brokers, "digonce-notifier-" + webhook.name, group);
  config["auto.offset.reset"] = settings.notifier.start_from;
  // A delivery may wait out a long backoff between two polls.
  config["max.poll.interval.ms"] = "3600000";
  // Eager rebalancing, not the stages' cooperative-sticky: with cooperative rebalancing, the
  // librdkafka of Debian 12 (2.0) takes a commit that meets a rebalance (ILLEGAL_GENERATION) as
  // the loss of the whole assignment, so each instance joining or leaving made the others
  // deliver again everything since their last good commit (hundreds of alerts in
  // notifier_test.sh; librdkafka issue 4059, fixed in 2.10). With eager rebalancing every
  // partition is revoked, and its offsets committed (on_notifier_rebalance), before the group
  // moves on, and nothing is committed while it does. The members of a webhook's group all wait
  // for the same endpoint, so pausing them all for a rebalance costs nothing a cooperative one
  // would save.
  config["partition.assignment.strategy"] = "range";
  auto consumer = streams::make_client(RD_KAFKA_CONSUMER, config, set_up_notifier_consumer, &heart);
  if (!consumer) return consumer.error();
  rd_kafka_t* rk = consumer->get();
  rd_kafka_poll_set_consumer(rk);
  auto p = streams::make_client(
      RD_KAFKA_PRODUCER,
      streams::producer_config(settings.brokers, "digonce-notifier-" + webhook.name, ""),
      set_up_dead_letter_producer, &dead_letter_error);
  if (!p) return p.error();
  producer = std::move(*p);

  streams::PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(rk, topics.get()))
    return streams::kafka_error("subscribe " + topic, err);
  spdlog::info("notifier {}: {} alerts for {} to {}://{}:{}{} (group {})", webhook.name, topic,
               fmt::join(webhook.authorities, ","), url.scheme, url.host, url.port, url.target,
               group);

  heart.clients_up = true;
  Status result;
  bool stored = false;
  auto last_commit = Clock::now();
  auto commit = [&](bool sync) {
    if (!stored) return;
    auto err = rd_kafka_commit(rk, nullptr, sync ? 0 : 1);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
      spdlog::warn("notifier {}: commit: {}", webhook.name, rd_kafka_err2str(err));
    stored = false;
    last_commit = Clock::now();
  };
  // Per partition, the offset last stored: what a commit would give the group.
  std::map<std::int32_t, std::int64_t> stored_at;
  auto last_step = Clock::now();
  streams::ConsumerErrorLog errors("notifier " + webhook.name);
  // The alerts topic is transactional: each transaction ends with a marker that no consumer is
  // given, so storing each alert's offset + 1 would leave the group one short of the end (a lag
  // of 1 in Kafka's tools) whenever the notifier is idle. The consumer's position moves past
  // markers (and aborted records) as it polls them; once idle, every alert before the position
  // has been handled, so the position is stored and the next commit takes it.
  auto step_over_markers = [&] {
    auto assigned = streams::assigned_positions(rk);
    if (!assigned) return;
    const streams::PartitionList& positions = *assigned;
    // librdkafka forgets stored offsets when partitions are assigned: so does this.
    std::erase_if(stored_at, [&](const auto& e) {
      return !rd_kafka_topic_partition_list_find(positions.get(), topic.c_str(), e.first);
    });
    streams::PartitionList ahead(rd_kafka_topic_partition_list_new(positions->cnt));
    for (int i = 0; i < positions->cnt; ++i) {
      const auto& at = positions->elems[i];
      auto known = stored_at.find(at.partition);
      if (at.offset >= 0 && (known == stored_at.end() || at.offset > known->second))
        rd_kafka_topic_partition_list_add(ahead.get(), topic.c_str(), at.partition)->offset =
            at.offset;
    }
    if (ahead->cnt == 0 || rd_kafka_offsets_store(rk, ahead.get())) return;
    for (int i = 0; i < ahead->cnt; ++i)
      if (!ahead->elems[i].err) stored_at[ahead->elems[i].partition] = ahead->elems[i].offset;
    stored = true;
  };
  while (!stop.load()) {
    heart.beat();
    rd_kafka_poll(producer.get(), 0);
    streams::Message m(rd_kafka_consumer_poll(rk, 100));
    if (!m && Clock::now() - last_step > std::chrono::seconds(1)) {
      step_over_markers();
      last_step = Clock::now();
    }
    if (Clock::now() - last_commit > std::chrono::milliseconds(250)) commit(false);
    if (!m) continue;
    if (m->err) {
      // A fatal error, or the topic or group refused by an ACL, ends the worker (the stages
      // stop so too); librdkafka retries the others.
      if (auto ended = errors.stop_or_report(rk, *m, topic)) {
        result = std::move(*ended);
        break;
      }
      continue;
    }
    auto done = handle(m.get());
    if (!done) {
      result = done.error();
      break;
    }
    if (!*done) break;  // stopped mid-delivery: not committed, delivered again next time
    streams::PartitionList next(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(next.get(), topic.c_str(), m->partition)->offset =
        m->offset + 1;
    if (auto err = rd_kafka_offsets_store(rk, next.get()))
      // The partition was taken away during the delivery: its new owner delivers from the last
      // commit, so this one may arrive twice.
      spdlog::warn(
          "notifier {}: offset of partition {} not stored ({}); its records since the "
          "last commit will be delivered again",
          webhook.name, m->partition, rd_kafka_err2str(err));
    else {
      stored = true;
      stored_at[m->partition] = m->offset + 1;
    }
  }
  heart.clients_up = false;
  heart.joined = false;
  streams::Heartbeat::Waiting waiting(heart, "leave its group");
  commit(true);
  rd_kafka_consumer_close(rk);
  rd_kafka_flush(producer.get(), 5000);
  return result;
}

Result<bool> Notifier::Worker::handle(const rd_kafka_message_t* m) {
  if (!m->payload) return true;  // a tombstone: nothing to tell
  const std::string body(static_cast<const char*>(m->payload), m->len);
  auto route = read_alert_route(body);
  if (!route) {
    DIGONCE_TRY(dead_letter(m, "not an alert event: " + route.error().what(), 0));
    return true;
  }
  if (!webhook_wants(webhook, *route)) return true;

  const auto began = Clock::now();
  const auto& ns = settings.notifier;
  const std::string delivery = route->alert_id + ":" + std::to_string(route->revision);
  std::chrono::milliseconds backoff(ns.backoff_initial_ms);
  std::string last_problem;
  for (int attempt = 1; attempt <= ns.max_attempts; ++attempt) {
    heart.beat();  // (each attempt ends within the webhook's timeout)
    const std::int64_t t = unix_now();
    HttpHeaders headers = {
        {"Content-Type", "application/json"},
        {"User-Agent", "digonce-notifier"},
        {"X-Digonce-Webhook", webhook.name},
        {"X-Digonce-Delivery", delivery},
        {"X-Digonce-Attempt", std::to_string(attempt)},
        {"X-Digonce-Signature", webhook_signature(webhook.secret, t, body)},
    };
    auto r = [&] {
      // (Bounded by notifier.timeout_ms, a name look-up aside: a wait, not a stuck loop.)
      streams::Heartbeat::Waiting waiting(heart, "hear from its webhook");
      return http_post(url, headers, body, std::chrono::milliseconds(ns.timeout_ms),
                       webhook.ca_file);
    }();
    bool permanent = false;
    if (r && r->status >= 200 && r->status < 300) {
      ok.Increment();
      delivered.Increment();
      latency.Observe(std::chrono::duration<double>(Clock::now() - began).count());
      last_delivered.Set(static_cast<double>(unix_now()));
      spdlog::debug("notifier {}: delivered {} (attempt {})", webhook.name, delivery, attempt);
      return true;
    }
    if (r) {
      http_error.Increment();
      last_problem = "HTTP " + std::to_string(r->status);
      if (auto said = response_excerpt(r->body); !said.empty()) last_problem += ": " + said;
      permanent = r->status >= 400 && r->status < 500 && r->status != 408 && r->status != 429;
    } else {
      network_error.Increment();
      last_problem = r.error().what();
    }
    if (permanent || attempt == ns.max_attempts) {
      spdlog::error("notifier {}: giving up on {} after {} attempt(s): {}", webhook.name, delivery,
                    attempt, last_problem);
      DIGONCE_TRY(dead_letter(m, last_problem, attempt));
      return true;
    }
    spdlog::warn("notifier {}: {} attempt {} failed ({}); retrying in {} ms", webhook.name,
                 delivery, attempt, last_problem, backoff.count());
    if (!sleep_unless_stopped(backoff)) return false;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(ns.backoff_max_ms));
  }
  return true;
}

Status Notifier::Worker::dead_letter(const rd_kafka_message_t* m, const std::string& reason,
                                     int attempts) {
  streams::Heartbeat::Waiting waiting(heart, "write a dead letter");
  const std::string topic = settings.topic("notifications.dead");
  std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
  const std::string value(static_cast<const char*>(m->payload), m->len);
  auto headers =
      streams::copied_headers(m, {
                                     {"digonce.reason", reason},
                                     {"digonce.webhook", webhook.name},
                                     {"digonce.attempts", std::to_string(attempts)},
                                     {"digonce.source.topic", rd_kafka_topic_name(m->rkt)},
                                     {"digonce.source.partition", std::to_string(m->partition)},
                                     {"digonce.source.offset", std::to_string(m->offset)},
                                 });
  dead_letter_error = 0;
  DIGONCE_TRY(streams::produce(producer.get(), topic, RD_KAFKA_PARTITION_UA, key, &value, headers));
  if (auto err = rd_kafka_flush(producer.get(), 30000))
    return streams::kafka_error("dead letter to " + topic, err);
  if (int err = dead_letter_error.load())
    return streams::kafka_error("dead letter to " + topic, static_cast<rd_kafka_resp_err_t>(err));
  dead.Increment();
  return Status::Ok();
}

Notifier::Notifier(const Settings& settings, prometheus::Registry& registry)
    : settings_(settings), metrics_(std::make_unique<Metrics>(registry)) {}

Notifier::~Notifier() {
  stop();
}

Status Notifier::start() {
  if (settings_.notifier.webhooks.empty())
    return error("no webhooks configured (notifier.webhooks in the config file)");
  for (const auto& w : settings_.notifier.webhooks) {
    auto url = parse_url(w.url);
    if (!url) return url.error().within("notifier.webhooks[" + w.name + "].url");
    // Never sign with an empty key (a secret_env not resolved: services::resolve_webhooks).
    if (w.secret.empty())
      return error("notifier.webhooks[" + w.name + "]: no secret to sign with (secret_env " +
                   w.secret_env + " not read)");
    workers_.push_back(std::make_unique<Worker>(settings_, w, *url, *metrics_, stop_, failed_));
  }
  for (auto& w : workers_) w->start();
  return Status::Ok();
}

std::vector<streams::LoopHealth> Notifier::health() const {
  std::vector<streams::LoopHealth> loops;
  for (const auto& w : workers_)
    loops.push_back(streams::snapshot("notifier " + w->webhook.name, w->heart, -1));
  return loops;
}

void Notifier::stop() {
  stop_ = true;
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

Status Notifier::status() const {
  // Read after stop(): the workers have been joined.
  for (const auto& w : workers_)
    if (!w->status.ok()) return w->status;
  return Status::Ok();
}

}  // namespace digonce::services
