// The gateway's live views: in-memory tables of the compacted topics that the HTTP API and the
// live stream read.
//
//   works.current  (key work_ref, value = live work in EPSG:4326, null = no longer live) ->
//   WorksView alerts         (key alert_id, value = alert event, latest revision wins) ->
//   AlertsView
//
// A view is a pure table: apply(key, value) and queries, under a shared mutex, with no Kafka in
// it (so the tests drive it directly). TopicFeed is the Kafka side: one thread per topic, a
// consumer assigned every partition from the beginning (no group membership, no commits: every
// gateway instance holds the whole table), read_committed, that hands each record to a view.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "geo/shape.h"
#include "geo/timestamp.h"
#include "services/api_keys.h"
#include "streams/kafka.h"

namespace digonce::services {

/// One live work as the view holds it: what the filters need, and the JSON to answer with.
struct LiveWork {
  std::string work_ref;
  std::string promoter;
  std::string
      authority;  // highway_authority as given, "" when none (a derived one is only in json)
  geo::Envelope envelope;  // EPSG:4326
  /// The authorities whose areas the work meets (highway_authority_areas), when the record
  /// says.
  std::optional<std::vector<std::string>> areas;
  geo::Micros start = 0, end = 0;
  std::optional<std::int64_t> version;  // the version the work holds, when it has one
  std::string json;
};

/// One alert at its latest revision.
struct LiveAlert {
  std::string alert_id;
  std::string kind;
  std::string state;  // open, updated, closed
  std::int64_t revision = 0;
  std::vector<std::string> work_refs;
  std::vector<std::string> promoters;
  std::vector<std::string> authorities;  // highway_authorities, then those the works name
  std::string json;

  bool open() const { return state == "open" || state == "updated"; }
};

/// Reads a works.current value. Errors name the field.
Result<LiveWork> parse_live_work(std::string_view json);
/// Reads an alert event (the contract, section 3). Errors name the field.
Result<LiveAlert> parse_live_alert(std::string_view json);

/// What one record did to the works view: `now` null means the work is gone (`before` says what
/// it was, so that the live stream can tell whoever saw it).
struct WorkChange {
  std::string work_ref;
  std::shared_ptr<const LiveWork> now;
  std::shared_ptr<const LiveWork> before;
};

struct WorkQuery {
  std::optional<geo::Envelope> bbox;  // EPSG:4326; works whose envelope meets it
  std::optional<geo::Micros> from;    // works that end at or after it
  std::optional<geo::Micros> to;      // works that start at or before it
  const ApiKey* viewer = nullptr;     // only what this key may read; null = everything
  std::string after;                  // only work_refs after this one (paging)
  std::size_t limit = 0;              // at most this many (0: all)
};

class WorksView {
 public:
  /// `max_finished`: how many finished works' references it remembers (finished_size()).
  explicit WorksView(std::size_t max_finished = kMaxFinished) : max_finished_(max_finished) {}
  /// Applies one record of works.current (value nullopt = tombstone). Returns the change, or
  /// nullopt when nothing changed (a tombstone for a work not held); an unreadable value is an
  /// error and changes nothing.
  Result<std::optional<WorkChange>> apply(std::string_view key,
                                          std::optional<std::string_view> value);
  /// The works that match, sorted by work_ref.
  std::vector<std::shared_ptr<const LiveWork>> query(const WorkQuery& q) const;
  std::shared_ptr<const LiveWork> find(std::string_view work_ref) const;
  /// The promoter whose work `work_ref` names: the live work's, else that of the work it named
  /// when the view saw it finish (a tombstone after its record, since the view started; the
  /// topic's compaction drops the record before a tombstone, so a view started later may not
  /// know). `promoter` is empty when the view knows of no such work.
  struct Holder {
    std::string promoter;
    bool live = false;
  };
  Holder holder_of(std::string_view work_ref) const;
  std::size_t size() const;
  /// How many finished works' references the view remembers; at most max_finished, the oldest
  /// forgotten first.
  std::size_t finished_size() const;
  static constexpr std::size_t kMaxFinished = 1'000'000;  // ~150 MB at most

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<const LiveWork>, std::less<>> works_;
  // work_ref -> promoter of works that finished (cancelled, completed) while the view watched,
  // and the order they finished in (a reference may be there again, or no longer in finished_).
  struct Finished {
    std::string promoter;
    std::uint64_t seq = 0;  // its place in finished_order_
  };
  std::map<std::string, Finished, std::less<>> finished_;
  std::deque<std::pair<std::string, std::uint64_t>> finished_order_;  // (work_ref, seq)
  std::uint64_t finished_seq_ = 0;
  std::size_t max_finished_;
};

enum class StateFilter { All, Open, Closed };
/// "open" (open or updated), "closed", "all" or "" (all); nullopt for anything else.
std::optional<StateFilter> parse_state_filter(std::string_view s);

struct AlertQuery {
  StateFilter state = StateFilter::All;
  std::string authority;  // only alerts whose highway_authorities or works name it; "" = any
  const ApiKey* viewer = nullptr;
  std::string after;      // only alert_ids after this one (paging)
  std::size_t limit = 0;  // at most this many (0: all)
};

/// What one record did to the alerts view: the revision now held (null: the alert is gone) and
/// the one before it (null: new), so that the live stream can tell a key that saw the alert when
/// it moves out of the key's sight (another authority's area) or goes.
struct AlertChange {
  std::shared_ptr<const LiveAlert> now;
  std::shared_ptr<const LiveAlert> before;
};

class AlertsView {
 public:
  /// Applies one record of the alerts topic. A revision lower than the one held is stale (a
  /// replay) and changes nothing; nullopt is returned then. Value nullopt removes the alert
  /// (nullopt when none was held).
  Result<std::optional<AlertChange>> apply(std::string_view key,
                                           std::optional<std::string_view> value);
  /// The alerts that match, sorted by alert_id.
  std::vector<std::shared_ptr<const LiveAlert>> query(const AlertQuery& q) const;
  std::size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<const LiveAlert>, std::less<>> alerts_;
};

/// Whether the key may read the work / the alert (services/api_keys.h), null key = yes.
bool visible_to(const ApiKey* viewer, const LiveWork& w);
bool visible_to(const ApiKey* viewer, const LiveAlert& a);

/// Reads a whole topic, from the beginning of every partition, and hands every record to
/// `on_record` on its own thread until stop().
class TopicFeed {
 public:
  using OnRecord = std::function<void(std::string_view key, std::optional<std::string_view> value)>;

  TopicFeed(std::string brokers, std::string topic, OnRecord on_record);
  ~TopicFeed();
  TopicFeed(const TopicFeed&) = delete;
  TopicFeed& operator=(const TopicFeed&) = delete;

  void start();
  void stop();
  /// Every partition has been read to its end once (the view is as fresh as the topic).
  bool caught_up() const { return caught_up_.load(); }
  /// The consumer's error since its last record or partition end (a fetch an ACL refuses, a
  /// broker away), else "". Not `detailed`: without broker addresses and librdkafka's words.
  std::string error(bool detailed = true) const { return errors_.last(detailed); }
  const std::string& topic() const { return topic_; }

 private:
  void run();
  Status consume();

  std::string brokers_;
  std::string topic_;
  OnRecord on_record_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> caught_up_{false};
  streams::ConsumerErrorLog errors_;
  std::thread thread_;
};

}  // namespace digonce::services
