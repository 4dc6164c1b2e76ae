#include "services/pipeline.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>

#include "geo/tiles.h"
#include "services/detector_stage.h"
#include "services/ingest.h"
#include "streams/partition_state.h"

namespace digonce::services {

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::Ingest:
      return "ingest";
    case Stage::Detector:
      return "detector";
    case Stage::Ledger:
      return "ledger";
  }
  return "?";
}

std::vector<streams::TopicSpec> topic_specs(const Settings& s) {
  // Every topic takes records of up to 10 MiB (the broker's default is 1 MiB): a submission may be
  // 8 MiB, and a work of 100,000 vertices (detection.max_vertices) is ~1.6 MiB in works.tiled and
  // the detector's changelog and ~4 MiB of JSON in works.current. The producers' own bound is
  // message.max.bytes 10,000,000 (streams/kafka.cc).
  const std::pair<const std::string, std::string> big = {"max.message.bytes", "10485760"};
  const std::map<std::string, std::string> compact = {
      {"cleanup.policy", "compact"}, {"min.compaction.lag.ms", "60000"}, big};
  // Changelogs: compacted, tombstones kept a week so that a store restored from a checkpoint up
  // to six days old still sees its deletes (an older one is rebuilt: partition_state.h).
  const std::map<std::string, std::string> changelog = {
      {"cleanup.policy", "compact"},
      {"delete.retention.ms", std::to_string(streams::kChangelogTombstoneRetentionMs)},
      big};
  const std::map<std::string, std::string> keep_week = {{"retention.ms", "604800000"}, big};
  int n = s.partitions, r = s.replication;
  return {
      {s.topic("works.submitted"), n, r, keep_week},
      {s.topic("works.rejected"), n, r, keep_week},
      {s.topic("works.tiled"), n, r, keep_week},
      {s.topic("works.current"), n, r, compact},
      {s.topic("pairs"), n, r, keep_week},
      {s.topic("alerts"), s.alerts_partitions, r, compact},
      {s.topic("ingest-changelog"), n, r, changelog},
      {s.topic("detector-changelog"), n, r, changelog},
      {s.topic("ledger-changelog"), n, r, changelog},
      {s.topic("dead-letter"), 1, r, keep_week},
      {s.topic("notifications.dead"), 1, r, keep_week},
  };
}

std::filesystem::path stage_lock_path(const std::string& data_dir, Stage stage) {
  return std::filesystem::path(data_dir) / (std::string(stage_name(stage)) + ".lock");
}

Result<FolderLock> FolderLock::acquire(const std::string& path, std::string_view advice) {
  std::error_code ec;
  const auto folder = std::filesystem::path(path).parent_path();
  if (!folder.empty() && !std::filesystem::create_directories(folder, ec) && ec)
    return error("cannot create the data folder " + folder.string() + ": " + ec.message());
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error("cannot open " + path + ": " + std::generic_category().message(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    ::close(fd);
    std::string holder;
    std::ifstream(path) >> holder;
    if (why == EWOULDBLOCK) {
      return error(path + " is held by another running digonce" +
                   (holder.empty() ? std::string() : " (pid " + holder + ")") + ": " +
                   (advice.empty() ? std::string("two instances of a stage must not share a data "
                                                 "folder (they would share state and a "
                                                 "transactional id); give each its own --data-dir")
                                   : std::string(advice)));
    }
    return error("cannot lock " + path + ": " + std::generic_category().message(why));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0)
    spdlog::debug("could not write the pid into {}", path);  // the lock holds all the same
  return FolderLock(fd);
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

std::string instance_id(const Settings& s) {
  if (!s.instance_id.empty()) return s.instance_id;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::error_code ec;
  auto dir = std::filesystem::weakly_canonical(s.data_dir, ec).string();
  auto h = static_cast<std::uint32_t>(geo::kafka_murmur2(dir));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return std::string(host) + "-" + buf;
}

struct Pipeline::Running {
  Stage stage;
  std::unique_ptr<streams::ProcessorFactory> factory;
  std::unique_ptr<streams::StreamTask> task;
  std::thread thread;
  int partitions = 0;  // of the input topic
  Status result;
  std::mutex mu;
};

Pipeline::Pipeline(const Settings& settings, prometheus::Registry& registry, bool exactly_once)
    : settings_(settings), registry_(registry), exactly_once_(exactly_once) {}

Pipeline::~Pipeline() {
  stop();
}

Status Pipeline::lock(const std::vector<Stage>& stages) {
  for (Stage stage : stages) {
    if (locks_.contains(stage)) continue;
    auto lock = FolderLock::acquire(stage_lock_path(settings_.data_dir, stage).string());
    if (!lock) return lock.error();
    locks_.emplace(stage, std::move(*lock));
  }
  return {};
}

Status Pipeline::start(const std::vector<Stage>& stages) {
  auto count = [&](const std::string& topic) {
    return streams::partition_count(settings_.brokers, settings_.topic(topic));
  };
  auto submitted = count("works.submitted");
  if (!submitted) return submitted.error();
  auto tiled = count("works.tiled");
  if (!tiled) return tiled.error();
  auto pairs = count("pairs");
  if (!pairs) return pairs.error();
  const std::string id = instance_id(settings_);

  DIGONCE_TRY(lock(stages));

  for (Stage stage : stages) {
    auto r = std::make_unique<Running>();
    r->stage = stage;
    streams::TaskOptions o;
    o.name = stage_name(stage);
    o.brokers = settings_.brokers;
    o.data_dir = settings_.data_dir;
    o.commit_interval_ms = settings_.commit_interval_ms;
    o.max_commit_interval_ms = settings_.max_commit_interval_ms;
    o.max_batch = settings_.max_batch;
    o.linger_ms = settings_.linger_ms;
    o.fetch_min_bytes = settings_.fetch_min_bytes;
    o.dead_letter_topic = settings_.topic("dead-letter");
    o.changelog_topic = settings_.topic(o.name + "-changelog");
    o.group_id = settings_.topic_prefix + o.name;
    if (exactly_once_) o.transactional_id = settings_.topic_prefix + o.name + "-" + id;
    if (exactly_once_ && settings_.static_membership) o.group_instance_id = o.transactional_id;
    switch (stage) {
      case Stage::Ingest:
        o.input_topic = settings_.topic("works.submitted");
        o.output_topics = {o.input_topic, settings_.topic("works.tiled"),
                           settings_.topic("works.current"), settings_.topic("works.rejected")};
        r->factory = std::make_unique<IngestFactory>(settings_, *submitted, *tiled, registry_);
        break;
      case Stage::Detector:
        o.input_topic = settings_.topic("works.tiled");
        o.output_topics = {settings_.topic("pairs")};
        r->factory = std::make_unique<DetectorFactory>(settings_, *tiled, *pairs, registry_);
        break;
      case Stage::Ledger:
        o.input_topic = settings_.topic("pairs");
        o.output_topics = {settings_.topic("alerts")};
        r->factory = std::make_unique<LedgerFactory>(settings_, registry_);
        break;
    }
    r->partitions = stage == Stage::Ingest     ? *submitted
                    : stage == Stage::Detector ? *tiled
                                               : *pairs;
    r->task = std::make_unique<streams::StreamTask>(o, *r->factory, registry_);
    Running* raw = r.get();
    r->thread = std::thread([this, raw] {
      Status s = raw->task->run(stop_);
      {
        std::lock_guard lock(raw->mu);
        raw->result = s;
      }
      if (!stop_.load()) {
        spdlog::error("stage {} ended: {}", stage_name(raw->stage),
                      s.ok() ? std::string("without error") : s.error().what());
        failed_ = true;
      }
    });
    running_.push_back(std::move(r));
  }
  return {};
}

void Pipeline::stop() {
  stop_ = true;
  for (auto& r : running_)
    if (r->thread.joinable()) r->thread.join();
}

bool Pipeline::ready() const {
  for (const auto& r : running_)
    if (r->task->assigned_partitions() < r->partitions) return false;
  return !running_.empty();
}

std::vector<streams::LoopHealth> Pipeline::health() const {
  std::vector<streams::LoopHealth> loops;
  for (const auto& r : running_) loops.push_back(r->task->health());
  return loops;
}

Status Pipeline::status() const {
  for (const auto& r : running_) {
    std::lock_guard lock(r->mu);
    if (!r->result.ok()) return r->result;
  }
  return {};
}

}  // namespace digonce::services
