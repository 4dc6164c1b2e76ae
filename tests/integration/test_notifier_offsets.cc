// The notifier's consumer group on a real broker: its input, the alerts topic, is transactional,
// so the topic's partitions end with commit markers (and aborted records, when a stage died
// mid-transaction) that no consumer is given. An idle notifier must still commit to the end, or
// Kafka's lag tools show its group behind for ever.
//
// Needs DIGONCE_KAFKA_BOOTSTRAP, e.g.
//   DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start) ctest --test-dir build -L kafka
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <string>
#include <thread>

#include "kafka_fixtures.h"
#include "services/notifier.h"
#include "services/settings.h"

using namespace digonce::test;

namespace {

// `n` alert events on partition 0 of `topic` in one transaction, committed or aborted.
void produce_alerts(const std::string& topic, int from, int n, bool commit) {
  Client producer = make_client(RD_KAFKA_PRODUCER, {{"transactional.id", unique_name("ledger")}});
  require_ok(rd_kafka_init_transactions(producer.get(), kTimeoutMs), "init_transactions");
  require_ok(rd_kafka_begin_transaction(producer.get()), "begin_transaction");
  for (int i = from; i < from + n; ++i) {
    std::string v = R"({"alert_id":"clash-)" + std::to_string(i) +
                    R"(","kind":"clash","state":"open","revision":1,"works":[],)"
                    R"("highway_authorities":["5990"],"reason":"test"})";
    require_ok(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                 RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE(v.data(), v.size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
               "produce");
  }
  require_ok(rd_kafka_flush(producer.get(), kTimeoutMs), "flush");
  if (commit)
    require_ok(rd_kafka_commit_transaction(producer.get(), kTimeoutMs), "commit_transaction");
  else
    require_ok(rd_kafka_abort_transaction(producer.get(), kTimeoutMs), "abort_transaction");
}

}  // namespace

TEST_CASE("an idle notifier commits past the alerts topic's markers and aborted records") {
  digonce::services::Settings settings;
  settings.topic_prefix = unique_name("notifier") + ".";
  settings.brokers = bootstrap();
  const std::string alerts = settings.topic("alerts");
  ScratchTopics topics({alerts});
  // A webhook for an authority no alert names: every alert is read and passed over, and no
  // HTTP request is made.
  digonce::services::WebhookSettings hook;
  hook.name = "nobody";
  hook.url = "http://127.0.0.1:9/hooks";
  hook.secret = "s";
  hook.authorities = {"NOBODY"};
  settings.notifier.webhooks = {hook};

  // Alerts at 0-4 and their commit marker at 5; an aborted transaction's 3 alerts at 6-8 and its
  // marker at 9: the topic ends at 10.
  produce_alerts(alerts, 0, 5, true);
  produce_alerts(alerts, 100, 3, false);
  wait_for_end_offset(alerts, 10);

  prometheus::Registry registry;
  digonce::services::Notifier notifier(settings, registry);
  REQUIRE(notifier.start().ok());
  Client reader = make_client(RD_KAFKA_CONSUMER, {{"group.id", settings.topic("notifier.nobody")}});
  std::int64_t committed = -1;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && committed != 10;) {
    std::this_thread::sleep_for(250ms);
    Partitions query(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(query.get(), alerts.c_str(), 0);
    if (rd_kafka_committed(reader.get(), query.get(), kTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR)
      committed = query->elems[0].offset;
  }
  notifier.stop();
  CHECK(notifier.status().ok());
  CHECK(committed == 10);
}

int main(int argc, char** argv) {
  if (bootstrap().empty()) {
    std::fprintf(stderr,
                 "test_notifier_offsets: DIGONCE_KAFKA_BOOTSTRAP is not set.\n"
                 "Start a broker and pass its address, e.g.\n"
                 "  export DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start)\n");
    return 1;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
