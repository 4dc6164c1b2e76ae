#include "streams/admin.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <thread>

#include <spdlog/spdlog.h>

#include "streams/kafka.h"

namespace digonce::streams {
namespace {

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};

// `made`: when the client was made. It connects at once, so a refusal may come before this call
// begins; librdkafka then logs the same failure again only now and then.
struct TopicShape {
  int partitions = 0;
  int replicas = 0;  // the fewest of any partition
};

Result<std::map<std::string, TopicShape>> existing_topics(
    rd_kafka_t* rk, int timeout_ms, std::chrono::steady_clock::time_point made) {
  const rd_kafka_metadata_t* md = nullptr;
  // Asked in growing slices (1 s, 2 s, 4 s, ... up to what is left), so that a broker refusing
  // this client's credentials ends the wait early (waiting would not mend it) while a slow
  // answer still gets the whole timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (long long slice = 1000;;) {
    const auto asked = std::chrono::steady_clock::now();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - asked).count();
    auto err = rd_kafka_metadata(rk, 1, nullptr, &md,
                                 static_cast<int>(std::clamp<long long>(left, 1, slice)));
    if (!err) break;
    if (left <= slice) return kafka_error("metadata", err);
    if (auto why = refusal_since(rk, made); !why.empty())
      return error(std::string("metadata: ") + rd_kafka_err2name(err) + why);
    // A slice used up doubles the next; a quick failure is asked again after a pause.
    if (std::chrono::steady_clock::now() - asked >= std::chrono::milliseconds(slice))
      slice *= 2;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::map<std::string, TopicShape> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err) continue;
    TopicShape shape{t.partition_cnt, t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0};
    for (int p = 1; p < t.partition_cnt; ++p)
      shape.replicas = std::min(shape.replicas, t.partitions[p].replica_cnt);
    out[t.topic] = shape;
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

// CreateTopics errors that waiting cannot mend (others, such as too few brokers registered yet
// for the replication factor or a controller moving, may pass).
bool permanent(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return true;
    default:
      return false;
  }
}

// A setting of an existing topic below the spec's, or "" (numbers compared as numbers; a value
// that is not a number, or cleanup.policy, compared as text).
std::string weaker(const std::string& key, const std::string& have, const std::string& want) {
  if (have == want) return {};
  if (key == "cleanup.policy") return have;
  try {
    std::size_t a = 0, b = 0;
    const long long h = std::stoll(have, &a), w = std::stoll(want, &b);
    if (a == have.size() && b == want.size()) return h < w && h >= 0 ? have : std::string();
  } catch (const std::exception&) {
  }
  return have;
}

}  // namespace

Result<TopicConfigs> describe_topic_configs(rd_kafka_t* rk, const std::vector<std::string>& names,
                                            int timeout_ms,
                                            std::map<std::string, std::string>* refused) {
  TopicConfigs out;
  if (names.empty()) return out;
  // librdkafka's embedded (mock) broker does not answer DescribeConfigs at all: the request
  // would wait out the whole timeout. Its cluster id says what it is; its topics have no
  // settings to read.
  if (char* id = rd_kafka_clusterid(rk, timeout_ms)) {
    const bool embedded = std::string_view(id).starts_with("mockCluster");
    rd_kafka_mem_free(rk, id);
    if (embedded) return out;
  }
  std::vector<rd_kafka_ConfigResource_t*> resources;
  resources.reserve(names.size());
  for (const auto& name : names)
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  rd_kafka_DescribeConfigs(rk, resources.data(), resources.size(), nullptr, queue.get());
  rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), timeout_ms);
  if (!ev) return error("describe topic configs: timed out");
  Status failed;
  if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
      rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    // (A broker without DescribeConfigs: nothing to read.)
  } else if (rd_kafka_event_error(ev)) {
    failed = error(std::string("describe topic configs: ") + rd_kafka_event_error_string(ev));
  } else {
    std::size_t n = 0;
    const auto** res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (std::size_t i = 0; i < n; ++i) {
      if (auto err = rd_kafka_ConfigResource_error(res[i])) {  // gone, or not ours to read
        if (refused) {
          const char* why = rd_kafka_ConfigResource_error_string(res[i]);
          std::string reason = why && *why ? why : rd_kafka_err2str(err);
          while (!reason.empty() && (reason.back() == '.' || reason.back() == ' '))
            reason.pop_back();  // ("Topic authorization failed.")
          if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
            reason += "; reading them needs DescribeConfigs on the topic";
          (*refused)[rd_kafka_ConfigResource_name(res[i])] = std::move(reason);
        }
        continue;
      }
      auto& configs = out[rd_kafka_ConfigResource_name(res[i])];
      std::size_t m = 0;
      const auto** entries = rd_kafka_ConfigResource_configs(res[i], &m);
      for (std::size_t j = 0; j < m; ++j)
        if (const char* value = rd_kafka_ConfigEntry_value(entries[j]))
          configs[rd_kafka_ConfigEntry_name(entries[j])] = value;
    }
  }
  rd_kafka_event_destroy(ev);
  DIGONCE_TRY(failed);
  return out;
}

namespace {

// weaker_topic_configs on a client already connected (ensure_topics' own: its metadata and
// cluster id are known, so only the DescribeConfigs round trip is left).
Result<std::vector<std::string>> weaker_configs(rd_kafka_t* rk,
                                                const std::vector<TopicSpec>& topics,
                                                int timeout_ms,
                                                std::map<std::string, std::string>* refused) {
  std::vector<std::string> names;
  for (const auto& t : topics)
    if (!t.configs.empty()) names.push_back(t.name);
  std::vector<std::string> out;
  if (names.empty()) return out;
  auto described = describe_topic_configs(rk, names, timeout_ms, refused);
  if (!described) return described.error();
  for (const auto& t : topics) {
    auto have = described->find(t.name);
    if (have == described->end()) continue;
    for (const auto& [key, want] : t.configs)
      if (auto value = have->second.find(key); value != have->second.end())
        if (auto weak = weaker(key, value->second, want); !weak.empty())
          out.push_back(t.name + ": " + key + " is " + weak + ", digonce asks for " + want);
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> weaker_topic_configs(const std::string& brokers,
                                                      const std::vector<TopicSpec>& topics,
                                                      int timeout_ms) {
  auto rk = make_client(RD_KAFKA_PRODUCER, base_config(brokers, "digonce-admin"));
  if (!rk) return Error{"topics", rk.error().what()};
  return weaker_configs(rk->get(), topics, timeout_ms, nullptr);
}

Status ensure_topics(const std::string& brokers, const std::vector<TopicSpec>& topics,
                     int timeout_ms) {
  const auto made = std::chrono::steady_clock::now();
  auto rk = make_client(RD_KAFKA_PRODUCER, base_config(brokers, "digonce-admin"));
  if (!rk) return Error{"topics", rk.error().what()};
  auto have = existing_topics(rk->get(), timeout_ms, made);
  if (!have) return have.error();

  std::vector<rd_kafka_NewTopic_t*> create;
  char err[512];
  std::string few_replicas;  // existing topics with fewer replicas than configured
  for (const auto& t : topics) {
    auto it = have->find(t.name);
    if (it != have->end()) {
      if (it->second.partitions < t.partitions)
        return Error{"topics", "topic " + t.name + " has " + std::to_string(it->second.partitions) +
                                   " partitions, fewer than the " + std::to_string(t.partitions) +
                                   " configured"};
      // Replicas can be added to a topic in place, unlike partitions: say so, and go on.
      if (it->second.replicas < t.replication)
        few_replicas += (few_replicas.empty() ? "" : ", ") + t.name + " (" +
                        std::to_string(it->second.replicas) + ")";
      continue;
    }
    auto* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication, err, sizeof err);
    if (!nt) return Error{"topics", "topic " + t.name + ": " + err};
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    create.push_back(nt);
  }
  if (create.size() < topics.size()) {
    // Existing topics made by hand or by an older version: settings below what digonce asks
    // for are said (a changelog keeping its deletes less than 7 days, say, lets a stage's old
    // local store bring deleted works back: partition_state.h). Best effort.
    std::vector<TopicSpec> existing;
    for (const auto& t : topics)
      if (have->count(t.name)) existing.push_back(t);
    std::map<std::string, std::string> refused;
    auto gaps = weaker_configs(rk->get(), existing, std::min(timeout_ms, 10000), &refused);
    if (!gaps)
      spdlog::info("topic settings not checked: {}", gaps.error().what());
    else
      for (const auto& g : *gaps)
        spdlog::warn(
            "topic {} (made before; left as it is: kafka-configs.sh --alter --entity-type topics "
            "sets it)",
            g);
    for (const auto& [name, why] : refused)
      spdlog::info("topic {}: settings not checked (the broker would not say: {})", name, why);
  }
  if (!few_replicas.empty())
    spdlog::warn(
        "topics with fewer replicas per partition than topics.replication ({}): {}; they were "
        "made before (or on a smaller cluster) and are left as they are "
        "(kafka-reassign-partitions.sh adds replicas)",
        topics.front().replication, few_replicas);
  if (create.empty()) return {};

  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk->get()));
  rd_kafka_CreateTopics(rk->get(), create.data(), create.size(), nullptr, queue.get());
  rd_kafka_NewTopic_destroy_array(create.data(), create.size());
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), timeout_ms);
  if (!ev) return error("create topics: timed out");
  Status result;
  if (rd_kafka_event_error(ev)) {
    result = error(std::string("create topics: ") + rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const auto* res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n && result.ok(); ++i) {
      auto e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        result = error(std::string("create topic ") + rd_kafka_topic_result_name(res[i]) + ": " +
                       rd_kafka_err2name(e) + ": " +
                       (rd_kafka_topic_result_error_string(res[i])
                            ? rd_kafka_topic_result_error_string(res[i])
                            : rd_kafka_err2str(e)) +
                       kafka_error_hint(e));
        if (permanent(e)) result = Error{"topics", result.error().message};
      }
    }
  }
  rd_kafka_event_destroy(ev);
  DIGONCE_TRY(result);
  // Wait until every topic shows in metadata with its partitions, so that stages started next
  // see them.
  for (const auto& t : topics) DIGONCE_TRY(partition_count(brokers, t.name, timeout_ms));
  return {};
}

Result<int> partition_count(const std::string& brokers, const std::string& topic, int timeout_ms) {
  const auto started = std::chrono::steady_clock::now();
  auto rk = make_client(RD_KAFKA_PRODUCER, base_config(brokers, "digonce-admin"));
  if (!rk) return rk.error();
  auto deadline = started + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto have = existing_topics(rk->get(), 5000, started);
    if (have) {
      auto it = have->find(topic);
      if (it != have->end() && it->second.partitions > 0) return it->second.partitions;
    }
    if (std::chrono::steady_clock::now() > deadline || !refusal_since(rk->get(), started).empty())
      // Not found, or never asked: say which, so that a wrong address is not taken for a
      // missing topic.
      return have ? error("topic " + topic + " not found on " + brokers)
                  : error("cannot reach the Kafka brokers " + brokers + ": " + have.error().what() +
                          recent_connection_failure());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status delete_topics(const std::string& brokers, const std::vector<std::string>& topics,
                     int timeout_ms) {
  auto rk = make_client(RD_KAFKA_PRODUCER, base_config(brokers, "digonce-admin"));
  if (!rk) return rk.error();
  std::vector<rd_kafka_DeleteTopic_t*> del;
  del.reserve(topics.size());
  for (const auto& t : topics) del.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk->get()));
  rd_kafka_DeleteTopics(rk->get(), del.data(), del.size(), nullptr, queue.get());
  rd_kafka_DeleteTopic_destroy_array(del.data(), del.size());
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), timeout_ms);
  if (!ev) return error("delete topics: timed out");
  rd_kafka_event_destroy(ev);
  return {};
}

}  // namespace digonce::streams
