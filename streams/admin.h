// Topic administration: create the topics a deployment needs, as configured, and read back how
// many partitions a topic has (the stages size their work by it).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "base/result.h"

namespace digonce::streams {

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication = 1;
  std::map<std::string, std::string> configs;  // e.g. cleanup.policy=compact
};

/// Creates every topic that does not exist yet (existing ones are left as they are, but a
/// partition count lower than asked is reported as an error: stages would mis-route). An error
/// whose field is "topics" is one that waiting cannot mend (too few partitions, a refused
/// configuration or policy, no authorisation, a bad client configuration); any other (brokers
/// unreachable, leaders or a controller not ready, too few brokers yet) may pass.
Status ensure_topics(const std::string& brokers, const std::vector<TopicSpec>& topics,
                     int timeout_ms = 30000);

/// Each topic's settings as the broker has them (its own, or the broker's defaults), by name:
/// topics that do not exist, or may not be read, are left out; when `refused` is given, each of
/// those gets the broker's reason there (no DescribeConfigs right on it, which the reason then
/// names; unknown topic). On the
/// embedded broker (librdkafka's mock cluster, which never answers DescribeConfigs): none, at
/// once.
using TopicConfigs = std::map<std::string, std::map<std::string, std::string>>;
Result<TopicConfigs> describe_topic_configs(rd_kafka_t* client,
                                            const std::vector<std::string>& topics, int timeout_ms,
                                            std::map<std::string, std::string>* refused = nullptr);

/// Of these topics, those that exist with a setting below what their spec asks for (a number
/// lower, such as delete.retention.ms, retention.ms or max.message.bytes; or another
/// cleanup.policy), one line for each: "topic: key is X, digonce asks for Y". ensure_topics
/// warns of them (at most 10 s, best effort; an operator's topics are left as they are). On the
/// embedded broker (librdkafka's mock cluster, which never answers DescribeConfigs): none, at
/// once.
Result<std::vector<std::string>> weaker_topic_configs(const std::string& brokers,
                                                      const std::vector<TopicSpec>& topics,
                                                      int timeout_ms = 30000);

/// Partition count of a topic, waiting up to timeout_ms for it to appear in metadata.
Result<int> partition_count(const std::string& brokers, const std::string& topic,
                            int timeout_ms = 30000);

/// Deletes topics (tests).
Status delete_topics(const std::string& brokers, const std::vector<std::string>& topics,
                     int timeout_ms = 30000);

}  // namespace digonce::streams
