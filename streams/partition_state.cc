#include "streams/partition_state.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "store/keys.h"

namespace digonce::streams {
namespace {

constexpr const char* kCheckpointKey = "changelog.next_offset";
constexpr const char* kClusterKey = "changelog.cluster_id";

}  // namespace

Result<std::unique_ptr<PartitionState>> PartitionState::open(
    const std::string& dir, const std::vector<std::string>& families) {
  auto all = families;
  all.push_back("streams");
  store::RocksOptions options;
  options.wal = false;  // the changelog is the log
  auto rocks = store::RocksStore::open(dir, all, options);
  if (!rocks) return rocks.error();
  std::unique_ptr<PartitionState> s(new PartitionState());
  s->rocks_ = std::move(*rocks);
  s->meta_ = static_cast<store::Family>(families.size());
  s->buffered_ = std::make_unique<store::BufferedStore>(*s->rocks_, all.size());
  return s;
}

store::WriteBatch PartitionState::checkpoint_batch(const std::string& cluster_id) const {
  store::WriteBatch b;
  std::string v;
  store::put_i64_be(v, next_offset_);
  b.put(meta_, kCheckpointKey, v);
  b.put(meta_, kClusterKey, cluster_id);
  return b;
}

Result<std::uint64_t> PartitionState::restore(rd_kafka_t* consumer, const std::string& changelog,
                                              std::int32_t partition, const std::string& cluster_id,
                                              const std::function<void(std::uint64_t)>& progress) {
  auto checkpoint = rocks_->get(meta_, kCheckpointKey);
  if (!checkpoint) return checkpoint.error();
  auto cluster = rocks_->get(meta_, kClusterKey);
  if (!cluster) return cluster.error();
  std::int64_t from = RD_KAFKA_OFFSET_BEGINNING;
  if (*checkpoint && *cluster && **cluster == cluster_id) {
    from = store::get_i64_be(**checkpoint);
  } else {
    if (*checkpoint)
      spdlog::info("{}[{}]: local state belongs to another cluster: rebuilding", changelog,
                   partition);
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
    auto flush = [&]() -> Status {
      if (batch.empty()) return {};
      // Changelog order is random key order; sorted (a key's own records kept in order), the
      // batch goes into RocksDB's memtables far faster (RocksOptions::insert_hints).
      batch.sort_by_key();
      batch.append(checkpoint_batch(cluster_id));
      DIGONCE_TRY(rocks_->write(batch));
      batch.clear();
      progress(applied);
      return {};
    };
    for (;;) {
      Message m(rd_kafka_consumer_poll(consumer, 1000));
      if (!m) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
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
      ++applied;
      // (Bounded in bytes too: a work of 100,000 vertices is 1.6 MiB.)
      if (batch.size() >= 20000 || batch.bytes() >= (64u << 20)) DIGONCE_TRY(flush());
    }
    rd_kafka_assign(consumer, nullptr);
    if (!out_of_range) {
      DIGONCE_TRY(flush());
      // Records the checkpoint even when nothing was replayed, so the next start skips ahead.
      DIGONCE_TRY(rocks_->write(checkpoint_batch(cluster_id)));
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
  return buffered_->commit(checkpoint_batch(cluster_id));
}

}  // namespace digonce::streams
