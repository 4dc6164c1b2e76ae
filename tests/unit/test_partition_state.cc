// streams/partition_state.h: when a stage's local store is replayed from its checkpoint and when
// it is rebuilt from the changelog, on the embedded broker (librdkafka's mock cluster).

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "store/keys.h"
#include "store/rocks_store.h"
#include "streams/embedded_broker.h"
#include "streams/kafka.h"
#include "streams/partition_state.h"

using namespace digonce;
using std::chrono::hours;

namespace {

constexpr std::int64_t kHourMs = 3'600'000;

std::int64_t ms_ago(hours age) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch() - age)
      .count();
}

}  // namespace

TEST_CASE("a local store is replayed within its window, the shorter of now's and its own") {
  auto broker = streams::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const std::string& brokers = (*broker)->bootstraps();
  const std::string changelog = "ps.changelog";
  REQUIRE((*broker)->create_topic(changelog, 1).ok());

  // The changelog: keys a and b of family 0 (the record key is the family's byte, then the key).
  auto producer = streams::make_client(RD_KAFKA_PRODUCER, streams::base_config(brokers, "ps-p"));
  REQUIRE(producer.ok());
  const std::string one = "1";
  for (const char* k : {"a", "b"})
    REQUIRE(streams::produce(producer->get(), changelog, 0, std::string(1, '\0') + k, &one).ok());
  REQUIRE(rd_kafka_flush(producer->get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  char* id = rd_kafka_clusterid(producer->get(), 10000);
  REQUIRE(id != nullptr);
  const std::string cluster(id);
  rd_kafka_mem_free(producer->get(), id);

  auto restorer = streams::make_client(RD_KAFKA_CONSUMER,
                                       streams::restore_consumer_config(brokers, "ps-restore"));
  REQUIRE(restorer.ok());
  const auto dir = std::filesystem::temp_directory_path() / "digonce-test-partition-state";
  std::filesystem::remove_all(dir);

  // Restores with the changelog's window now; the records applied, and whether the store still
  // holds "zombie", a key the changelog does not have (as a store that missed a delete since
  // compacted away would).
  struct Restored {
    std::uint64_t applied = 0;
    bool zombie = false;
  };
  auto restore = [&](std::optional<std::int64_t> trusted_ms) {
    auto state = streams::PartitionState::open(dir.string(), {"keys"});
    REQUIRE(state.ok());
    auto applied = (*state)->restore(
        restorer->get(), changelog, 0, cluster, trusted_ms, [](std::uint64_t) {},
        [] { return true; });
    REQUIRE(applied.ok());
    auto zombie = (*state)->store().get(0, "zombie");
    REQUIRE(zombie.ok());
    return Restored{*applied, zombie->has_value()};
  };
  // With the stage stopped: the zombie key, the checkpoint's time set `age` ago, and the window
  // recorded with it set to `window` when given.
  auto plant = [&](hours age, std::optional<std::int64_t> window) {
    store::RocksOptions ro;
    ro.wal = false;
    auto s = store::RocksStore::open(dir.string(), {"keys", "streams"}, ro);
    REQUIRE(s.ok());
    store::WriteBatch b;
    b.put(0, "zombie", "1");
    std::string v;
    store::put_i64_be(v, ms_ago(age));
    b.put(1, "changelog.as_of_ms", v);
    if (window) {
      v.clear();
      store::put_i64_be(v, *window);
      b.put(1, "changelog.trusted_ms", v);
    }
    REQUIRE((*s)->write(b).ok());
  };

  const std::int64_t six_days = streams::kCheckpointTrustedMs;
  const std::int64_t day_window = streams::checkpoint_trusted_ms(24 * kHourMs);  // 18 h
  CHECK(restore(six_days).applied == 2);  // a new store: the whole changelog

  plant(hours(1), std::nullopt);
  auto r = restore(six_days);
  CHECK(r.zombie);  // an hour old: replayed from its checkpoint (nothing after it to apply)
  CHECK(r.applied == 0);

  // Written while the changelog kept its deletes a day (an 18 h window), 20 h ago; the setting
  // is 7 days now. Deletes logged under the day may be gone already: rebuilt.
  plant(hours(20), day_window);
  r = restore(six_days);
  CHECK_FALSE(r.zombie);
  CHECK(r.applied == 2);

  // That restore recorded the window now (6 days): 20 h old is trusted again.
  plant(hours(20), std::nullopt);
  CHECK(restore(six_days).zombie);

  // The setting unread (no DescribeConfigs right, say): the window the store recorded holds,
  // and stays recorded.
  plant(hours(1), day_window);
  CHECK(restore(std::nullopt).zombie);
  plant(hours(20), std::nullopt);
  CHECK_FALSE(restore(std::nullopt).zombie);  // 20 h: past the 18 h recorded

  // The setting lowered to a day since: 20 h is past its 18 h, whatever the store recorded.
  plant(hours(20), six_days);
  CHECK_FALSE(restore(day_window).zombie);
  // And a store within the window now and then is replayed.
  plant(hours(12), six_days);
  CHECK(restore(day_window).zombie);

  std::filesystem::remove_all(dir);

  // A restore cut short (here by a record it refuses, after its first 20,000 were written with
  // a checkpoint) leaves that checkpoint with the shorter window it started under: the deletes
  // after its last record may have been logged under it.
  const std::string longer = "ps.longer";
  REQUIRE((*broker)->create_topic(longer, 1).ok());
  for (int i = 0; i < 20000; ++i)
    REQUIRE(
        streams::produce(producer->get(), longer, 0, std::string(1, '\0') + std::to_string(i), &one)
            .ok());
  REQUIRE(streams::produce(producer->get(), longer, 0, "\x07unknown family", &one).ok());
  REQUIRE(rd_kafka_flush(producer->get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  plant(hours(1), day_window);  // (no checkpoint offset: rebuilt, under the 18 h recorded)
  {
    auto state = streams::PartitionState::open(dir.string(), {"keys"});
    REQUIRE(state.ok());
    auto applied = (*state)->restore(
        restorer->get(), longer, 0, cluster, six_days, [](std::uint64_t) {}, [] { return true; });
    CHECK_FALSE(applied.ok());
  }
  {
    store::RocksOptions ro;
    ro.wal = false;
    auto s = store::RocksStore::open(dir.string(), {"keys", "streams"}, ro);
    REQUIRE(s.ok());
    auto offset = (*s)->get(1, "changelog.next_offset");
    REQUIRE(offset.ok());
    REQUIRE(offset->has_value());
    CHECK(store::get_i64_be(**offset) == 20000);  // the first 20,000, checkpointed
    auto window = (*s)->get(1, "changelog.trusted_ms");
    REQUIRE(window.ok());
    REQUIRE(window->has_value());
    CHECK(store::get_i64_be(**window) == day_window);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a restore stopped part way keeps what it applied, and the next one goes on from there") {
  auto broker = streams::EmbeddedBroker::start();
  REQUIRE(broker.ok());
  const std::string& brokers = (*broker)->bootstraps();
  const std::string changelog = "ps.stopped";
  REQUIRE((*broker)->create_topic(changelog, 1).ok());
  auto producer = streams::make_client(RD_KAFKA_PRODUCER, streams::base_config(brokers, "ps-p"));
  REQUIRE(producer.ok());
  const std::string one = "1";
  constexpr int kRecords = 50000;
  for (int i = 0; i < kRecords; ++i)
    REQUIRE(streams::produce(producer->get(), changelog, 0,
                             std::string(1, '\0') + std::to_string(i), &one)
                .ok());
  REQUIRE(rd_kafka_flush(producer->get(), 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto restorer = streams::make_client(RD_KAFKA_CONSUMER,
                                       streams::restore_consumer_config(brokers, "ps-restore"));
  REQUIRE(restorer.ok());
  const auto dir = std::filesystem::temp_directory_path() / "digonce-test-partition-stopped";
  std::filesystem::remove_all(dir);

  std::uint64_t first = 0;
  {
    auto state = streams::PartitionState::open(dir.string(), {"keys"});
    REQUIRE(state.ok());
    // Asked to stop part way through the second batch (batches are of 20,000 records): what
    // it holds is written at the stop, with the checkpoint.
    int asked = 0;
    auto applied = (*state)->restore(
        restorer->get(), changelog, 0, "cluster", std::nullopt, [](std::uint64_t) {},
        [] { return true; }, [&] { return ++asked > 25000; });
    REQUIRE(applied.ok());
    CHECK((*state)->restore_stopped());
    first = *applied;
    CHECK(first > 20000);
    CHECK(first % 20000 != 0);
    CHECK(first < kRecords);
  }
  {
    auto state = streams::PartitionState::open(dir.string(), {"keys"});
    REQUIRE(state.ok());
    // The last record before the stop is there; the next start applies only the rest.
    auto kept = (*state)->store().get(0, std::to_string(first - 1));
    REQUIRE(kept.ok());
    CHECK(kept->has_value());
    auto applied = (*state)->restore(
        restorer->get(), changelog, 0, "cluster", std::nullopt, [](std::uint64_t) {},
        [] { return true; }, [] { return false; });
    REQUIRE(applied.ok());
    CHECK_FALSE((*state)->restore_stopped());
    CHECK(*applied == kRecords - first);
    auto last = (*state)->store().get(0, std::to_string(kRecords - 1));
    REQUIRE(last.ok());
    CHECK(last->has_value());
  }
  std::filesystem::remove_all(dir);
}
