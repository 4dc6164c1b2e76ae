#include "streams/stream_task.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "streams/admin.h"
#include "streams/partition_state.h"

namespace digonce::streams {

namespace {

class FnProcessor final : public PartitionProcessor {
 public:
  explicit FnProcessor(const StatelessFactory::Fn& fn) : fn_(fn) {}
  Status process(const InputRecord& in, Output& out) override { return fn_(in, out); }

 private:
  const StatelessFactory::Fn& fn_;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int kMaxAttempts = 3;
// Transactions aborted in a row (none committed with a record processed) before the clients are
// started over (abort_and_rewind): ~2 minutes of pauses.
constexpr int kMaxAbortsInARow = 30;
// A transactional call that fails with a retriable error (the coordinator moved or is
// restarting) is tried again this many times, with a growing pause (about 30 s in all).
constexpr int kTransactionRetries = 20;

}  // namespace

Result<std::unique_ptr<PartitionProcessor>> StatelessFactory::create(std::int32_t, store::Store*) {
  return std::unique_ptr<PartitionProcessor>(std::make_unique<FnProcessor>(fn_));
}

struct StreamTask::Assigned {
  std::unique_ptr<PartitionState> state;  // null when stateless
  std::unique_ptr<PartitionProcessor> processor;
  // The offset this task last committed for this partition; -1 until it has committed one.
  std::int64_t committed = -1;
  // The group's committed offset, asked (update_lag, when idle) for the lag of a partition the
  // consumer has read nothing from yet (kNotAsked until answered; RD_KAFKA_OFFSET_INVALID when
  // the group has none).
  static constexpr std::int64_t kNotAsked = -2;
  std::int64_t group_offset = kNotAsked;
  int group_offset_asks = 0;  // at most 3 (each waits up to 500 ms when the broker does not answer)
};

class StreamTask::TxnOutput final : public Output {
 public:
  explicit TxnOutput(StreamTask& task) : task_(task) {}
  Status send(const std::string& topic, std::int32_t partition, std::string_view key,
              const std::string* value, const std::vector<Header>& headers) override {
    task_.metrics_.produced.Increment();
    rd_kafka_resp_err_t refused = RD_KAFKA_RESP_ERR_NO_ERROR;
    auto s =
        produce(task_.producer_.get(), topic, partition, key, value, headers, nullptr, &refused);
    // The transaction can take nothing more (an earlier record's delivery failed, so it must be
    // aborted; or the producer failed fatally): the record being processed is not at fault.
    if (refused == RD_KAFKA_RESP_ERR__STATE || refused == RD_KAFKA_RESP_ERR__FATAL)
      task_.txn_unusable_ = true;
    return s;
  }

 private:
  StreamTask& task_;
};

StreamTask::StreamTask(TaskOptions options, ProcessorFactory& factory,
                       prometheus::Registry& registry)
    : options_(std::move(options)),
      factory_(factory),
      metrics_(registry, options_.name),
      output_(std::make_unique<TxnOutput>(*this)) {
  if (options_.group_id.empty()) options_.group_id = "digonce-" + options_.name;
}

StreamTask::~StreamTask() {
  parts_.clear();
  consumer_.reset();
  restorer_.reset();
  topics_.clear();  // topic handles before their producer
  producer_.reset();
}

void StreamTask::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<StreamTask*>(opaque);
  if (m->err) {
    self->delivery_failed_ = true;
    self->delivery_error_ = rd_kafka_err2str(m->err);
    return;
  }
  if (m->_private) static_cast<PartitionState*>(m->_private)->delivered(m->offset);
}

void StreamTask::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<StreamTask*>(opaque);
  Status s;
  self->heart_.beat();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // (Called once per completed rebalance, even with nothing assigned: in the group now.)
    self->heart_.joined = true;
    s = self->assign(partitions);
  } else {
    const bool lost = rd_kafka_assignment_lost(rk);
    if (lost) self->heart_.joined = false;  // out of the group until it has rejoined
    s = self->revoke(partitions, lost);
  }
  if (!s.ok() && self->fatal_.ok()) self->fatal_ = s;
}

Status StreamTask::start() {
  stateful_ = !factory_.families().empty();
  transactional_ = !options_.transactional_id.empty();
  std::string client = "digonce-" + options_.name;

  auto pconf = producer_config(options_.brokers, client, options_.transactional_id);
  pconf["linger.ms"] = std::to_string(options_.linger_ms);
  auto producer = make_client(
      RD_KAFKA_PRODUCER, pconf,
      [](rd_kafka_conf_t* c, void* self) {
        rd_kafka_conf_set_dr_msg_cb(c, &StreamTask::on_delivery);
        rd_kafka_conf_set_opaque(c, self);
      },
      this);
  if (!producer) return producer.error();
  topics_.clear();
  producer_ = std::move(*producer);
  if (transactional_) {
    // Fences any older instance with this id and aborts its open transaction, so that
    // read_committed readers (and our own restore) are not held back by it.
    if (auto* e = rd_kafka_init_transactions(producer_.get(), 60000))
      return kafka_error(options_.name + ": init transactions", e);
  }
  // Learn the output topics' leaders now: without it the first record sent to each topic waits
  // for a metadata round (about a second per hop on the embedded broker).
  std::vector<std::string> outputs = options_.output_topics;
  for (const auto& t : {options_.changelog_topic, options_.dead_letter_topic})
    if (!t.empty()) outputs.push_back(t);
  for (const auto& t : outputs) {
    topics_.emplace_back(rd_kafka_topic_new(producer_.get(), t.c_str(), nullptr));
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(producer_.get(), 0, topics_.back().get(), &md, 10000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        md)
      rd_kafka_metadata_destroy(md);
  }
  if (char* id = rd_kafka_clusterid(producer_.get(), 10000)) {
    cluster_id_ = id;
    rd_kafka_mem_free(producer_.get(), id);
  }
  if (stateful_) checkpoint_trusted_ms_ = changelog_trust();
  DIGONCE_TRY(begin());

  if (stateful_) {
    // (Its group id under the stage's own, so that ACLs on the topic prefix cover it.)
    auto rconf = restore_consumer_config(options_.brokers, client + "-restore",
                                         options_.group_id + "-restore");
    auto restorer = make_client(RD_KAFKA_CONSUMER, rconf);
    if (!restorer) return restorer.error();
    restorer_ = std::move(*restorer);
    // Connected, with the changelog's leaders known, before the first partition is assigned:
    // otherwise that partition's restore waits for them (1-2 s: docs/PERFORMANCE.md). Best
    // effort: if the broker does not answer within 2 s, the restore asks again itself.
    if (rd_kafka_topic_t* t =
            rd_kafka_topic_new(restorer_.get(), options_.changelog_topic.c_str(), nullptr)) {
      const rd_kafka_metadata_t* md = nullptr;
      if (rd_kafka_metadata(restorer_.get(), 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
      rd_kafka_topic_destroy(t);
    }
  }

  auto cconf = consumer_config(options_.brokers, client, options_.group_id);
  cconf["fetch.min.bytes"] = std::to_string(options_.fetch_min_bytes);
  if (!options_.group_instance_id.empty()) cconf["group.instance.id"] = options_.group_instance_id;
  auto consumer = make_client(
      RD_KAFKA_CONSUMER, cconf,
      [](rd_kafka_conf_t* c, void* self) {
        rd_kafka_conf_set_rebalance_cb(c, &StreamTask::on_rebalance);
        rd_kafka_conf_set_opaque(c, self);
      },
      this);
  if (!consumer) return consumer.error();
  consumer_ = std::move(*consumer);
  rd_kafka_poll_set_consumer(consumer_.get());
  PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), options_.input_topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(consumer_.get(), topics.get()))
    return kafka_error("subscribe " + options_.input_topic, err);
  started_ = true;
  spdlog::info(
      "{}: consuming {} as group {} ({})", options_.name, options_.input_topic, options_.group_id,
      (transactional_ ? "exactly-once, transactional id " + options_.transactional_id
                      : std::string("at-least-once")) +
          (options_.group_instance_id.empty() ? std::string()
                                              : ", static member " + options_.group_instance_id));
  return {};
}

Status StreamTask::begin() {
  txn_first_record_.reset();
  txn_unusable_ = false;
  if (!transactional_) return {};
  if (auto* e = rd_kafka_begin_transaction(producer_.get()))
    return kafka_error(options_.name + ": begin transaction", e);
  return {};
}

Status StreamTask::assign(rd_kafka_topic_partition_list_t* partitions) {
  // Partitions added to a cooperative assignment: what the partitions kept have processed is
  // committed first, so that the new ones' restores (minutes, for a big store) do not hold a
  // transaction open past its timeout (the broker would abort it and fence this producer).
  // Not while the clients are torn down after an error, nor after a callback's error: what
  // is pending may have skipped a record that failed, and nothing is to be committed; the
  // partitions are taken only for librdkafka to take them back.
  if (tearing_down_ || !fatal_.ok()) {
    if (auto* e = rd_kafka_incremental_assign(consumer_.get(), partitions))
      return kafka_error("incremental assign", e);
    return {};
  }
  // The probes' count of partitions restoring covers the whole assignment, from here until each
  // partition is processed (a readiness probe must not see a gap between two restores).
  struct Restoring {
    std::atomic<int>& n;
    int left;
    void done() {
      if (left > 0) {
        --left;
        --n;
      }
    }
    ~Restoring() { n -= left; }
  } restoring{heart_.restoring, stateful_ ? partitions->cnt : 0};
  heart_.restoring += restoring.left;
  DIGONCE_TRY(commit());
  if (auto* e = rd_kafka_incremental_assign(consumer_.get(), partitions))
    return kafka_error("incremental assign", e);
  // One deadline for all the new partitions' waits for open changelog transactions (those of
  // one previous owner end together): well inside max.poll.interval.ms.
  const auto wait_until = std::chrono::steady_clock::now() + kOpenTransactionWait;
  for (int i = 0; i < partitions->cnt; ++i) {
    std::int32_t p = partitions->elems[i].partition;
    Assigned a;
    if (stateful_) {
      auto dir = std::filesystem::path(options_.data_dir) / options_.name / std::to_string(p);
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      auto state = PartitionState::open(dir.string(), factory_.families(),
                                        factory_.vector_memtable_families());
      if (!state) return state.error();
      metrics_.restoring(p).Set(1);
      auto started = std::chrono::steady_clock::now();
      // (Asked at every record and every second of a wait: the restore's heartbeat.)
      auto stopping = [this] {
        heart_.beat();
        return stop_ && stop_->load(std::memory_order_relaxed);
      };
      auto restored = (*state)->restore(
          restorer_.get(), options_.changelog_topic, p, cluster_id_, checkpoint_trusted_ms_,
          [&](std::uint64_t n) { metrics_.restored(p).Set(static_cast<double>(n)); },
          [&] { return std::chrono::steady_clock::now() >= wait_until || stopping(); }, stopping);
      if (!restored) return restored.error();
      metrics_.restoring(p).Set(0);
      if ((*state)->restore_stopped()) {
        // A stop came (SIGTERM) during the restore: this partition and those after it are
        // assigned but not processed (no records of theirs are handled, nor their positions
        // committed); the task's loop ends at once, and leaving the group hands them over.
        spdlog::info("{}: stopping during the restore of partition {}: not processing it",
                     options_.name, p);
        break;
      }
      metrics_.restored(p).Set(static_cast<double>(*restored));
      double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      spdlog::info("{}: partition {} assigned; restored {} changelog records in {:.2f} s",
                   options_.name, p, *restored, secs);
      a.state = std::move(*state);
    } else {
      spdlog::info("{}: partition {} assigned", options_.name, p);
    }
    auto processor = factory_.create(p, a.state ? &a.state->store() : nullptr);
    if (!processor) return processor.error();
    a.processor = std::move(*processor);
    parts_[p] = std::move(a);
    restoring.done();
  }
  metrics_.assigned.Set(static_cast<double>(parts_.size()));
  assigned_count_ = static_cast<int>(parts_.size());
  return {};
}

Status StreamTask::revoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  // Whatever happens to the transaction, the partitions are let go and unassigned: librdkafka
  // waits for the unassign (rd_kafka_consumer_close would wait for ever).
  Status s;
  if (tearing_down_) {
    // The clients are being rebuilt after an error: nothing can be committed or aborted; the
    // next owner starts from the committed offsets.
  } else if (lost) {
    spdlog::warn("{}: assignment lost: aborting the current transaction", options_.name);
    // (Not when fenced already: a consumer fenced by another instance loses its assignment too.)
    if (fatal_error() == RD_KAFKA_RESP_ERR_NO_ERROR)
      assignment_lost_at_ = std::chrono::steady_clock::now();
    metrics_.aborted.Increment();
    s = abort_transaction();
    for (auto& [p, a] : parts_)
      if (a.state) a.state->abort();
    pending_records_ = 0;
    pending_dead_lettered_ = 0;
    pending_timestamps_.clear();
    if (s.ok()) s = begin();
  } else {
    // Hand the partitions over with everything processed so far committed.
    s = commit();
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    std::int32_t p = partitions->elems[i].partition;
    parts_.erase(p);
    forget_failures(p, INT64_MAX);
    metrics_.forget(p);
    spdlog::info("{}: partition {} {}", options_.name, p, lost ? "lost" : "revoked");
  }
  if (lost && s.ok()) s = recreate_processors();
  metrics_.assigned.Set(static_cast<double>(parts_.size()));
  assigned_count_ = static_cast<int>(parts_.size());
  if (auto* e = rd_kafka_incremental_unassign(consumer_.get(), partitions))
    if (s.ok()) s = kafka_error("incremental unassign", e);
  return s;
}

Status StreamTask::recreate_processors() {
  for (auto& [p, a] : parts_) {
    a.processor.reset();
    auto processor = factory_.create(p, a.state ? &a.state->store() : nullptr);
    if (!processor) return processor.error();
    a.processor = std::move(*processor);
  }
  return {};
}

Status StreamTask::handle(rd_kafka_message_t* m) {
  auto it = parts_.find(m->partition);
  if (it == parts_.end()) return {};  // revoked while in flight
  auto key = std::make_pair(m->partition, m->offset);
  InputRecord in{options_.input_topic,
                 m->partition,
                 m->offset,
                 rd_kafka_message_timestamp(m, nullptr),
                 std::string_view(static_cast<const char*>(m->key), m->key ? m->key_len : 0),
                 m->payload ? std::optional<std::string_view>(
                                  std::string_view(static_cast<const char*>(m->payload), m->len))
                            : std::nullopt,
                 m};
  auto failed = failures_.find(key);
  if (failed != failures_.end() && failed->second >= kMaxAttempts) {
    // Poison: set it aside with what went wrong, and go on with the partition.
    if (options_.dead_letter_topic.empty())
      return error(options_.name + ": record " + std::to_string(m->offset) +
                   " keeps failing and there is no dead-letter topic");
    std::string value = in.value ? std::string(*in.value) : std::string();
    rd_kafka_resp_err_t refused = RD_KAFKA_RESP_ERR_NO_ERROR;
    auto sent = produce(
        producer_.get(), options_.dead_letter_topic, RD_KAFKA_PARTITION_UA, in.key,
        in.value ? &value : nullptr,
        copied_headers(m, {{"digonce.reason", "processing failed " + std::to_string(kMaxAttempts) +
                                                  " times: " + failure_reason_[key]},
                           {"digonce.source.topic", options_.input_topic},
                           {"digonce.source.partition", std::to_string(m->partition)},
                           {"digonce.source.offset", std::to_string(m->offset)}}),
        nullptr, &refused);
    if (!sent.ok()) {
      // A transaction that must be aborted (an earlier delivery failed): abort, and set it
      // aside again in the next. Anything else ends this run of the clients (run()).
      if (refused == RD_KAFKA_RESP_ERR__STATE && fatal_error() == RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("{}: setting aside {}[{}]@{}: {}: aborting", options_.name,
                     options_.input_topic, m->partition, m->offset, sent.error().what());
        return abort_and_rewind();
      }
      return sent;
    }
    if (failed->second == kMaxAttempts) {
      spdlog::error("{}: record {}[{}]@{} set aside after {} failures: {}", options_.name,
                    options_.input_topic, m->partition, m->offset, kMaxAttempts,
                    failure_reason_[key]);
      ++failed->second;  // said once
    } else {
      spdlog::info("{}: record {}[{}]@{} set aside again (the transaction that held it aborted)",
                   options_.name, options_.input_topic, m->partition, m->offset);
    }
    ++pending_dead_lettered_;  // counted when committed
    // Still marked until a commit covers it (forget_failures): should the transaction abort
    // (another record failing before the commit), the replay sets it aside again at once
    // instead of failing it three more times.
  } else {
    auto s = it->second.processor->process(in, *output_);
    if (!s.ok()) {
      // A producer that failed fatally fails every record: not this record's fault.
      if (fatal_error() != RD_KAFKA_RESP_ERR_NO_ERROR) return s;
      if (txn_unusable_) {  // nor is a transaction that must be aborted (TxnOutput)
        spdlog::warn("{}: processing {}[{}]@{}: {}: aborting (not counted against the record)",
                     options_.name, options_.input_topic, m->partition, m->offset,
                     s.error().what());
        return abort_and_rewind();
      }
      int attempt = ++failures_[key];
      failure_reason_[key] = s.error().what();
      spdlog::warn("{}: processing {}[{}]@{} failed (attempt {}): {}", options_.name,
                   options_.input_topic, m->partition, m->offset, attempt, s.error().what());
      return abort_and_rewind();
    }
  }
  if (pending_records_ == 0) txn_first_record_ = std::chrono::steady_clock::now();
  ++pending_records_;
  pending_timestamps_.push_back(in.timestamp_ms);
  metrics_.consumed.Increment();
  if (injected_pause_ms_.load(std::memory_order_relaxed) > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(injected_pause_ms_.exchange(0)));
  return {};
}

Status StreamTask::commit() {
  if (pending_records_ == 0) return {};
  auto s = transactional_ ? commit_transactional() : commit_at_least_once();
  last_commit_ms_ = now_ms();
  return s;
}

Status StreamTask::commit_transactional() {
  // (librdkafka's calls here wait as long as the brokers are away, with the recommended -1.)
  Heartbeat::Waiting waiting(heart_, "commit a transaction");
  auto commit_started = std::chrono::steady_clock::now();
  for (auto& [p, a] : parts_)
    if (a.state && a.state->has_pending())
      DIGONCE_TRY(a.state->log_pending(producer_.get(), options_.changelog_topic, p));

  auto positions = assigned_positions(consumer_.get());
  if (!positions) return positions.error();
  const PartitionList& offsets = *positions;
  PartitionList valid(rd_kafka_topic_partition_list_new(offsets->cnt));
  // (Only partitions being processed: one assigned but not restored, as when a stop came
  // during its restore, keeps its committed offset whatever was fetched.)
  for (int i = 0; i < offsets->cnt; ++i)
    if (offsets->elems[i].offset >= 0 && parts_.contains(offsets->elems[i].partition))
      rd_kafka_topic_partition_list_add(valid.get(), offsets->elems[i].topic,
                                        offsets->elems[i].partition)
          ->offset = offsets->elems[i].offset;

  // What librdkafka says to do with a failed transactional call (rdkafka.h, transactions.c):
  // retriable -> call again (the broker or coordinator is briefly away, e.g. restarting);
  // abortable -> abort and rewind; fatal (fenced by a newer instance) -> stop this instance.
  // Anything else is treated as abortable: the batch is processed again, nothing is lost.
  auto fail = [&](const char* what, rd_kafka_error_t* e) -> Status {
    if (rd_kafka_error_is_fatal(e) || fatal_error() != RD_KAFKA_RESP_ERR_NO_ERROR)
      return kafka_error(options_.name + ": " + what, e);
    if (authorization_error(rd_kafka_error_code(e))) {
      // An ACL refuses an output, the changelog or the group: no retry mends it. The
      // transaction is aborted and the stage stops; once the right is granted, a start goes on
      // from the committed offsets.
      Error refused = kafka_error(options_.name + ": " + what, e);  // (with the ACL hint)
      refused.permanent = true;
      if (auto aborted = abort_and_rewind(); !aborted.ok())
        spdlog::warn("{}: {}", options_.name, aborted.error().what());
      return refused;
    }
    spdlog::warn("{}: {} failed: {}: aborting and rewinding", options_.name, what,
                 rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return abort_and_rewind();
  };
  auto retry = [&](const char* what, auto&& call) -> rd_kafka_error_t* {
    for (int attempt = 1;; ++attempt) {
      rd_kafka_error_t* e = call();
      if (!e || !rd_kafka_error_is_retriable(e) || attempt >= kTransactionRetries) return e;
      spdlog::warn("{}: {}: {}: retrying ({})", options_.name, what, rd_kafka_error_string(e),
                   attempt);
      rd_kafka_error_destroy(e);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * std::min(attempt, 10)));
    }
  };
  if (valid->cnt > 0) {
    auto* md = rd_kafka_consumer_group_metadata(consumer_.get());
    auto* e = retry("send offsets to transaction", [&] {
      return rd_kafka_send_offsets_to_transaction(producer_.get(), valid.get(), md, -1);
    });
    rd_kafka_consumer_group_metadata_destroy(md);
    if (e) return fail("send offsets to transaction", e);
  }
  if (auto* e = retry("commit transaction",
                      [&] { return rd_kafka_commit_transaction(producer_.get(), -1); }))
    return fail("commit transaction", e);
  metrics_.commit_time.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_started).count());
  for (int i = 0; i < valid->cnt; ++i)
    if (auto it = parts_.find(valid->elems[i].partition); it != parts_.end())
      it->second.committed = valid->elems[i].offset;
  DIGONCE_TRY(committed(*valid));
  return begin();
}

std::optional<std::int64_t> StreamTask::changelog_trust() {
  // How old a local store may be and still be replayed from its checkpoint follows how long the
  // changelog keeps its deletes (partition_state.h). digonce makes its changelogs keep them 7
  // days, but a topic made before, or by an operator, may keep them less (Kafka's default: a
  // day); a store replayed past that could bring deleted keys back. Best effort: unknown, the
  // window recorded with each store, or 6 days.
  std::optional<std::int64_t> kept;
  std::map<std::string, std::string> refused;
  auto configs =
      describe_topic_configs(producer_.get(), {options_.changelog_topic}, 5000, &refused);
  if (auto r = refused.find(options_.changelog_topic); r != refused.end()) {
    spdlog::warn(
        "{}: the broker would not give the settings of {} ({}): local stores up to {:.0f} days "
        "old are replayed, as if it kept its deletes digonce's {} days (or less: the window "
        "recorded with each store)",
        options_.name, options_.changelog_topic, r->second,
        static_cast<double>(kCheckpointTrustedMs) / 86'400'000.0,
        kChangelogTombstoneRetentionMs / 86'400'000);
  } else if (!configs) {
    spdlog::info(
        "{}: the settings of {} not read ({}): local stores up to {:.0f} days old are "
        "replayed (or less: the window recorded with each store)",
        options_.name, options_.changelog_topic, configs.error().what(),
        static_cast<double>(kCheckpointTrustedMs) / 86'400'000.0);
  } else if (auto t = configs->find(options_.changelog_topic); t != configs->end()) {
    if (auto v = t->second.find("delete.retention.ms"); v != t->second.end()) {
      try {
        kept = std::stoll(v->second);
      } catch (const std::exception&) {
      }
    }
  }
  const std::int64_t trusted = checkpoint_trusted_ms(kept);
  if (kept && trusted < kCheckpointTrustedMs)
    spdlog::warn(
        "{}: {} keeps its deletes {:.1f} h (delete.retention.ms {}): local stores more "
        "than {:.1f} h old are rebuilt from it, not replayed (digonce makes its "
        "changelogs keep them {} days)",
        options_.name, options_.changelog_topic, static_cast<double>(*kept) / 3.6e6, *kept,
        static_cast<double>(trusted) / 3.6e6, kChangelogTombstoneRetentionMs / 86'400'000);
  if (!kept) return std::nullopt;
  return trusted;
}

Status StreamTask::step_over_markers() {
  // A transactional input ends each transaction with a commit marker, an offset that no
  // consumer is given: the last commit covered the records, not the marker after them, so an
  // idle partition would show a lag of 1, here and in Kafka's own tools, for ever. Once the
  // consumer has passed a marker (its position moves over it when polled), committing that
  // position, with no records, brings the lag to 0. Kafka Streams does the same (KAFKA-6607).
  //
  // Why the position is safe to commit here: records are processed on this thread as they are
  // polled, so with nothing pending every record before the position has been processed and
  // committed. A seek (abort_and_rewind) or an assignment leaves the position unset (-1001)
  // until the consumer polls again, so a rewound partition is not stepped over.
  auto positions = assigned_positions(consumer_.get());
  if (!positions) return positions.error();
  const PartitionList& offsets = *positions;
  bool ahead = false;
  for (int i = 0; i < offsets->cnt; ++i)
    if (auto it = parts_.find(offsets->elems[i].partition);
        it != parts_.end() && offsets->elems[i].offset >= 0)
      // Not committed by this task since it was assigned (the group's offset unknown here):
      // committing the position once costs a transaction and is as safe.
      ahead = ahead || it->second.committed < 0 || offsets->elems[i].offset > it->second.committed;
  if (!ahead) return {};
  return commit_transactional();
}

Status StreamTask::commit_at_least_once() {
  Heartbeat::Waiting waiting(heart_, "commit");
  // Whether everything produced so far has been delivered. (delivery_failed_ was cleared by the
  // last commit or abort: a failure reported since, in a produce that waited for queue space,
  // counts too.)
  auto delivered = [&](const char* what) -> Result<bool> {
    if (auto err = rd_kafka_flush(producer_.get(), 60000)) return kafka_error("flush", err);
    if (!delivery_failed_) return true;
    spdlog::warn("{}: {} delivery failed ({}): rewinding", options_.name, what, delivery_error_);
    return false;
  };
  // The outputs delivered first, then the changelog. Without transactions nothing sent is taken
  // back: the changelog records of a batch whose outputs failed would stay in the changelog, a
  // restore would apply them, and the batch, read again, would meet state that already has it
  // and send nothing (an alert never sent). A failure after the outputs are delivered only
  // repeats them.
  auto outputs = delivered("output");
  if (!outputs) return outputs.error();
  if (!*outputs) return abort_and_rewind();
  for (auto& [p, a] : parts_)
    if (a.state && a.state->has_pending())
      DIGONCE_TRY(a.state->log_pending(producer_.get(), options_.changelog_topic, p));
  auto changelog = delivered("changelog");
  if (!changelog) return changelog.error();
  if (!*changelog) return abort_and_rewind();
  auto positions = assigned_positions(consumer_.get());
  if (!positions) return positions.error();
  const PartitionList& offsets = *positions;
  bool any = false;
  for (int i = 0; i < offsets->cnt; ++i) {
    // (As in commit_transactional: only partitions being processed.)
    if (!parts_.contains(offsets->elems[i].partition))
      offsets->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    any = any || offsets->elems[i].offset >= 0;
  }
  if (any) {
    if (auto err = rd_kafka_commit(consumer_.get(), offsets.get(), 0))
      if (err != RD_KAFKA_RESP_ERR__NO_OFFSET) return kafka_error("commit offsets", err);
  }
  return committed(*offsets);
}

Status StreamTask::committed(const rd_kafka_topic_partition_list_t& offsets) {
  metrics_.committed.Increment();
  metrics_.dead_lettered.Increment(static_cast<double>(pending_dead_lettered_));
  // Aborts in a row end with a commit that processed a record (not only set some aside).
  if (pending_records_ > pending_dead_lettered_) aborts_in_a_row_ = 0;
  delivery_failed_ = false;
  for (int i = 0; i < offsets.cnt; ++i)
    if (offsets.elems[i].offset >= 0)
      forget_failures(offsets.elems[i].partition, offsets.elems[i].offset);
  // Committed in Kafka: now the local stores, with the changelog offsets as checkpoints.
  for (auto& [p, a] : parts_)
    if (a.state) DIGONCE_TRY(a.state->commit(cluster_id_));
  auto now = now_ms();
  for (auto ts : pending_timestamps_)
    metrics_.latency.Observe(static_cast<double>(std::max<std::int64_t>(0, now - ts)) / 1000.0);
  pending_records_ = 0;
  pending_dead_lettered_ = 0;
  pending_timestamps_.clear();
  update_lag(false);
  return {};
}

Status StreamTask::abort_transaction() {
  if (!transactional_) return {};
  Heartbeat::Waiting waiting(heart_, "abort a transaction");
  // librdkafka sends EndTxn as soon as the transaction's AddPartitionsToTxn has been sent, not
  // answered; a coordinator that gets the EndTxn first sees no transaction and answers
  // INVALID_TXN_STATE, which librdkafka makes fatal (librdkafka#4849): a processing error
  // right after the first records of a transaction then cost new clients. A record delivered
  // proves its partition registered, so what was sent goes out first (bounded: a producer in
  // trouble fails its records quickly, or the abort goes ahead after 2 s). The records land in
  // the aborted transaction, which read_committed consumers never see.
  rd_kafka_flush(producer_.get(), 2000);
  for (int attempt = 1;; ++attempt) {
    auto* e = rd_kafka_abort_transaction(producer_.get(), -1);
    if (!e) return {};
    if (!rd_kafka_error_is_retriable(e) || attempt >= kTransactionRetries)
      return kafka_error(options_.name + ": abort transaction", e);
    spdlog::warn("{}: abort transaction: {}: retrying ({})", options_.name,
                 rd_kafka_error_string(e), attempt);
    rd_kafka_error_destroy(e);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * std::min(attempt, 10)));
  }
}

void StreamTask::forget_failures(std::int32_t partition, std::int64_t before) {
  auto from = failures_.lower_bound({partition, INT64_MIN});
  auto to = failures_.lower_bound({partition, before});
  for (auto it = from; it != to; ++it) failure_reason_.erase(it->first);
  failures_.erase(from, to);
}

Status StreamTask::abort_and_rewind() {
  metrics_.aborted.Increment();
  DIGONCE_TRY(abort_transaction());
  delivery_failed_ = false;
  // Aborts in a row, with no record processed and committed between (a record failing, or a
  // commit refused, again and again): from the fourth on, a growing pause (0.1 s doubling to
  // 5 s), after the abort (an open transaction would hold back every read_committed reader of
  // its partitions), so that a stage stuck on something it cannot get past waits instead of
  // spinning on the brokers; it says why at each abort, and the lag and
  // digonce_transactions_total{outcome="aborted"} show it. After kMaxAbortsInARow, this run
  // of the clients ends: run() starts new ones, and gives up after kMaxRestarts such runs.
  if (++aborts_in_a_row_ >= kMaxAbortsInARow)
    return error(options_.name + ": " + std::to_string(aborts_in_a_row_) +
                 " transactions aborted in a row, none committed with a record processed");
  if (aborts_in_a_row_ > 3) {
    const int pause_ms = std::min(5000, 100 << std::min(aborts_in_a_row_ - 4, 6));
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  for (auto& [p, a] : parts_)
    if (a.state) a.state->abort();
  pending_records_ = 0;
  pending_dead_lettered_ = 0;
  pending_timestamps_.clear();
  DIGONCE_TRY(recreate_processors());

  // Back to the committed offsets: everything since is processed again.
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (auto err = rd_kafka_assignment(consumer_.get(), &raw)) return kafka_error("assignment", err);
  PartitionList offsets(raw);
  if (offsets->cnt > 0) {
    if (auto err = rd_kafka_committed(consumer_.get(), offsets.get(), 10000))
      return kafka_error("committed offsets", err);
    for (int i = 0; i < offsets->cnt; ++i) {
      // A partition whose committed offset could not be read is not rewound to its beginning
      // (all its records again): an error, and run() starts the clients over.
      if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kafka_error("committed offset of " + options_.input_topic + "[" +
                               std::to_string(offsets->elems[i].partition) + "]",
                           offsets->elems[i].err);
      if (offsets->elems[i].offset < 0) offsets->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (auto* e = rd_kafka_seek_partitions(consumer_.get(), offsets.get(), -1))
      return kafka_error("seek", e);
    // A partition not sought back would keep its position past the aborted records, and the
    // next commit would skip them: an error, and run() starts the clients over.
    for (int i = 0; i < offsets->cnt; ++i)
      if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kafka_error("seek " + options_.input_topic + "[" +
                               std::to_string(offsets->elems[i].partition) + "]",
                           offsets->elems[i].err);
  }
  return begin();
}

void StreamTask::update_lag(bool ask_group) {
  // Partitions nothing has been read from since they were assigned (caught up, or not yet
  // fetched) have no position: they are behind by what the group has not committed, asked of
  // the group once for all of them, only when idle (never in a commit or a rebalance), and
  // briefly (a group whose offsets are held by a dead member's open transaction does not answer
  // until it times out: asked again at the next idle check, three times at most).
  if (ask_group) {
    PartitionList ask(rd_kafka_topic_partition_list_new(0));
    for (auto& [p, a] : parts_)
      if (a.committed < 0 && a.group_offset == Assigned::kNotAsked && a.group_offset_asks < 3) {
        ++a.group_offset_asks;
        rd_kafka_topic_partition_list_add(ask.get(), options_.input_topic.c_str(), p)->offset =
            RD_KAFKA_OFFSET_INVALID;
      }
    if (ask->cnt > 0 &&
        rd_kafka_committed(consumer_.get(), ask.get(), 500) == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (int i = 0; i < ask->cnt; ++i)
        if (auto it = parts_.find(ask->elems[i].partition);
            it != parts_.end() && ask->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
          it->second.group_offset = ask->elems[i].offset;
  }
  for (auto& [p, a] : parts_) {
    if (a.state) metrics_.store_bytes(p).Set(static_cast<double>(a.state->approximate_size()));
    std::int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), options_.input_topic.c_str(), p, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0)
      continue;
    // The position moves past a transaction's commit marker once the consumer polls it, so an
    // idle partition of a transactional input reads 0 (and, once step_over_markers() has
    // committed that position, so do Kafka's own lag tools).
    PartitionList one(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(one.get(), options_.input_topic.c_str(), p);
    std::int64_t from = -1;
    if (rd_kafka_position(consumer_.get(), one.get()) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        one->elems[0].offset >= 0)
      from = one->elems[0].offset;
    else if (a.committed >= 0)
      from = a.committed;
    else if (hi == lo)  // empty
      from = hi;
    else if (a.group_offset >= 0)
      from = a.group_offset;
    else if (a.group_offset == RD_KAFKA_OFFSET_INVALID)  // none: read from the earliest
      from = lo;
    if (from >= 0) metrics_.lag(p).Set(static_cast<double>(std::max<std::int64_t>(0, hi - from)));
  }
}

std::size_t StreamTask::queued_records() const {
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer_.get());
  if (!queue) return 0;
  const std::size_t n = rd_kafka_queue_length(queue);
  rd_kafka_queue_destroy(queue);
  return n;
}

Status StreamTask::run_clients(const std::atomic<bool>& stop) {
  {
    Heartbeat::Waiting waiting(heart_, "start its Kafka clients");
    DIGONCE_TRY(start());
  }
  heart_.clients_up = true;
  last_commit_ms_ = now_ms();
  Status result;
  while (!stop.load() && fatal_.ok()) {
    heart_.beat();
    if (injected_fatal_.load(std::memory_order_relaxed) != RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_test_fatal_error(producer_.get(),
                                injected_fatal_.exchange(RD_KAFKA_RESP_ERR_NO_ERROR),
                                "injected by a test");
    auto now = now_ms();
    if (commit_due(options_, pending_records_, now - last_commit_ms_,
                   [this] { return queued_records(); })) {
      result = commit();
      if (!result.ok()) break;
      continue;
    }
    // Once a second; if idle (nothing polled since the last time, nothing pending): the lag
    // gauges, and the markers stepped over.
    if (now - last_idle_check_ms_ >= kIdleCheckMs) {
      const bool idle = pending_records_ == 0 && !polled_since_idle_check_;
      last_idle_check_ms_ = now;
      polled_since_idle_check_ = false;
      if (idle) {
        if (transactional_ && !stop.load()) {
          result = step_over_markers();
          if (!result.ok()) break;
        }
        update_lag(true);
      }
    }
    // (At most a second: the loop turns, and beats, at least that often.)
    int wait = pending_records_ > 0
                   ? static_cast<int>(std::clamp<std::int64_t>(
                         options_.commit_interval_ms - (now - last_commit_ms_), 0, 1000))
                   : 100;
    Message m(rd_kafka_consumer_poll(consumer_.get(), 0));
    if (!m && wait > 0) {
      // Nothing fetched is waiting: send the changelog written so far now, while the
      // transaction is open, so that its partition joins the transaction and its records are
      // acknowledged before the commit, which then has only the rest to wait for (a round trip
      // or two less at every commit: the latency of each hop).
      if (transactional_ && pending_records_ > 0) {
        for (auto& [p, a] : parts_)
          if (a.state && a.state->has_new_writes())
            if (result = a.state->log_new_writes(producer_.get(), options_.changelog_topic, p);
                !result.ok())
              break;
        // As for an output's produce (handle): a refused produce ends this run of the clients;
        // run() starts them over, and the store's pending writes with them.
        if (!result.ok()) break;
      }
      m.reset(rd_kafka_consumer_poll(consumer_.get(), wait));
    }
    if (!m) continue;
    polled_since_idle_check_ = true;
    if (m->err) {
      if (authorization_error(m->err)) {
        // The input topic or the consumer group refused by an ACL: nothing would ever come.
        result = Error{{},
                       options_.name + ": consumer of " + options_.input_topic + " in group " +
                           options_.group_id + ": " + rd_kafka_message_errstr(m.get()) +
                           kafka_error_hint(m->err),
                       true};
        break;
      }
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        spdlog::warn("{}: consumer: {}", options_.name, rd_kafka_message_errstr(m.get()));
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char reason[512];
        rd_kafka_fatal_error(consumer_.get(), reason, sizeof reason);
        result = error(options_.name + ": fatal consumer error: " + reason);
        break;
      }
      continue;
    }
    result = handle(m.get());
    if (!result.ok()) break;
  }
  if (!fatal_.ok() && result.ok()) result = fatal_;
  if (result.ok()) result = commit();
  return result;
}

rd_kafka_resp_err_t StreamTask::fatal_error(std::string* reason) const {
  char buf[512] = "";
  for (const auto* h : {&producer_, &consumer_}) {
    if (!*h) continue;
    if (auto err = rd_kafka_fatal_error(h->get(), buf, sizeof buf)) {
      if (reason) *reason = buf;
      return err;
    }
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void StreamTask::teardown(bool clean) {
  if (consumer_) {
    tearing_down_ = !clean;
    // A static member stays in its group: its partitions wait for it (session.timeout.ms).
    if (options_.group_instance_id.empty())
      spdlog::info("{}: leaving the group", options_.name);
    else
      spdlog::info(
          "{}: closing; as static member {} it keeps its partitions until its session "
          "ends (a restart within it takes them back at once)",
          options_.name, options_.group_instance_id);
    Heartbeat::Waiting waiting(heart_, "leave its group");
    rd_kafka_consumer_close(consumer_.get());  // revokes (and, if clean, commits) what we own
    tearing_down_ = false;
  }
  for (auto& [p, a] : parts_) metrics_.forget(p);
  parts_.clear();  // stores closed; writes of an uncommitted transaction are dropped
  metrics_.assigned.Set(0);
  assigned_count_ = 0;
  heart_.clients_up = false;
  heart_.joined = false;
  heart_.beat();
  if (consumer_) forget_session_timeouts(consumer_.get());
  consumer_.reset();
  restorer_.reset();
  topics_.clear();  // topic handles before their producer
  producer_.reset();
  pending_records_ = 0;
  pending_dead_lettered_ = 0;
  pending_timestamps_.clear();
  delivery_failed_ = false;
  aborts_in_a_row_ = 0;
  fatal_ = {};
}

Status StreamTask::run(const std::atomic<bool>& stop) {
  // A fatal Kafka error other than fencing (a transaction the coordinator aborted while the
  // broker was away: INVALID_TXN_STATE), or any other error of a task that had started, ends
  // only this life of the clients: the task starts over with new ones, as a process restart
  // would, and gives up after kMaxRestarts tries in a row that commit nothing. Fencing stops the
  // instance (a newer one with the same transactional id owns the work now).
  constexpr int kMaxRestarts = 10;
  int tries = 0;
  stop_ = &stop;
  bind_heartbeat_to_this_thread(&heart_);
  struct Unbind {
    ~Unbind() { bind_heartbeat_to_this_thread(nullptr); }
  } unbind;
  for (;;) {
    // Commits are counted by the metric; restarts in a row are those that added none.
    auto commits_before = metrics_.committed.Value();
    Status result = run_clients(stop);
    std::string reason;
    auto fatal = fatal_error(&reason);
    // Whether this life's consumer lost its group session lately (asked before teardown, which
    // ends the consumer): see the FENCED_INSTANCE_ID case below.
    const bool session_lost =
        (consumer_ && session_timed_out_within(consumer_.get(), std::chrono::seconds(60))) ||
        (assignment_lost_at_ &&
         std::chrono::steady_clock::now() - *assignment_lost_at_ < std::chrono::seconds(60));
    bool clean = result.ok();
    if (!clean) spdlog::error("{}: {}", options_.name, result.error().what());
    // How long the transaction the error ended had been open (0 s if it had no record).
    const double open_s =
        txn_first_record_
            ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *txn_first_record_)
                  .count()
            : 0.0;
    teardown(clean);
    if (clean || stop.load()) return result;
    if (fatal == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID) {
      // A static member whose session timed out (the broker away) rejoins under its instance
      // id, and the broker may then fence what the old member still sends: librdkafka fences
      // itself (librdkafka#3437). Within a minute of a session timeout or a lost assignment
      // that is what happened, and new clients take the partitions back; otherwise another
      // instance has taken the id (whose consumer is fenced at once, with no timeout).
      if (!session_lost)
        return error(result.error().what() + " (fenced: another instance with group instance id " +
                     options_.group_instance_id + " has joined; this one stops)");
      spdlog::warn(
          "{}: fenced by its own rejoin after its group session timed out (librdkafka#3437), "
          "not by another instance",
          options_.name);
    }
    if (fatal == RD_KAFKA_RESP_ERR__FENCED || fatal == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
        fatal == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
      // The broker fences a producer whose transaction outlived transaction.timeout.ms too (it
      // aborts the transaction and bumps the epoch): after the process was paused or stalled,
      // or the broker away, nobody has taken over, and stopping would leave its partitions
      // unserved. Start over, as after any other fatal error; the new clients fence nothing but
      // this instance's old epoch. A fence within the timeout is another instance with this
      // transactional id.
      if (open_s * 1000 < kTransactionTimeoutMs)
        return error(result.error().what() + " (fenced: another instance with transactional id " +
                     options_.transactional_id + " has taken over; this one stops)");
      spdlog::warn(
          "{}: fenced after its transaction had been open {:.1f} s, longer than "
          "transaction.timeout.ms ({} s): the broker aborted it (the process was paused or "
          "stalled, or the broker away); nobody took over",
          options_.name, open_s, kTransactionTimeoutMs / 1000);
    }
    // An error before the first start succeeded (a wrong broker address, say) is the
    // operator's to fix, as is one no restart mends (a setting the stored state refuses).
    if (!started_ || result.error().permanent) return result;
    if (metrics_.committed.Value() > commits_before) tries = 0;
    if (++tries > kMaxRestarts)
      return error(result.error().what() + " (gave up after " + std::to_string(kMaxRestarts) +
                   " restarts in a row that committed nothing)");
    auto pause = std::chrono::seconds(std::min(30, 1 << std::min(tries - 1, 5)));
    spdlog::warn("{}: {}; starting over with new Kafka clients in {} s (restart {} of at most {})",
                 options_.name,
                 fatal != RD_KAFKA_RESP_ERR_NO_ERROR ? "fatal Kafka error: " + reason
                                                     : result.error().what(),
                 pause.count(), tries, kMaxRestarts);
    metrics_.restarts.Increment();
    for (auto until = std::chrono::steady_clock::now() + pause;
         !stop.load() && std::chrono::steady_clock::now() < until;) {
      heart_.beat();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (stop.load()) return {};
  }
}

}  // namespace digonce::streams
