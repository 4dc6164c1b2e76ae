// The alert ledger: turns pair facts into alert revisions (open, updated, closed), one writer per
// pair, so that revisions count 1, 2, ... without gaps or repeats however many detector
// partitions report facts about the pair.
//
// Facts about one pair can come from several detector partitions, in any interleaving. Each fact
// carries the event sequence numbers (seq_a, seq_b) of the two works as the detector saw them;
// both only grow. The ledger applies a fact only when seq_a + seq_b is at least the sum it last
// applied: the fact about the latest versions of both works has the largest sum of all facts
// about the pair, so whatever the arrival order, the ledger ends on it. A fact that repeats what
// the alert already says changes nothing (no revision). See docs/ARCHITECTURE.md.
//
// State (alerts family): one record per pair, "p" refA "\n" refB -> seq_a, seq_b, the pair's
// open kind, the last revision of each kind's alert (0: never), and while an alert is open its
// state and content. One key per pair: a new pair costs one write.
// A work's first event opens pairs no record holds yet (geo::Engine knows them: new_pair), and
// writing each its own record cost RocksDB's writer a key per pair, most of an event's keys
// (docs/PERFORMANCE.md). Between begin_group(ref) and end_group(), the records of the new pairs
// of `ref` go into one record instead, "g" ref -> entries (partner ref, the pair's record), at
// most kGroupMaxPairs of them (the rest get "p" records). A group record is written once and
// never changed: a grouped pair's next write puts its own record beside the group, "g" ref "\n"
// partner, which from then on is the one read (and a scan of the groups meets it right after its
// group, so that a restart needs no look-up per pair). So a pair's record is its "p" record, or
// its own record beside the group of whichever of its works came second, or its entry in that
// group, or none (store layout 3, geo/engine.h).
// Stores written before 2026-11-30 held the alerts apart ("a" alert_id -> revision, state,
// content) beside 17-byte pair records; they are read as they are, and a pair's next write puts
// its record in the current form and deletes its "a" records.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "geo/alert.h"
#include "store/store.h"

namespace digonce::geo {

struct LedgerStats {
  std::uint64_t facts = 0;
  std::uint64_t stale_facts = 0;  // older than what the pair already reflects
  std::uint64_t alerts = 0;       // alert events emitted
};

class AlertLedger {
 public:
  /// `groups`: the store may hold group records (geo::Engine's), and begin_group() makes them.
  /// Without, a pair's record is its "p" record only: the pipeline's ledger stage, whose facts
  /// come from detectors elsewhere, makes no groups and reads none.
  AlertLedger(store::Store& store, store::Family alerts_family, bool groups = false)
      : store_(store), family_(alerts_family), groups_(groups) {}

  /// Applies a fact; appends the alert events it causes (none, one, or a close and an open).
  /// (By value: a caller done with its fact moves it, and the alert takes its strings.)
  /// `new_pair`: the caller knows the pair has no record yet (one of its works is on its first
  /// event, as `geo::Engine` knows from its detector and registry), so its record is not read.
  /// Debug builds read it anyway and fail if there is one. `key`, when given, is the pair's record
  /// key (record_key()), made by a caller that already needed it.
  Status apply(PairFact fact, std::vector<Alert>& out, bool new_pair = false,
               std::string_view key = {});

  /// The key of a pair's record in the alerts family: "p" + pair_key(ref_a, ref_b).
  static void record_key(std::string_view ref_a, std::string_view ref_b, std::string& out);
  /// The key of a work's group record: "g" + ref.
  static void group_key(std::string_view ref, std::string& out);
  /// The key of the own record of a pair of `owner`'s group, once it has changed: "g" owner
  /// "\n" partner (right after the group's key: a ref holds no control character).
  static void grouped_record_key(std::string_view owner, std::string_view partner,
                                 std::string& out);
  static constexpr std::size_t kGroupMaxPairs = 32;

  /// Until end_group(), the records of new pairs (apply's `new_pair`) with `owner` go into its
  /// group record instead of records of their own. Only for a work's first event: its group
  /// record must not exist yet (end_group() would replace it). Resets a group left open. Does
  /// nothing in a ledger without groups.
  void begin_group(std::string_view owner);
  /// Writes the group's record, if any pair went into it, and ends the group. (Debug builds
  /// fail if the work has a group record already.)
  Status end_group();
  /// Ends the group without writing it: for a caller whose event failed part way.
  void drop_group();

  /// Every alert whose current state is open or updated: those with records of their own in
  /// pair key order, then those in group records, in the groups' key order.
  Status for_each_open(const std::function<void(const Alert&)>& visit) const;
  /// The two work refs of every pair whose alert is open or updated, in the same order.
  Status for_each_open_pair(
      const std::function<Status(std::string_view a, std::string_view b)>& visit) const;

  const LedgerStats& stats() const { return stats_; }

 private:
  struct PairState;
  Result<PairState> load_pair(std::string_view key, std::string_view ref_a,
                              std::string_view ref_b) const;
  /// Puts the pair's record; `open` is its open alert after the fact, if any.
  /// Puts it in the group instead when `group_partner` (the other work of a new pair of the
  /// group's owner) is given.
  void save_pair(std::string_view key, std::string_view ref_a, std::string_view ref_b,
                 const PairState& s, const Alert* open, std::string_view group_partner,
                 store::WriteBatch& batch);
  /// A pair record of either form; the refs name the pair's "a" records in an older store.
  Result<PairState> decode_pair(std::string_view record, std::string_view ref_a,
                                std::string_view ref_b) const;
  /// The pair's record in the group of `owner`, if that group holds one.
  Result<std::optional<std::string>> group_entry(std::string_view owner,
                                                 std::string_view partner) const;
  /// Calls visit(ref_a, ref_b, record) for every pair whose alert is open (the order above).
  Status scan_open_pairs(const std::function<Status(std::string_view a, std::string_view b,
                                                    std::string_view record)>& visit) const;

  store::Store& store_;
  store::Family family_;
  bool groups_;
  LedgerStats stats_;
  // Reused by apply(): no allocation per fact once grown.
  store::WriteBatch batch_;
  std::string value_;
  std::string key_;
  std::string own_key_;
  // The group begun by begin_group(): its owner, its entries so far, how many.
  bool grouping_ = false;
  std::string group_owner_;
  std::string group_;
  std::size_t group_pairs_ = 0;
};

}  // namespace digonce::geo
