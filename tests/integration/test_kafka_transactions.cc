// Proves that the librdkafka we build against does Kafka transactions against a real broker
// (tools/kafka start): aborted batches stay hidden from read_committed consumers but are stored,
// and consumer offsets sent with send_offsets_to_transaction (KIP-447) commit and abort with the
// transaction. The exactly-once pipeline (digonce.alerts) relies on both.
//
// Needs DIGONCE_KAFKA_BOOTSTRAP, e.g.
//   DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start) ctest --test-dir build -L kafka
// Each test case creates its own uniquely named topics and deletes them at the end.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "kafka_fixtures.h"

using namespace digonce::test;

namespace {

constexpr int kBatchSize = 10;

// --- producing -----------------------------------------------------------------------------------

struct Deliveries {
  int ok = 0;
  std::vector<std::string> errors;

  std::string first_error() const { return errors.empty() ? "" : errors.front(); }
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Deliveries*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++d->ok;
  } else {
    d->errors.emplace_back(rd_kafka_err2str(m->err));
  }
}

Client make_transactional_producer(Deliveries& deliveries) {
  Client producer =
      make_client(RD_KAFKA_PRODUCER, {{"transactional.id", unique_name("txn")}, {"linger.ms", "5"}},
                  on_delivery, &deliveries);
  require_ok(rd_kafka_init_transactions(producer.get(), kTimeoutMs), "init_transactions");
  return producer;
}

std::vector<std::string> batch(const std::string& prefix) {
  std::vector<std::string> values;
  values.reserve(kBatchSize);
  for (int i = 0; i < kBatchSize; ++i) values.push_back(prefix + "-" + std::to_string(i));
  return values;
}

std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

}  // namespace

TEST_CASE("an aborted transaction is stored but hidden from read_committed consumers") {
  ScratchTopics topics({unique_name("abort")});
  const std::string& topic = topics[0];

  Deliveries deliveries;
  Client producer = make_transactional_producer(deliveries);
  rd_kafka_t* p = producer.get();

  require_ok(rd_kafka_begin_transaction(p), "begin A");
  for (const auto& v : batch("A")) produce(p, topic, v);
  require_ok(rd_kafka_commit_transaction(p, kTimeoutMs), "commit A");

  require_ok(rd_kafka_begin_transaction(p), "begin B");
  for (const auto& v : batch("B")) produce(p, topic, v);
  // Flushed before the abort, so B is on the broker's log and only the abort marker hides it.
  require_ok(rd_kafka_flush(p, kTimeoutMs), "flush B");
  require_ok(rd_kafka_abort_transaction(p, kTimeoutMs), "abort B");

  require_ok(rd_kafka_begin_transaction(p), "begin C");
  for (const auto& v : batch("C")) produce(p, topic, v);
  require_ok(rd_kafka_commit_transaction(p, kTimeoutMs), "commit C");

  rd_kafka_poll(p, 0);
  CHECK_MESSAGE(deliveries.errors.empty(), "first delivery error: " << deliveries.first_error());
  CHECK(deliveries.ok == 3 * kBatchSize);

  // 30 records and three transaction markers (commit, abort, commit), one offset each.
  wait_for_end_offset(topic, 3 * kBatchSize + 3);

  CHECK(read_all(topic, "read_committed") == concat({batch("A"), batch("C")}));
  CHECK(read_all(topic, "read_uncommitted") == concat({batch("A"), batch("B"), batch("C")}));
}

TEST_CASE("send_offsets_to_transaction commits the consumer's offsets with the transaction") {
  ScratchTopics topics({unique_name("in"), unique_name("out")});
  const std::string& in = topics[0];
  const std::string& out = topics[1];

  Deliveries deliveries;
  Client producer = make_transactional_producer(deliveries);
  rd_kafka_t* p = producer.get();
  require_ok(rd_kafka_begin_transaction(p), "begin input");
  for (const auto& v : batch("in")) produce(p, in, v);
  require_ok(rd_kafka_commit_transaction(p, kTimeoutMs), "commit input");
  wait_for_end_offset(in, kBatchSize + 1);

  // A group member, as in the pipeline: cooperative-sticky, offsets only through transactions.
  const std::string group = unique_name("group");
  Client consumer =
      make_client(RD_KAFKA_CONSUMER, {{"group.id", group},
                                      {"isolation.level", "read_committed"},
                                      {"auto.offset.reset", "earliest"},
                                      {"enable.auto.commit", "false"},
                                      {"partition.assignment.strategy", "cooperative-sticky"}});
  rd_kafka_t* c = consumer.get();
  Partitions subscription(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(subscription.get(), in.c_str(), RD_KAFKA_PARTITION_UA);
  require_ok(rd_kafka_subscribe(c, subscription.get()), "subscribe");

  std::vector<std::string> consumed;
  int64_t last_offset = -1;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (consumed.size() < static_cast<size_t>(kBatchSize)) {
    REQUIRE_MESSAGE(Clock::now() < deadline, "group consumer got " << consumed.size());
    Message m(rd_kafka_consumer_poll(c, 200));
    if (!m) continue;
    REQUIRE_MESSAGE(m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "group consume: " << str(rd_kafka_message_errstr(m.get())));
    consumed.push_back(value_of(m.get()));
    last_offset = m->offset;
  }
  REQUIRE(consumed == batch("in"));

  // The group metadata carries the member id and generation: the broker fences a zombie whose
  // generation is stale (KIP-447).
  GroupMetadata metadata(rd_kafka_consumer_group_metadata(c));
  REQUIRE(metadata != nullptr);
  Partitions positions(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(positions.get(), in.c_str(), 0);
  require_ok(rd_kafka_position(c, positions.get()), "position");
  REQUIRE(positions->elems[0].offset == last_offset + 1);

  // First an aborted transform: neither its output nor its offsets may become visible. (A real
  // processor would now rewind to the committed offsets and consume again; this test keeps the
  // consumed values in memory instead.)
  require_ok(rd_kafka_begin_transaction(p), "begin aborted transform");
  for (const auto& v : consumed) produce(p, out, "out-" + v);
  require_ok(rd_kafka_send_offsets_to_transaction(p, positions.get(), metadata.get(), kTimeoutMs),
             "send_offsets_to_transaction (aborted)");
  // Flushed, so the aborted output is on the log (checked with read_uncommitted below); without
  // the flush, abort_transaction would purge what is still queued.
  require_ok(rd_kafka_flush(p, kTimeoutMs), "flush aborted transform");
  require_ok(rd_kafka_abort_transaction(p, kTimeoutMs), "abort transform");
  wait_for_end_offset(out, kBatchSize + 1);
  CHECK(committed_offset(c, in) == RD_KAFKA_OFFSET_INVALID);
  CHECK(read_all(out, "read_committed").empty());

  // Then the same transform committed: output and offsets appear together.
  require_ok(rd_kafka_begin_transaction(p), "begin transform");
  for (const auto& v : consumed) produce(p, out, "out-" + v);
  require_ok(rd_kafka_send_offsets_to_transaction(p, positions.get(), metadata.get(), kTimeoutMs),
             "send_offsets_to_transaction");
  require_ok(rd_kafka_commit_transaction(p, kTimeoutMs), "commit transform");
  wait_for_end_offset(out, 2 * (kBatchSize + 1));
  CHECK(committed_offset(c, in) == last_offset + 1);
  CHECK(read_all(out, "read_committed") == batch("out-in"));
  CHECK(read_all(out, "read_uncommitted") == concat({batch("out-in"), batch("out-in")}));

  rd_kafka_consumer_close(c);
  rd_kafka_poll(p, 0);
  CHECK_MESSAGE(deliveries.errors.empty(), "first delivery error: " << deliveries.first_error());
}

int main(int argc, char** argv) {
  return run_kafka_tests("test_kafka_transactions", argc, argv);
}
