#include "streams/partition_state.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "store/keys.h"

namespace digonce::streams {
namespace {

constexpr const char* kCheckpointKey = "changelog.next_offset";
constexpr const char* kClusterKey = "changelog.cluster_id";
constexpr const char* kAsOfKey = "changelog.as_of_ms";
constexpr const char* kTrustKey = "changelog.trusted_ms";

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "20.0 h", "6.0 days".
std::string span(std::int64_t ms) {
  return ms < 48 * 3'600'000LL ? fmt::format("{:.1f} h", static_cast<double>(ms) / 3'600'000.0)
                               : fmt::format("{:.1f} days", static_cast<double>(ms) / 86'400'000.0);
}

}  // namespace

Result<std::unique_ptr<PartitionState>> PartitionState::open(
    const std::string& dir, const std::vector<std::string>& families,
    const std::vector<store::Family>& vector_memtable_families) {
  auto all = families;
  all.push_back("streams");
  store::RocksOptions options;
  options.wal = false;  // the changelog is the log
  options.vector_memtable_families = vector_memtable_families;
  auto rocks = store::RocksStore::open(dir, all, options);
  if (!rocks) return rocks.error();
  std::unique_ptr<PartitionState> s(new PartitionState());
  s->rocks_ = std::move(*rocks);
  s->meta_ = static_cast<store::Family>(families.size());
  s->buffered_ = std::make_unique<store::BufferedStore>(*s->rocks_, all.size());
  return s;
}

store::WriteBatch PartitionState::checkpoint_batch(const std::string& cluster_id,
                                                   std::int64_t as_of_ms) const {
  store::WriteBatch b;
  std::string v;
  store::put_i64_be(v, next_offset_);
  b.put(meta_, kCheckpointKey, v);
  b.put(meta_, kClusterKey, cluster_id);
  v.clear();
  store::put_i64_be(v, as_of_ms);
  b.put(meta_, kAsOfKey, v);
  v.clear();
  store::put_i64_be(v, trusted_ms_);
  b.put(meta_, kTrustKey, v);
  return b;
}

Result<std::uint64_t> PartitionState::restore(rd_kafka_t* consumer, const std::string& changelog,
                                              std::int32_t partition, const std::string& cluster_id,
                                              std::optional<std::int64_t> trusted_ms,
                                              const std::function<void(std::uint64_t)>& progress,
                                              const std::function<bool()>& give_up_waiting,
                                              const std::function<bool()>& stopped) {
  restore_stopped_ = false;
  auto checkpoint = rocks_->get(meta_, kCheckpointKey);
  if (!checkpoint) return checkpoint.error();
  auto cluster = rocks_->get(meta_, kClusterKey);
  if (!cluster) return cluster.error();
  auto as_of = rocks_->get(meta_, kAsOfKey);
  if (!as_of) return as_of.error();
  auto trust_then = rocks_->get(meta_, kTrustKey);
  if (!trust_then) return trust_then.error();
  // The window of the setting now, or of the one the checkpoint was written under when that was
  // shorter: a delete logged under a 1-day setting may be gone after a day even if the setting
  // was raised since (the cleaner fixes a tombstone's end when it first cleans it: KIP-534).
  const std::int64_t now_window = trusted_ms.value_or(kCheckpointTrustedMs);
  const std::int64_t window =
      *trust_then ? std::min(now_window, store::get_i64_be(**trust_then)) : now_window;
  // A restore cut short leaves state as of its last record applied, with the deletes logged
  // after it still to come: those may have been logged under the shorter window, which the
  // checkpoints written on the way keep. The complete state is as of now, under the setting now.
  trusted_ms_ = window;
  std::int64_t from = RD_KAFKA_OFFSET_BEGINNING;
  const std::int64_t age_ms = *as_of ? wall_ms() - store::get_i64_be(**as_of) : -1;
  // (A time ahead of this clock's by more than an hour is not believed either.)
  if (*checkpoint && *cluster && **cluster == cluster_id && *as_of && window > 0 &&
      age_ms > -3'600'000 && age_ms < window) {
    from = store::get_i64_be(**checkpoint);
  } else {
    if (*checkpoint && !(*cluster && **cluster == cluster_id))
      spdlog::info("{}[{}]: local state belongs to another cluster: rebuilding", changelog,
                   partition);
    else if (*checkpoint && !*as_of)
      spdlog::info("{}[{}]: local state of unknown age (an older version's): rebuilding", changelog,
                   partition);
    else if (*checkpoint && age_ms < 0)
      spdlog::info("{}[{}]: local state is dated {:.1f} h ahead of this clock: rebuilding",
                   changelog, partition, static_cast<double>(-age_ms) / 3'600'000.0);
    else if (*checkpoint)
      spdlog::info(
          "{}[{}]: local state is {} old, past the {} its changelog's deletes are surely kept "
          "for{}: rebuilding",
          changelog, partition, span(age_ms), span(window),
          window < now_window ? " (under its setting when the state was written)" : "");
    DIGONCE_TRY(rocks_->clear());
  }

  for (int attempt = 0; attempt < 2; ++attempt) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), changelog.c_str(), partition)->offset = from;
    if (auto err = rd_kafka_assign(consumer, list.get()))
      return kafka_error("assign " + changelog, err);
    std::uint64_t applied = 0;
    bool out_of_range = false;
    store::WriteBatch batch;
    next_offset_ = from < 0 ? 0 : from;
    // The time the state is as of: the checkpoint's, then each applied record's (0 for an empty
    // store: a restore cut short before it has a record's time is not trusted).
    std::int64_t last_record_ms = from < 0 ? 0 : store::get_i64_be(**as_of);
    auto flush = [&]() -> Status {
      if (batch.empty()) return {};
      // Changelog order is random key order; sorted (a key's own records kept in order), the
      // batch goes into RocksDB's memtables far faster (RocksOptions::insert_hints).
      batch.sort_by_key();
      // (As of the last record applied: the records after it were written after it.)
      batch.append(checkpoint_batch(cluster_id, last_record_ms));
      DIGONCE_TRY(rocks_->write(batch));
      batch.clear();
      progress(applied);
      return {};
    };
    std::optional<std::chrono::steady_clock::time_point> waiting_since;
    auto waited_too_long = [&] {
      if (!give_up_waiting()) return false;
      spdlog::warn(
          "{}[{}]: a transaction still open after {:.1f} s (or a stop): restored without it "
          "(should it commit, this partition's state misses it: delete the stage's data folder "
          "to rebuild it)",
          changelog, partition,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - *waiting_since).count());
      return true;
    };
    for (;;) {
      if (stopped && stopped()) {
        // What is applied so far is kept, checkpointed: the next start goes on from there.
        DIGONCE_TRY(flush());
        rd_kafka_assign(consumer, nullptr);
        restore_stopped_ = true;
        spdlog::info(
            "{}[{}]: restore stopped after {} records (at offset {}); the next start "
            "goes on from there",
            changelog, partition, applied, next_offset_);
        return applied;
      }
      Message m(rd_kafka_consumer_poll(consumer, 1000));
      if (!m) {
        if (waiting_since && waited_too_long()) break;
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // The end for this read_committed consumer is the last stable offset. Past it, up to
        // the high watermark, are the records of a transaction still open: the previous
        // owner's, its commit (its input offsets with it, which this partition's new owner
        // starts from) or its abort on the way. Stopping here would miss them for good if it
        // commits: wait for its end (the broker aborts a transaction left open past its
        // timeout, 15 s for the stages).
        std::int64_t lo = -1, hi = -1;
        rd_kafka_get_watermark_offsets(consumer, changelog.c_str(), partition, &lo, &hi);
        if (hi <= m->offset) break;
        if (!waiting_since) {
          waiting_since = std::chrono::steady_clock::now();
          spdlog::info(
              "{}[{}]: a transaction is open at offset {} (the log ends at {}): waiting "
              "for its commit or abort",
              changelog, partition, m->offset, hi);
        } else if (waited_too_long()) {
          break;
        }
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
          m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        out_of_range = true;
        break;
      }
      if (m->err) {
        spdlog::warn("restoring {}[{}]: {}", changelog, partition,
                     rd_kafka_message_errstr(m.get()));
        continue;
      }
      if (m->key_len < 1) continue;
      auto family = static_cast<store::Family>(static_cast<const char*>(m->key)[0]);
      if (family >= meta_) return error("changelog record for an unknown family");
      std::string_view key(static_cast<const char*>(m->key) + 1, m->key_len - 1);
      if (m->payload) {
        batch.put(family, key, std::string_view(static_cast<const char*>(m->payload), m->len));
      } else {
        batch.del(family, key);
      }
      next_offset_ = m->offset + 1;
      // (A producer's clock ahead of this one's does not make the state look newer.)
      if (auto ts = rd_kafka_message_timestamp(m.get(), nullptr); ts >= 0)
        last_record_ms = std::min(ts, wall_ms());
      ++applied;
      // (Bounded in bytes too: a work of 100,000 vertices is 1.6 MiB.)
      if (batch.size() >= 20000 || batch.bytes() >= (64u << 20)) DIGONCE_TRY(flush());
    }
    rd_kafka_assign(consumer, nullptr);
    if (!out_of_range) {
      DIGONCE_TRY(flush());
      // Records the checkpoint even when nothing was replayed, so the next start skips ahead.
      // (The setting unread, the shorter window recorded stays.)
      trusted_ms_ = trusted_ms.value_or(window);
      DIGONCE_TRY(rocks_->write(checkpoint_batch(cluster_id, wall_ms())));
      return applied;
    }
    // The changelog no longer reaches back to the checkpoint (compacted or recreated):
    // rebuild from its beginning.
    spdlog::info("{}[{}]: checkpoint {} out of range: rebuilding from the changelog", changelog,
                 partition, from);
    DIGONCE_TRY(rocks_->clear());
    from = RD_KAFKA_OFFSET_BEGINNING;
  }
  return error("restore of " + changelog + " failed twice");
}

Status PartitionState::log_pending(rd_kafka_t* producer, const std::string& changelog,
                                   std::int32_t partition) {
  if (buffered_->any_written_out()) return log_new_writes(producer, changelog, partition);
  Status failed;
  buffered_->for_each_pending(
      [&](store::Family f, std::string_view k, const std::optional<std::string>& v) {
        if (failed.ok()) failed = log_write(producer, changelog, partition, f, k, v);
      });
  return failed;
}

Status PartitionState::log_new_writes(rd_kafka_t* producer, const std::string& changelog,
                                      std::int32_t partition) {
  Status failed;
  buffered_->for_each_new_write(
      [&](store::Family f, std::string_view k, const std::optional<std::string>& v) {
        failed = log_write(producer, changelog, partition, f, k, v);
        return failed.ok();
      });
  return failed;
}

// One changelog record: the family's byte, then the key; no value for a delete.
Status PartitionState::log_write(rd_kafka_t* producer, const std::string& changelog,
                                 std::int32_t partition, store::Family f, std::string_view k,
                                 const std::optional<std::string>& v) {
  key_.assign(1, static_cast<char>(f));
  key_.append(k);
  return produce(producer, changelog, partition, key_, v ? &*v : nullptr, {}, this);
}

Status PartitionState::commit(const std::string& cluster_id) {
  return buffered_->commit(checkpoint_batch(cluster_id, wall_ms()));
}

}  // namespace digonce::streams
