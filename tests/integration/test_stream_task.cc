// The stream task (streams/stream_task.h) against a real broker: a transactional copy task whose
// producer fails fatally mid-stream, as it does when the coordinator aborted its transaction while
// the broker was away (INVALID_TXN_STATE) or a newer epoch fenced it. The task must start over
// with new clients by itself, and the output must still hold every input exactly once, in order.
//
// Needs DIGONCE_KAFKA_BOOTSTRAP, e.g.
//   DIGONCE_KAFKA_BOOTSTRAP=$(tools/kafka start) ctest --test-dir build -L kafka
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kafka_fixtures.h"
#include "store/keys.h"
#include "store/rocks_store.h"
#include "streams/admin.h"
#include "streams/stream_task.h"

using namespace digonce::test;
namespace streams = digonce::streams;

namespace {

// The input value whose next processing fails once ("" = none), as a processing error would.
std::string fail_once_on;  // NOLINT(cert-err58-cpp): set by the test thread before the input
// Input values whose processing always fails (poison records), set before the input.
std::set<std::string> always_fail;  // NOLINT(cert-err58-cpp)

// Copies each input value to partition 0 of the output topic, prefixed.
streams::StatelessFactory::Fn copy_to(std::string out) {
  return [out = std::move(out)](const streams::InputRecord& in,
                                streams::Output& o) -> digonce::Status {
    std::string value = "out-" + std::string(in.value.value_or(""));
    if (!fail_once_on.empty() && in.value == fail_once_on) {
      fail_once_on.clear();
      return digonce::error("failing " + value + " once, as asked");
    }
    if (always_fail.count(std::string(in.value.value_or(""))))
      return digonce::error("failing " + value + " always, as asked");
    return o.send(out, 0, in.key, &value);
  };
}

void produce_values(const std::string& topic, int from, int to) {
  Client producer = make_client(RD_KAFKA_PRODUCER, {{"enable.idempotence", "true"}});
  for (int i = from; i < to; ++i) produce(producer.get(), topic, "v" + std::to_string(i));
  require_ok(rd_kafka_flush(producer.get(), kTimeoutMs), "flush");
}

// As produce_values, in one transaction, committed or aborted: either way a marker follows.
void produce_values_in_transaction(const std::string& topic, int from, int to, bool commit) {
  std::vector<std::string> values;
  for (int i = from; i < to; ++i) values.push_back("v" + std::to_string(i));
  produce_in_transaction(topic, values, commit);
}

std::vector<std::string> expected(int n) {
  std::vector<std::string> v;
  v.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back("out-v" + std::to_string(i));
  return v;
}

// Polls the committed output until it holds `n` records (or a minute has passed).
std::vector<std::string> wait_for_output(const std::string& topic, std::size_t n) {
  std::vector<std::string> got;
  for (auto deadline = Clock::now() + 60s; Clock::now() < deadline;) {
    got = read_all(topic, "read_committed");
    if (got.size() >= n) break;
    std::this_thread::sleep_for(200ms);
  }
  return got;
}

// The first series of a metric family, or the one whose label has the value `label` (-1: none).
double metric(prometheus::Registry& registry, const std::string& name,
              const std::string& label = "") {
  for (const auto& family : registry.Collect())
    if (family.name == name)
      for (const auto& m : family.metric)
        if (label.empty() || std::any_of(m.label.begin(), m.label.end(),
                                         [&](const auto& l) { return l.value == label; }))
          return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
  return -1;
}

double restarts(prometheus::Registry& registry) {
  return metric(registry, "digonce_task_restarts_total");
}

// A stateful task: an input value "put:K" stores the key K, "del:K" deletes it, and "probe" sends
// the keys its store holds, comma-separated, to partition 0 of the output topic.
class KeysFactory final : public streams::ProcessorFactory {
 public:
  explicit KeysFactory(std::string out) : out_(std::move(out)) {}
  std::vector<std::string> families() const override { return {"keys"}; }
  digonce::Result<std::unique_ptr<streams::PartitionProcessor>> create(
      std::int32_t, digonce::store::Store* store) override {
    return std::unique_ptr<streams::PartitionProcessor>(std::make_unique<Processor>(*store, out_));
  }

 private:
  struct Processor final : streams::PartitionProcessor {
    Processor(digonce::store::Store& s, std::string o) : store(s), out(std::move(o)) {}
    digonce::Status process(const streams::InputRecord& in, streams::Output& o) override {
      std::string v(in.value.value_or(""));
      if (v == "probe") {
        std::string keys;
        DIGONCE_TRY(store.scan(0, "", [&](std::string_view k, std::string_view) {
          keys += (keys.empty() ? "" : ",") + std::string(k);
          return true;
        }));
        return o.send(out, 0, in.key, &keys);
      }
      digonce::store::WriteBatch b;
      if (v.rfind("put:", 0) == 0) b.put(0, v.substr(4), "1");
      if (v.rfind("del:", 0) == 0) b.del(0, v.substr(4));
      return store.write(b);
    }
    digonce::store::Store& store;
    std::string out;
  };
  std::string out_;
};

}  // namespace

// A copy task from a scratch input topic to a scratch output topic, running on its own thread,
// already through its first 50 records.
struct CopyTask {
  CopyTask()
      : topics({unique_name("task-in"), unique_name("task-out"), unique_name("task-dead")}),
        in(topics[0]),
        out(topics[1]),
        dead(topics[2]),
        data(std::filesystem::temp_directory_path() / unique_name("task-data")),
        factory(copy_to(out)) {
    streams::TaskOptions o;
    o.name = "copy";
    o.brokers = bootstrap();
    o.input_topic = in;
    o.group_id = group = unique_name("task-group");
    o.transactional_id = unique_name("task-txn");
    o.output_topics = {out};
    o.dead_letter_topic = dead;
    o.data_dir = data.string();
    task = std::make_unique<streams::StreamTask>(o, factory, registry);
    runner = std::thread([this] { result = task->run(stop); });
    produce_values(in, 0, 50);
    CHECK(wait_for_output(out, 50) == expected(50));
  }
  ~CopyTask() {
    stop = true;
    if (runner.joinable()) runner.join();
    std::filesystem::remove_all(data);
  }
  ScratchTopics topics;
  std::string in, out, dead, group;
  std::filesystem::path data;
  streams::StatelessFactory factory;
  prometheus::Registry registry;
  std::unique_ptr<streams::StreamTask> task;
  std::atomic<bool> stop{false};
  digonce::Status result;
  std::thread runner;
};

TEST_CASE("a transactional task starts over after a fatal producer error, losing nothing") {
  CopyTask t;
  // What librdkafka reports when the coordinator aborted the open transaction while the broker
  // was away. Records in flight are lost with that transaction; the new clients process them
  // again from the committed offset.
  produce_values(t.in, 50, 60);
  t.task->inject_fatal_error(RD_KAFKA_RESP_ERR_INVALID_TXN_STATE);
  produce_values(t.in, 60, 100);
  CHECK(wait_for_output(t.out, 100) == expected(100));
  CHECK(restarts(t.registry) == 1);

  t.stop = true;
  t.runner.join();
  CHECK_MESSAGE(t.result.ok(), (t.result.ok() ? "" : t.result.error().what()));
}

TEST_CASE("a record that fails just before a marker is processed again, not stepped over") {
  CopyTask t;
  // The last record of a transaction fails once: the task aborts and rewinds to its committed
  // offset, and the position it had reached (past the marker) must not be committed idle.
  fail_once_on = "v99";
  produce_values_in_transaction(t.in, 50, 100, true);
  CHECK(wait_for_output(t.out, 100) == expected(100));
  Client reader = make_client(RD_KAFKA_CONSUMER, {{"group.id", t.group}});
  std::int64_t committed = -1;
  for (auto deadline = Clock::now() + 20s; Clock::now() < deadline && committed != 101;) {
    std::this_thread::sleep_for(200ms);
    committed = committed_offset(reader.get(), t.in);
  }
  CHECK(committed == 101);
  CHECK(fail_once_on.empty());
  // Aborted and rewound by the same clients (librdkafka#4849 made the abort fatal without the
  // flush before it).
  CHECK(restarts(t.registry) == 0);
  std::this_thread::sleep_for(1500ms);
  CHECK(read_all(t.out, "read_committed") == expected(100));
}

TEST_CASE("poison records close together are each set aside once, after three failures each") {
  struct Cured {  // destroyed after the task has stopped, however the test ends
    ~Cured() { always_fail.clear(); }
  } cured;
  CopyTask t;
  // Two records that always fail, in one transaction's window. The first is set aside after its
  // third failure; the second's failures abort that transaction, dead-letter record and all, and
  // the replay must set the first aside again at once, not fail it three times more (k poison
  // records in a window cost ~4^k aborts before).
  always_fail = {"v60", "v62"};
  produce_values_in_transaction(t.in, 50, 100, true);
  auto want = expected(100);
  std::erase(want, "out-v60");
  std::erase(want, "out-v62");
  CHECK(wait_for_output(t.out, want.size()) == want);
  CHECK(wait_for_output(t.dead, 2) == std::vector<std::string>{"v60", "v62"});
  CHECK(metric(t.registry, "digonce_records_dead_lettered_total") == 2);
  CHECK(metric(t.registry, "digonce_transactions_total", "aborted") == 6);
  CHECK(restarts(t.registry) == 0);
}

TEST_CASE("a task paused past the transaction timeout starts over: fenced, but not taken over") {
  CopyTask t;
  // Stopped with its transaction open for longer than transaction.timeout.ms (15 s) plus the
  // broker's check for timed-out transactions (every 10 s by default): the broker aborts the
  // transaction and bumps the producer's epoch, which librdkafka reports as fenced once the
  // task goes on.
  t.task->inject_pause(27'000);
  produce_values(t.in, 50, 60);
  CHECK(wait_for_output(t.out, 60) == expected(60));
  CHECK(restarts(t.registry) == 1);
  produce_values(t.in, 60, 70);
  CHECK(wait_for_output(t.out, 70) == expected(70));

  t.stop = true;
  t.runner.join();
  CHECK_MESSAGE(t.result.ok(), (t.result.ok() ? "" : t.result.error().what()));
}

TEST_CASE("a fenced task stops, leaving what it committed and nothing else") {
  CopyTask t;
  t.task->inject_fatal_error(RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
  produce_values(t.in, 50, 60);
  t.runner.join();  // it stops by itself
  REQUIRE_FALSE(t.result.ok());
  CHECK(t.result.error().what().find("fenced") != std::string::npos);
  CHECK(restarts(t.registry) == 0);
  CHECK(read_all(t.out, "read_committed") == expected(50));
}

TEST_CASE("an idle task steps over its transactional input's markers and aborted records") {
  CopyTask t;
  // Records at offsets 50-99, the commit marker at 100; then an aborted transaction (as a
  // crashed upstream stage leaves): 10 records at 101-110, not to be read, its marker at 111.
  // The input ends at 112, and nothing after it would make the task commit again.
  produce_values_in_transaction(t.in, 50, 100, true);
  CHECK(wait_for_output(t.out, 100) == expected(100));
  produce_values_in_transaction(t.in, 1000, 1010, false);
  wait_for_end_offset(t.in, 112);
  Client reader = make_client(RD_KAFKA_CONSUMER, {{"group.id", t.group}});
  std::int64_t committed = -1;
  double gauge = -1;
  // The task commits the records, then, idle for a second, the position past the marker.
  for (auto deadline = Clock::now() + 20s; Clock::now() < deadline;) {
    committed = committed_offset(reader.get(), t.in);
    gauge = metric(t.registry, "digonce_consumer_lag");
    if (committed == 112 && gauge == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  CHECK(committed == 112);
  CHECK(gauge == 0);
  CHECK(read_all(t.out, "read_committed") == expected(100));
  // Idle, it commits nothing more.
  auto transactions = [&] { return metric(t.registry, "digonce_transactions_total", "committed"); };
  const double before = transactions();
  std::this_thread::sleep_for(2500ms);
  CHECK(transactions() == before);
  CHECK(committed_offset(reader.get(), t.in) == 112);
}

TEST_CASE("a task given a caught-up partition shows its lag, 0, without reading a record") {
  CopyTask t;
  Client reader = make_client(RD_KAFKA_CONSUMER, {{"group.id", t.group}});
  for (auto deadline = Clock::now() + 20s;
       Clock::now() < deadline && committed_offset(reader.get(), t.in) != 50;)
    std::this_thread::sleep_for(200ms);
  REQUIRE(committed_offset(reader.get(), t.in) == 50);
  t.stop = true;
  t.runner.join();
  REQUIRE(t.result.ok());
  // The next owner of the group's partition, with nothing left to read: its consumer has no
  // position (it read nothing), and the gauge comes from the group's committed offset.
  streams::TaskOptions o;
  o.name = "copy";
  o.brokers = bootstrap();
  o.input_topic = t.in;
  o.group_id = t.group;
  o.transactional_id = unique_name("task-txn");
  o.output_topics = {t.out};
  o.data_dir = t.data.string();
  prometheus::Registry registry;
  streams::StreamTask next(o, t.factory, registry);
  std::atomic<bool> stop{false};
  digonce::Status result;
  std::thread runner([&] { result = next.run(stop); });
  double gauge = -1;
  for (auto deadline = Clock::now() + 20s; Clock::now() < deadline && gauge < 0;) {
    std::this_thread::sleep_for(200ms);
    gauge = metric(registry, "digonce_consumer_lag");
  }
  stop = true;
  runner.join();
  CHECK(gauge == 0);
  CHECK(result.ok());
}

// The topics, data folder, factory and options of a KeysFactory task (not started).
struct KeysTask {
  KeysTask()
      : topics({unique_name("keys-in"), unique_name("keys-out"), unique_name("keys-log")}),
        data(std::filesystem::temp_directory_path() / unique_name("keys-data")),
        factory(topics[1]) {
    options.name = "keys";
    options.brokers = bootstrap();
    options.input_topic = topics[0];
    options.group_id = unique_name("keys-group");
    options.transactional_id = unique_name("keys-txn");
    options.output_topics = {topics[1]};
    options.changelog_topic = topics[2];
    options.data_dir = data.string();
  }
  ~KeysTask() { std::filesystem::remove_all(data); }
  KeysTask(const KeysTask&) = delete;
  KeysTask& operator=(const KeysTask&) = delete;
  ScratchTopics topics;
  std::filesystem::path data;
  KeysFactory factory;
  streams::TaskOptions options;
};

TEST_CASE("a local store older than the changelog keeps its deletes is rebuilt, not replayed") {
  KeysTask t;
  auto& topics = t.topics;
  auto& data = t.data;
  auto& factory = t.factory;
  auto& o = t.options;
  Client producer = make_client(RD_KAFKA_PRODUCER, {{"enable.idempotence", "true"}});
  // Runs the task until its answer to one more probe is out: that answer.
  std::size_t probes = 0;
  auto probe = [&]() -> std::string {
    prometheus::Registry registry;
    streams::StreamTask task(o, factory, registry);
    std::atomic<bool> stop{false};
    digonce::Status result;
    std::thread runner([&] { result = task.run(stop); });
    produce(producer.get(), topics[0], "probe");
    require_ok(rd_kafka_flush(producer.get(), kTimeoutMs), "flush");
    auto got = wait_for_output(topics[1], ++probes);
    stop = true;
    runner.join();
    CHECK_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what()));
    REQUIRE(got.size() == probes);
    return got.back();
  };
  // With the task stopped, its partition's store gets a key the changelog does not have (as a
  // local store that missed a delete, compacted away since, would hold), and optionally a
  // checkpoint time this long ago.
  auto plant = [&](std::optional<std::chrono::hours> age) {
    digonce::store::RocksOptions ro;
    ro.wal = false;
    auto s =
        digonce::store::RocksStore::open((data / "keys" / "0").string(), {"keys", "streams"}, ro);
    REQUIRE(s.ok());
    digonce::store::WriteBatch b;
    b.put(0, "zombie", "1");
    if (age) {
      std::string v;
      digonce::store::put_i64_be(v, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch() - *age)
                                        .count());
      b.put(1, "changelog.as_of_ms", v);
    }
    REQUIRE((*s)->write(b).ok());
  };
  produce(producer.get(), topics[0], "put:a");
  produce(producer.get(), topics[0], "put:b");
  produce(producer.get(), topics[0], "put:c");
  produce(producer.get(), topics[0], "del:c");
  CHECK(probe() == "a,b");
  plant(std::nullopt);
  CHECK(probe() == "a,b,zombie");  // a checkpoint of today: the local store is trusted
  // This scratch changelog keeps its deletes the broker's default day, not digonce's 7: a store
  // 2 days old (trusted with a 7-day changelog) may have missed a delete compacted away since.
  plant(std::chrono::hours(24 * 2));
  CHECK(probe() == "a,b");
  plant(std::chrono::hours(12));
  CHECK(probe() == "a,b,zombie");  // within the day's 18 h: trusted
  plant(std::chrono::hours(24 * 8));
  CHECK(probe() == "a,b");  // 8 days old: rebuilt from the changelog
  CHECK(probe() == "a,b");
}

TEST_CASE("a restore waits for a transaction open on the changelog, the previous owner's") {
  KeysTask t;
  auto& topics = t.topics;
  // The previous owner's last transaction: a changelog record (family 0, key "late"), its
  // commit still on the way when the new owner restores.
  Client previous = make_client(RD_KAFKA_PRODUCER, {{"transactional.id", unique_name("prev")}});
  require_ok(rd_kafka_init_transactions(previous.get(), kTimeoutMs), "init_transactions");
  require_ok(rd_kafka_begin_transaction(previous.get()), "begin_transaction");
  const std::string key("\0late", 5), value = "1";
  require_ok(rd_kafka_producev(previous.get(), RD_KAFKA_V_TOPIC(topics[2].c_str()),
                               RD_KAFKA_V_PARTITION(0),
                               RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                               RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
             "produce");
  require_ok(rd_kafka_flush(previous.get(), kTimeoutMs), "flush");

  prometheus::Registry registry;
  streams::StreamTask task(t.options, t.factory, registry);
  std::atomic<bool> stop{false};
  digonce::Status result;
  std::thread runner([&] { result = task.run(stop); });
  // Assigned, restoring, waiting for the transaction's end.
  for (auto deadline = Clock::now() + 30s;
       Clock::now() < deadline && metric(registry, "digonce_restoring") != 1;)
    std::this_thread::sleep_for(50ms);
  REQUIRE(metric(registry, "digonce_restoring") == 1);
  std::this_thread::sleep_for(1500ms);
  CHECK(metric(registry, "digonce_restoring") == 1);  // still
  // The probes (streams/health.h): not ready while it restores, but alive (the wait beats).
  auto health = task.health();
  CHECK(health.restoring == 1);
  CHECK(health.joined);
  CHECK(health.quiet_ms < 1500);
  CHECK(streams::readiness({health}, 10'000).status == 503);
  CHECK(streams::readiness({health}, 10'000).body.find("keys is restoring 1 partition") !=
        std::string::npos);
  CHECK(streams::liveness({health}, 10'000).status == 200);
  require_ok(rd_kafka_commit_transaction(previous.get(), kTimeoutMs), "commit_transaction");
  Client producer = make_client(RD_KAFKA_PRODUCER, {{"enable.idempotence", "true"}});
  produce(producer.get(), topics[0], "probe");
  require_ok(rd_kafka_flush(producer.get(), kTimeoutMs), "flush");
  auto got = wait_for_output(topics[1], 1);
  health = task.health();
  CHECK(health.restoring == 0);
  CHECK(health.assigned == 1);
  CHECK(streams::readiness({health}, 10'000).status == 200);
  stop = true;
  runner.join();
  CHECK_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what()));
  CHECK(got == std::vector<std::string>{"late"});
}

TEST_CASE("the probes: a working task is ready; a stopped loop is quiet, stuck past the limit") {
  CopyTask t;
  auto health = t.task->health();
  CHECK(health.clients_up);
  CHECK(health.joined);
  CHECK(health.quiet_ms < 1000);
  CHECK(streams::readiness({health}, 2000).status == 200);
  // Its thread stops for 4 s after the next record (as in a deadlock, or a call that does not
  // return): the heartbeat goes quiet, and past a 2 s limit the liveness probe says stuck.
  t.task->inject_pause(4000);
  produce_values(t.in, 50, 51);
  for (auto deadline = Clock::now() + 20s;
       Clock::now() < deadline && t.task->health().quiet_ms <= 2500;)
    std::this_thread::sleep_for(50ms);
  health = t.task->health();
  CHECK(health.quiet_ms > 2500);
  auto stuck = streams::liveness({health}, 2000);
  CHECK(stuck.status == 503);
  CHECK(stuck.body.find("copy has given no sign of life") != std::string::npos);
  CHECK(streams::readiness({health}, 2000).status == 503);
  // It goes on after the pause: alive again.
  CHECK(wait_for_output(t.out, 51) == expected(51));
  CHECK(t.task->health().quiet_ms < 1000);
  CHECK(streams::liveness({t.task->health()}, 2000).status == 200);
}

TEST_CASE("existing topics with settings below digonce's are reported") {
  const std::string name = unique_name("weak-log");
  // Made before, by hand or another tool: deletes kept a day (Kafka's default), not compacted.
  streams::TopicSpec made{name, 1, 1, {{"delete.retention.ms", "86400000"}}};
  REQUIRE(streams::ensure_topics(bootstrap(), {made}).ok());
  streams::TopicSpec asked{name,
                           1,
                           1,
                           {{"cleanup.policy", "compact"},
                            {"delete.retention.ms", "604800000"},
                            {"max.message.bytes", "1000"}}};  // below the broker's default
  auto gaps = streams::weaker_topic_configs(bootstrap(), {asked});
  REQUIRE(gaps.ok());
  std::sort(gaps->begin(), gaps->end());
  CHECK(*gaps == std::vector<std::string>{
                     name + ": cleanup.policy is delete, digonce asks for compact",
                     name + ": delete.retention.ms is 86400000, digonce asks for 604800000"});
  auto none = streams::weaker_topic_configs(bootstrap(), {made});
  REQUIRE(none.ok());
  CHECK(none->empty());

  // A topic the broker will not describe (here: none such) is left out, with its reason.
  auto client =
      streams::make_client(RD_KAFKA_PRODUCER, streams::base_config(bootstrap(), "describe"));
  REQUIRE(client.ok());
  std::map<std::string, std::string> refused;
  auto described =
      streams::describe_topic_configs(client->get(), {name, name + "-none"}, kTimeoutMs, &refused);
  REQUIRE(described.ok());
  CHECK(described->count(name) == 1);
  CHECK(described->at(name).at("delete.retention.ms") == "86400000");
  CHECK(described->count(name + "-none") == 0);
  REQUIRE(refused.size() == 1);
  CHECK(refused.begin()->first == name + "-none");
  MESSAGE("refused: " << refused.begin()->second);
  CHECK_FALSE(refused.begin()->second.empty());
  CHECK(streams::delete_topics(bootstrap(), {name}).ok());
}

int main(int argc, char** argv) {
  return run_kafka_tests("test_stream_task", argc, argv);
}
