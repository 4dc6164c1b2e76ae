#include "streams/kafka.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "base/ascii.h"
#include "streams/health.h"

namespace digonce::streams {
namespace {

// When a broker last refused each client's credentials or TLS handshake (or the client the
// broker's certificate), and why, by client
// name: a client that cannot authenticate sees only "transport failure" or a timeout in its
// calls, so its errors say why (a wrong password must not read as "broker down").
constexpr auto kRefusalAge = std::chrono::minutes(1);
struct Refusal {
  std::string reason;
  std::chrono::steady_clock::time_point when;
};
struct Refusals {
  std::mutex mutex;
  std::map<std::string, Refusal> by_client;
  Refusal last;          // of any client
  Refusal last_failure;  // the last connection that failed, of any client (not a refusal)
  // When each consumer's group session last timed out (librdkafka's SESSTMOUT line).
  std::map<std::string, std::chrono::steady_clock::time_point> session_timeouts;
};
Refusals& refusals() {
  static Refusals r;
  return r;
}

// The reason as a client's errors carry it: which side said no, and the line that says why.
std::string refused(const std::string& reason) {
  if (reason.empty()) return {};
  if (reason.find("certificate verify failed") != reason.npos)
    return " (this client refused a broker's certificate: " + reason + ")";
  return " (a broker refused this client: " + reason + ")";
}

// A broker's TLS alert that ends a handshake for good (OpenSSL's names: "sslv3 alert bad
// certificate", "tlsv13 alert certificate required", ...): a client certificate missing, unsigned
// by the CA the broker trusts, expired, or no common protocol or cipher.
bool is_tls_refusal(std::string_view text) {
  if (text.find(" alert ") == text.npos) return false;
  static constexpr std::string_view kFinal[] = {
      "alert bad certificate",        "alert certificate required", "alert unknown ca",
      "alert certificate unknown",    "alert certificate expired",  "alert certificate revoked",
      "alert access denied",          "alert handshake failure",    "alert protocol version",
      "alert unsupported certificate"};
  for (auto f : kFinal)
    if (text.find(f) != text.npos) return true;
  return false;
}

// librdkafka's log callback for every client: its lines printed as before (rd_kafka_log_print),
// and a broker's refusal remembered. A refusal reaches the application only as a log line (an
// error callback would be served only by clients that poll, and would silence the others). A
// handshake cut short ("Disconnected", as while a broker restarts) is not a refusal.
void on_client_log(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  rd_kafka_log_print(rk, level, facility, line);
  if (std::string_view(facility) == "SESSTMOUT") {
    auto& all = refusals();
    std::lock_guard lock(all.mutex);
    all.session_timeouts[rd_kafka_name(rk)] = std::chrono::steady_clock::now();
    return;
  }
  const std::string_view text(line);
  if (level > 4 || text.find("Disconnected") != text.npos) return;
  if (text.find("SASL authentication error") == text.npos &&
      text.find("SSL handshake failed") == text.npos &&
      text.find("Authentication failed") == text.npos && !is_tls_refusal(text)) {
    // A connection that failed ("Connect to ipv4#127.0.0.1:1 failed: Connection refused",
    // "Failed to resolve 'kafka:9092'", "Receive failed: Invalid response size" from a port that
    // is not Kafka's): the reason a client that cannot reach its brokers gives.
    if (std::string_view(facility) != "FAIL") return;
    const auto at = text.find(": ");
    auto& all = refusals();
    std::lock_guard lock(all.mutex);
    all.last_failure = {std::string(at == text.npos ? text : text.substr(at + 2)),
                        std::chrono::steady_clock::now()};
    return;
  }
  // The line without its thread: "[thrd:...]: sasl_ssl://host:port/id: SASL authentication..."
  const auto at = text.find(": ");
  Refusal r{std::string(at == text.npos ? text : text.substr(at + 2)),
            std::chrono::steady_clock::now()};
  auto& all = refusals();
  std::lock_guard lock(all.mutex);
  // Only the last minute's are asked for: a process that keeps making clients refused (a stage
  // waiting with a wrong password) must not keep them all.
  std::erase_if(all.by_client, [&](const auto& e) { return r.when - e.second.when > kRefusalAge; });
  all.by_client[rd_kafka_name(rk)] = r;
  all.last = std::move(r);
}

// The names digonce's own settings go by: a value under another name would be set, or lost,
// depending on the order librdkafka reads them in.
const std::map<std::string_view, std::string_view>& aliases() {
  static const std::map<std::string_view, std::string_view> a = {
      {"compression.codec", "compression.type"},
      {"delivery.timeout.ms", "message.timeout.ms"},
      {"max.in.flight", "max.in.flight.requests.per.connection"},
      {"queue.buffering.max.ms", "linger.ms"},
      {"request.required.acks", "acks"},
      {"metadata.broker.list", "bootstrap.servers"},
  };
  return a;
}

// Which kind of client each librdkafka property is for, from librdkafka's own table
// (rd_kafka_conf_properties_show: 'C' consumer, 'P' producer, '*' both), read once.
const std::map<std::string, char, std::less<>>& property_scopes() {
  static const auto scopes = [] {
    std::map<std::string, char, std::less<>> m;
    char* text = nullptr;
    std::size_t size = 0;
    FILE* f = open_memstream(&text, &size);
    if (!f) return m;
    rd_kafka_conf_properties_show(f);
    std::fclose(f);
    std::string_view all(text, size);
    while (!all.empty()) {
      const auto eol = all.find('\n');
      std::string_view line = all.substr(0, eol);
      all = eol == all.npos ? std::string_view() : all.substr(eol + 1);
      // "name    |  C  | range | ..."
      const auto bar = line.find('|');
      if (bar == line.npos || line.find('|', bar + 1) == line.npos) continue;
      const std::string_view name = ascii_trim(line.substr(0, bar));
      const std::string_view scope =
          ascii_trim(line.substr(bar + 1, line.find('|', bar + 1) - bar - 1));
      // Only the table's rows (not its header, "C/P", nor its rule of dashes).
      if (scope.size() != 1 || (scope[0] != 'C' && scope[0] != 'P' && scope[0] != '*')) continue;
      if (!name.empty() && name.find(' ') == name.npos) m.emplace(std::string(name), scope[0]);
    }
    std::free(text);
    return m;
  }();
  return scopes;
}

}  // namespace

bool property_applies(std::string_view name, rd_kafka_type_t type) {
  const auto& scopes = property_scopes();
  const auto it = scopes.find(name);
  if (it == scopes.end() || it->second == '*') return true;
  return it->second == (type == RD_KAFKA_CONSUMER ? 'C' : 'P');
}

std::string recent_refusal() {
  auto& all = refusals();
  std::lock_guard lock(all.mutex);
  if (std::chrono::steady_clock::now() - all.last.when > kRefusalAge) return {};
  return refused(all.last.reason);
}

bool session_timed_out_within(const rd_kafka_t* consumer, std::chrono::steady_clock::duration d) {
  auto& all = refusals();
  std::lock_guard lock(all.mutex);
  auto it = all.session_timeouts.find(rd_kafka_name(consumer));
  return it != all.session_timeouts.end() && std::chrono::steady_clock::now() - it->second < d;
}

void forget_session_timeouts(const rd_kafka_t* consumer) {
  auto& all = refusals();
  std::lock_guard lock(all.mutex);
  all.session_timeouts.erase(rd_kafka_name(consumer));
}

std::string recent_connection_failure() {
  auto& all = refusals();
  std::lock_guard lock(all.mutex);
  if (all.last_failure.reason.empty() ||
      std::chrono::steady_clock::now() - all.last_failure.when > kRefusalAge)
    return {};
  return " (last connection failure: " + all.last_failure.reason + ")";
}

std::string refusal_since(const rd_kafka_t* rk, std::chrono::steady_clock::time_point since) {
  auto& all = refusals();
  std::lock_guard lock(all.mutex);
  auto it = all.by_client.find(rd_kafka_name(rk));
  if (it == all.by_client.end() || it->second.when < since) return {};
  return refused(it->second.reason);
}

Result<Handle> make_client(rd_kafka_type_t type, const Config& config,
                           void (*setup)(rd_kafka_conf_t*, void*), void* setup_arg) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : config) {
    // A consumer's property on a producer (an admin client is one) or the other way round: the
    // client would ignore it with a warning at every start (kafka.client applies to all).
    if (!property_applies(k, type)) continue;
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return error("kafka config " + k + "=" + v + ": " + err);
    }
  }
  rd_kafka_conf_set_log_cb(conf, on_client_log);
  if (setup) setup(conf, setup_arg);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return error(std::string("kafka client: ") + err);
  }
  return Handle(rk);
}

namespace {

Config& client_properties() {
  static Config properties;
  return properties;
}

// The properties of the process's config (set_client_properties), over digonce's own.
Config& with_client_properties(Config& c) {
  for (const auto& [k, v] : client_properties()) c[k] = v;
  return c;
}

}  // namespace

std::string canonical_property(const std::string& name) {
  auto it = aliases().find(name);
  return it == aliases().end() ? name : std::string(it->second);
}

std::string client_property_problem(const std::string& name, const std::string* value) {
  static const std::map<std::string_view, const char*> own = {
      {"bootstrap.servers", "give the brokers with --brokers"},
      {"linger.ms", "streams.linger_ms sets it for the stages"},
      {"fetch.min.bytes", "streams.fetch_min_bytes sets it for the stages"},
      {"client.id", "digonce names each client"},
      {"group.id", "digonce names each consumer group"},
      {"group.instance.id", "streams.static_membership sets it for the stages"},
      {"transactional.id", "digonce names each transactional producer"},
      {"enable.idempotence", "exactly-once needs digonce's value"},
      {"acks", "exactly-once needs digonce's value"},
      {"isolation.level", "exactly-once needs digonce's value"},
      {"enable.auto.commit", "exactly-once needs digonce's value"},
      {"enable.auto.offset.store", "exactly-once needs digonce's value"},
      {"transaction.timeout.ms", "streams.max_commit_interval_ms is checked against it"},
      {"auto.offset.reset", "digonce sets it for each consumer"},
      {"partition.assignment.strategy",
       "cooperative-sticky for the stages (scale-out), eager for the notifier (docs/WEBHOOKS.md)"},
      {"partitioner", "keys must land where Java clients put them (murmur2)"},
      {"enable.partition.eof", "digonce sets it for each consumer"},
      {"log.queue", "digonce reads librdkafka's log lines as they come"},
  };
  if (auto it = own.find(canonical_property(name)); it != own.end())
    return std::string("digonce sets it itself: ") + it->second;
  // librdkafka's own check of the name and value (types, ranges, features built in), on a
  // scratch configuration; without a value, of the name only.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512] = "";
  rd_kafka_conf_res_t r;
  if (value) {
    r = rd_kafka_conf_set(conf, name.c_str(), value->c_str(), err, sizeof err);
  } else {
    // An empty value is refused by a property of some types, but only an unknown name is
    // refused as unknown.
    r = rd_kafka_conf_set(conf, name.c_str(), "", err, sizeof err);
    if (r == RD_KAFKA_CONF_INVALID) r = RD_KAFKA_CONF_OK;
  }
  rd_kafka_conf_destroy(conf);
  return r == RD_KAFKA_CONF_OK ? std::string() : std::string(err);
}

std::string client_properties_conflict(const Config& properties, int linger_ms) {
  // librdkafka checks some settings against others only when a client is made (socket.timeout.ms
  // and message.timeout.ms against a transactional producer's transaction.timeout.ms,
  // receive.message.max.bytes against the restore consumer's fetch.max.bytes, files named by
  // ssl.* ...): make the clients a stage makes, with these properties, and drop them. Nothing is
  // produced; they may start to connect to an address nobody listens on. What would reach
  // further is turned off for the check: debug output, and SASL (Kerberos' kinit, an OIDC token
  // fetch).
  const auto saved = client_properties();
  client_properties() = properties;
  Config producer = producer_config("127.0.0.1:9", "digonce-config-check", "digonce-config-check");
  producer["linger.ms"] = std::to_string(linger_ms);
  Config consumer = consumer_config("127.0.0.1:9", "digonce-config-check", "digonce-config-check");
  Config restorer = restore_consumer_config("127.0.0.1:9", "digonce-config-check");
  client_properties() = saved;
  for (auto* c : {&producer, &consumer, &restorer}) {
    c->erase("debug");
    (*c)["log_level"] = "0";
    // SASL out (each sasl.* property was checked alone): its set-up may run kinit or call a
    // token endpoint as the client is made. TLS stays.
    std::erase_if(*c, [](const auto& e) { return e.first.starts_with("sasl."); });
    if (auto p = c->find("security.protocol"); p != c->end())
      p->second = p->second == "SASL_SSL" || p->second == "sasl_ssl"               ? "SSL"
                  : p->second == "SASL_PLAINTEXT" || p->second == "sasl_plaintext" ? "PLAINTEXT"
                                                                                   : p->second;
  }
  const std::string context =
      "librdkafka refuses them beside digonce's own settings (a stage's transactional producer "
      "has transaction.timeout.ms " +
      producer.at("transaction.timeout.ms") + ", its restore consumer fetch.max.bytes " +
      restorer.at("fetch.max.bytes") + "): ";
  for (auto [type, c] : {std::pair{RD_KAFKA_PRODUCER, &producer},
                         {RD_KAFKA_CONSUMER, &consumer},
                         {RD_KAFKA_CONSUMER, &restorer}})
    if (auto client = make_client(type, *c); !client) return context + client.error().what();
  return {};
}

void set_client_properties(Config properties) {
  client_properties() = std::move(properties);
}

Config base_config(const std::string& brokers, const std::string& client_id) {
  Config c = {
      {"bootstrap.servers", brokers},
      {"client.id", client_id},
      {"broker.address.family", "v4"},
      {"socket.keepalive.enable", "true"},
      // No Nagle delay for small requests (a commit's AddOffsetsToTxn, TxnOffsetCommit, EndTxn
      // follow one another): the Java clients and the broker set TCP_NODELAY too.
      {"socket.nagle.disable", "true"},
      {"topic.metadata.refresh.interval.ms", "30000"},
  };
  return with_client_properties(c);
}

Config producer_config(const std::string& brokers, const std::string& client_id,
                       const std::string& transactional_id) {
  Config c = base_config(brokers, client_id);
  c["enable.idempotence"] = "true";  // implies acks=all, in-order, no duplicates on retry
  c["acks"] = "all";
  c["partitioner"] = "murmur2_random";
  c["linger.ms"] = "2";
  c["compression.type"] = "lz4";
  c["message.max.bytes"] = "10000000";
  if (!transactional_id.empty()) {
    c["transactional.id"] = transactional_id;
    // Short enough that a crashed instance's open transaction, which holds back every
    // read_committed consumer, is aborted by the broker within seconds if no one takes its id.
    c["transaction.timeout.ms"] = std::to_string(kTransactionTimeoutMs);
    // Right after a commit the coordinator is still writing the previous transaction's markers
    // and answers the next AddPartitionsToTxn / AddOffsetsToTxn with CONCURRENT_TRANSACTIONS;
    // librdkafka retries after retry.backoff.ms, 100 ms by default, which made every commit
    // cost ~100 ms. Kafka Streams lowers it for the same reason.
    c["retry.backoff.ms"] = "5";
  }
  return with_client_properties(c);
}

Config consumer_config(const std::string& brokers, const std::string& client_id,
                       const std::string& group_id) {
  Config c = base_config(brokers, client_id);
  if (!group_id.empty()) c["group.id"] = group_id;
  c["isolation.level"] = "read_committed";
  c["enable.auto.commit"] = "false";
  c["enable.auto.offset.store"] = "false";
  c["auto.offset.reset"] = "earliest";
  c["partition.assignment.strategy"] = "cooperative-sticky";
  c["fetch.wait.max.ms"] = "10";
  c["session.timeout.ms"] = "10000";
  c["heartbeat.interval.ms"] = "1000";
  c["max.poll.interval.ms"] = "300000";
  return with_client_properties(c);
}

bool authorization_error(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
         e == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
         e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

Config restore_consumer_config(const std::string& brokers, const std::string& client_id,
                               const std::string& group_id) {
  // It only ever assign()s changelog partitions and never commits, but librdkafka refuses
  // assign() without a group.id (_UNKNOWN_GROUP): it gets one of its own.
  Config c = consumer_config(brokers, client_id, group_id.empty() ? client_id : group_id);
  c["enable.partition.eof"] = "true";
  c["auto.offset.reset"] = "error";
  c["fetch.max.bytes"] = "104857600";
  c["max.partition.fetch.bytes"] = "16777216";
  // librdkafka 2.0 (Debian 12's) stops fetching for a whole second once a partition's local
  // queue holds queued.min.messages (100,000) or queued.max.messages.kbytes (64 MiB): one
  // 16 MiB fetch of changelog records passes the first, and a restore, which drains the
  // queue in a fraction of that second, then idled most of it (1 s per 100k+ records:
  // docs/PERFORMANCE.md). The bounds are raised so that a restore never waits on them; the
  // queue's memory stays bounded by the kbytes (256 MiB, one partition restored at a time).
  c["queued.min.messages"] = "10000000";
  c["queued.max.messages.kbytes"] = "262144";
  c.erase("partition.assignment.strategy");
  return c;
}

Status assign_all(rd_kafka_t* consumer, const std::string& topic, int partitions,
                  std::int64_t offset) {
  PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = offset;
  if (auto err = rd_kafka_assign(consumer, list.get())) return kafka_error("assign " + topic, err);
  return {};
}

namespace {

// What a client that cannot reach its brokers is told: a refusal may be why.
bool unreachable(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
         e == RD_KAFKA_RESP_ERR__SSL;
}

}  // namespace

std::string kafka_error_hint(rd_kafka_resp_err_t e) {
  if (unreachable(e)) return recent_refusal();
  if (authorization_error(e))
    return " (the broker's ACLs refuse this principal: docs/OPERATIONS.md, \"Kafka ACLs\", lists "
           "the rights digonce needs)";
  return {};
}

Error kafka_error(const std::string& what, rd_kafka_error_t* e) {
  Error out = error(what + ": " + rd_kafka_error_name(e) + ": " + rd_kafka_error_string(e) +
                    kafka_error_hint(rd_kafka_error_code(e)));
  rd_kafka_error_destroy(e);
  return out;
}

Error kafka_error(const std::string& what, rd_kafka_resp_err_t e) {
  return error(what + ": " + rd_kafka_err2name(e) + ": " + rd_kafka_err2str(e) +
               kafka_error_hint(e));
}

ConsumerErrorLog::ConsumerErrorLog(std::string who, std::chrono::steady_clock::duration every)
    : who_(std::move(who)), every_(every) {}

std::string ConsumerErrorLog::report(const rd_kafka_message_t& m) {
  std::string topic = m.rkt ? std::string(rd_kafka_topic_name(m.rkt)) + ": " : "";
  std::string text = topic + rd_kafka_message_errstr(&m) + kafka_error_hint(m.err);
  // (The hint of an unreachable cluster is the last refusal's text, which names brokers.)
  std::string brief = topic + rd_kafka_err2str(m.err) +
                      (authorization_error(m.err) ? kafka_error_hint(m.err) : std::string());
  return log(m.err, std::move(text), std::move(brief));
}

std::optional<Error> ConsumerErrorLog::stop_or_report(rd_kafka_t* rk, const rd_kafka_message_t& m,
                                                      const std::string& topic) {
  if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::nullopt;
  if (rd_kafka_fatal_error(rk, nullptr, 0) || authorization_error(m.err))
    return kafka_error("consume " + topic, m.err);
  report(m);  // librdkafka retries it
  return std::nullopt;
}

std::string ConsumerErrorLog::report(const Error& e, std::string brief) {
  return log(RD_KAFKA_RESP_ERR__FAIL, e.what(), std::move(brief));
}

std::string ConsumerErrorLog::log(rd_kafka_resp_err_t code, std::string text, std::string brief) {
  auto now = std::chrono::steady_clock::now();
  std::uint64_t between = 0;
  {
    std::lock_guard lock(mutex_);
    last_ = text;
    last_brief_ = std::move(brief);
    active_ = true;
    if (code == logged_code_ && now - logged_at_ < every_) {
      ++unlogged_;
      return text;
    }
    between = code == logged_code_ ? unlogged_ : 0;
    logged_code_ = code;
    logged_at_ = now;
    unlogged_ = 0;
  }
  if (between)
    spdlog::warn("{}: {} ({} more since the last line)", who_, text, between);
  else
    spdlog::warn("{}: {}", who_, text);
  return text;
}

void ConsumerErrorLog::clear() {
  if (!active_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex_);
  active_ = false;
  last_.clear();
  last_brief_.clear();
  // The log's memory stays: an error that comes and goes between records (a partition refused
  // while others are read) is still one line a period, not one each time it comes back.
}

std::string ConsumerErrorLog::last(bool detailed) const {
  std::lock_guard lock(mutex_);
  return detailed ? last_ : last_brief_;
}

Result<PartitionList> assigned_positions(rd_kafka_t* consumer) {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (auto err = rd_kafka_assignment(consumer, &raw)) return kafka_error("assignment", err);
  PartitionList list(raw);
  if (auto err = rd_kafka_position(consumer, list.get())) return kafka_error("position", err);
  return list;
}

Status produce(rd_kafka_t* producer, const std::string& topic, std::int32_t partition,
               std::string_view key, const std::string* value, const std::vector<Header>& headers,
               void* opaque, rd_kafka_resp_err_t* refused) {
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& h : headers)
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
    }
    auto err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr,
                         value ? value->size() : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    if (hdrs) rd_kafka_headers_destroy(hdrs);  // not taken over on failure
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (refused) *refused = err;
      return kafka_error("produce to " + topic, err);
    }
    rd_kafka_poll(producer, 50);  // wait for delivery reports to make room
    beat_this_thread();           // (waiting for the brokers: alive, streams/health.h)
  }
}

std::optional<std::string_view> header(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (!m || rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  const void* v = nullptr;
  size_t n = 0;
  if (rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return std::nullopt;
  return std::string_view(static_cast<const char*>(v), n);
}

std::vector<Header> copied_headers(const rd_kafka_message_t* m, std::vector<Header> provenance) {
  std::vector<Header> out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (m && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* v = nullptr;
    size_t n = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      if (std::string_view(name).substr(0, 8) != "digonce.")
        out.push_back({name, v ? std::string(static_cast<const char*>(v), n) : std::string()});
  }
  for (auto& h : provenance) out.push_back(std::move(h));
  return out;
}

}  // namespace digonce::streams
