#include "geo/alert_ledger.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/varint.h"
#include "geo/rules.h"
#include "store/keys.h"

namespace digonce::geo {
namespace {

constexpr std::uint8_t kNoKind = 0xff;

// Debug builds read the record of a pair the caller says is new, and fail if there is one.
#ifdef NDEBUG
constexpr bool kCheckNewPairs = false;
#else
constexpr bool kCheckNewPairs = true;
#endif

// The content of an alert: the fact that last opened or updated it, without sequence numbers.
// What an alert shows of a pair: its figures as the alert's JSON writes them (distance_m to the
// millimetre, the location to 7 decimals), so that a change below what anyone can see (the same
// pair measured the other way round, rounding in a reprojection) is not announced as an update.
// (An alert and the related fact it came from have the same fields under the same names.)
template <class AlertOrFact>
std::string content_of(const AlertOrFact& f) {
  auto shown = [](double v, double scale) { return std::round(v * scale) / scale; };
  std::string out;
  encode_related_fact(f.a, f.b, 0, 0, f.kind, shown(f.distance_m, 1e3), f.gap, shown(f.lon, 1e7),
                      shown(f.lat, 1e7), f.authorities, out);
  return out;
}

// What a pair record keeps of its open alert: the related fact it shows, without sequence
// numbers (encode_fact's bytes, read back by decode_fact).
void encode_open_alert(const Alert& a, std::string& out) {
  encode_related_fact(a.a, a.b, 0, 0, a.kind, a.distance_m, a.gap, a.lon, a.lat, a.authorities,
                      out);
}

Alert alert_from(PairFact&& f) {
  Alert a;
  a.alert_id = make_alert_id(f.kind, f.a.ref, f.b.ref);
  a.kind = f.kind;
  a.a = std::move(f.a);
  a.b = std::move(f.b);
  a.distance_m = f.distance_m;
  a.gap = f.gap;
  a.lon = f.lon;
  a.lat = f.lat;
  a.authorities = std::move(f.authorities);
  return a;
}

constexpr std::size_t kKinds = 3;
constexpr std::size_t kLegacyPairSize = 17;             // seq_a, seq_b, open kind
constexpr std::size_t kPairHeadSize = 17 + 4 * kKinds;  // ... and a revision per kind
constexpr AlertKind kAllKinds[kKinds] = {AlertKind::Clash, AlertKind::Collaboration,
                                         AlertKind::Restriction};

// A legacy "a" record: revision (4) + state (1) + content (an encoded fact).
bool decode_legacy_alert(std::string_view b, Alert& out) {
  PairFact f;
  if (b.size() < 5 || !decode_fact(b.substr(5), f)) return false;
  out = alert_from(std::move(f));
  out.revision = store::get_u32_be(b, 0);
  out.state = static_cast<AlertState>(b[4]);
  return true;
}

// The open alert kept in a pair record: state (1) + content (an encoded fact).
bool decode_open_alert(std::string_view b, std::uint32_t revision, Alert& out) {
  PairFact f;
  if (b.empty() || !decode_fact(b.substr(1), f)) return false;
  out = alert_from(std::move(f));
  out.revision = revision;
  out.state = static_cast<AlertState>(b[0]);
  return true;
}

// Calls visit(partner, record) for each entry of a group record, until it returns false; false
// if the record is damaged.
template <class Visit>
bool for_each_entry(std::string_view group, Visit&& visit) {
  std::size_t at = 0;
  while (at < group.size()) {
    std::uint64_t n = 0;
    if (!get_varint(group, at, n) || n > group.size() - at) return false;
    const std::string_view partner = group.substr(at, n);
    at += n;
    if (!get_varint(group, at, n) || n > group.size() - at) return false;
    const std::string_view record = group.substr(at, n);
    at += n;
    if (!visit(partner, record)) return true;
  }
  return true;
}

}  // namespace

struct AlertLedger::PairState {
  std::uint64_t seq_a = 0;
  std::uint64_t seq_b = 0;
  std::uint8_t open_kind = kNoKind;
  std::uint32_t revisions[kKinds] = {0, 0, 0};  // the last revision of each kind's alert
  std::optional<Alert> open;                    // the open alert (of open_kind), if any
  std::vector<std::string> legacy_alerts;       // "a" keys of an older store, to delete
  // Where the pair's record lives: 0, its "p" record; 1 or 2, in the group of its work a or b
  // (its entry there until its first change, then its own record beside the group).
  std::uint8_t grouped_by = 0;
};

Result<AlertLedger::PairState> AlertLedger::load_pair(std::string_view key, std::string_view ref_a,
                                                      std::string_view ref_b) const {
  auto v = store_.get(family_, key);
  if (!v) return v.error();
  if (*v) return decode_pair(**v, ref_a, ref_b);
  if (!groups_) return PairState{};
  // No "p" record: the pair may have been opened by the first event of one of its works, and be
  // in that work's group: its own record beside the group if it has changed since, else its
  // entry in the group. The own records first, on both sides (the read filter answers for an
  // absent one), then the groups (which mostly exist: real reads).
  auto found = [&](std::optional<std::string>& record, std::uint8_t side) -> Result<PairState> {
    if (record->size() < kPairHeadSize) return error("corrupt ledger pair record");
    auto s = decode_pair(*record, ref_a, ref_b);
    if (s) s->grouped_by = side;
    return s;
  };
  std::string own_key;
  for (std::uint8_t side = 1; side <= 2; ++side) {
    grouped_record_key(side == 1 ? ref_a : ref_b, side == 1 ? ref_b : ref_a, own_key);
    auto own = store_.get(family_, own_key);
    if (!own) return own.error();
    if (*own) return found(*own, side);
  }
  for (std::uint8_t side = 1; side <= 2; ++side) {
    auto entry = group_entry(side == 1 ? ref_a : ref_b, side == 1 ? ref_b : ref_a);
    if (!entry) return entry.error();
    if (*entry) return found(*entry, side);
  }
  return PairState{};
}

Result<std::optional<std::string>> AlertLedger::group_entry(std::string_view owner,
                                                            std::string_view partner) const {
  std::string key;
  group_key(owner, key);
  auto group = store_.get(family_, key);
  if (!group) return group.error();
  std::optional<std::string> found;
  if (!*group) return found;
  const bool intact = for_each_entry(**group, [&](std::string_view p, std::string_view record) {
    if (p != partner) return true;
    found.emplace(record);
    return false;
  });
  if (!intact) return error("corrupt ledger group record of " + std::string(owner));
  return found;
}

Result<AlertLedger::PairState> AlertLedger::decode_pair(std::string_view b, std::string_view ref_a,
                                                        std::string_view ref_b) const {
  PairState s;
  if (b.size() != kLegacyPairSize && b.size() < kPairHeadSize)
    return error("corrupt ledger pair record");
  s.seq_a = store::get_u64_be(b, 0);
  s.seq_b = store::get_u64_be(b, 8);
  s.open_kind = static_cast<std::uint8_t>(b[16]);
  if (s.open_kind != kNoKind && s.open_kind >= kKinds) return error("corrupt ledger pair record");
  if (b.size() == kLegacyPairSize) {
    // A store written before pair records held their alerts: read the pair's alert records.
    for (auto kind : kAllKinds) {
      std::string id = make_alert_id(kind, ref_a, ref_b);
      auto a = store_.get(family_, "a" + id);
      if (!a) return a.error();
      if (!*a) continue;
      Alert alert;
      if (!decode_legacy_alert(**a, alert)) return error("corrupt alert record " + id);
      const auto k = static_cast<std::size_t>(kind);
      s.revisions[k] = alert.revision;
      if (k == s.open_kind) s.open = std::move(alert);
      s.legacy_alerts.push_back("a" + id);
    }
  } else {
    for (std::size_t k = 0; k < kKinds; ++k) s.revisions[k] = store::get_u32_be(b, 17 + 4 * k);
    if (s.open_kind != kNoKind) {
      Alert alert;
      if (!decode_open_alert(b.substr(kPairHeadSize), s.revisions[s.open_kind], alert))
        return error("corrupt ledger pair record");
      s.open = std::move(alert);
    }
  }
  if (s.open_kind != kNoKind && !s.open) return error("ledger: open alert without a record");
  return s;
}

void AlertLedger::record_key(std::string_view ref_a, std::string_view ref_b, std::string& out) {
  out.assign("p");
  append_pair_key(ref_a, ref_b, out);
}

void AlertLedger::group_key(std::string_view ref, std::string& out) {
  out.assign("g");
  out.append(ref);
}

void AlertLedger::grouped_record_key(std::string_view owner, std::string_view partner,
                                     std::string& out) {
  group_key(owner, out);
  out.push_back('\n');
  out.append(partner);
}

void AlertLedger::begin_group(std::string_view owner) {
  grouping_ = groups_;
  group_owner_.assign(owner);
  group_.clear();
  group_pairs_ = 0;
}

void AlertLedger::drop_group() {
  grouping_ = false;
  group_.clear();
  group_pairs_ = 0;
}

Status AlertLedger::end_group() {
  grouping_ = false;
  if (group_pairs_ == 0) return {};
  group_pairs_ = 0;
  std::string key;
  group_key(group_owner_, key);
  if (kCheckNewPairs) {  // a group is written once: at its work's first event
    auto held = store_.get(family_, key);
    if (!held) return held.error();
    if (*held) return error("ledger: a second group record for " + group_owner_);
  }
  batch_.clear();
  batch_.put(family_, key, group_);
  return store_.write(batch_);
}

void AlertLedger::save_pair(std::string_view key, std::string_view ref_a, std::string_view ref_b,
                            const PairState& s, const Alert* open, std::string_view group_partner,
                            store::WriteBatch& batch) {
  std::string& v = value_;
  v.clear();
  store::put_u64_be(v, s.seq_a);
  store::put_u64_be(v, s.seq_b);
  v.push_back(static_cast<char>(s.open_kind));
  for (auto r : s.revisions) store::put_u32_be(v, r);
  if (open) {
    v.push_back(static_cast<char>(open->state));
    encode_open_alert(*open, v);
  }
  if (!group_partner.empty()) {  // a new pair: no legacy records
    put_varint(group_, group_partner.size());
    group_.append(group_partner);
    put_varint(group_, v.size());
    group_.append(v);
    ++group_pairs_;
    return;
  }
  if (s.grouped_by) {  // a pair of a group: its own record goes beside the group
    grouped_record_key(s.grouped_by == 1 ? ref_a : ref_b, s.grouped_by == 1 ? ref_b : ref_a,
                       own_key_);
    batch.put(family_, own_key_, v);
    return;
  }
  batch.put(family_, key, v);
  for (const auto& k : s.legacy_alerts) batch.del(family_, k);
}

Status AlertLedger::apply(PairFact fact, std::vector<Alert>& out, bool new_pair,
                          std::string_view given_key) {
  ++stats_.facts;
  if (given_key.empty()) record_key(fact.a.ref, fact.b.ref, key_);
  const std::string_view key = given_key.empty() ? std::string_view(key_) : given_key;
  PairState state;
  if (!new_pair || kCheckNewPairs) {
    auto loaded = load_pair(key, fact.a.ref, fact.b.ref);
    if (!loaded) return loaded.error();
    if (new_pair && (loaded->seq_a || loaded->seq_b))
      return error("ledger: a pair said to be new has a record: " + fact.a.ref + ", " + fact.b.ref);
    state = std::move(*loaded);
  }
  // The refs, in the key ("p" ref_a "\n" ref_b), which outlives the fact's strings.
  const std::string_view ref_a = key.substr(1, fact.a.ref.size());
  const std::string_view ref_b = key.substr(key.size() - fact.b.ref.size());
  // A new pair of the group's owner goes into the group while it has room.
  std::string_view group_partner;
  if (grouping_ && new_pair && group_pairs_ < kGroupMaxPairs) {
    if (ref_a == group_owner_)
      group_partner = ref_b;
    else if (ref_b == group_owner_)
      group_partner = ref_a;
  }
  if (fact.seq_a + fact.seq_b < state.seq_a + state.seq_b) {
    ++stats_.stale_facts;
    return {};
  }
  state.seq_a = fact.seq_a;
  state.seq_b = fact.seq_b;
  store::WriteBatch& batch = batch_;
  batch.clear();
  const std::size_t emitted = out.size();
  // The pair's open alert after this fact: the one it had, or one emitted below (out[opened]).
  const Alert* open = state.open ? &*state.open : nullptr;
  std::optional<std::size_t> opened;

  // Emits the open alert, closed (its last content, one revision more).
  auto close = [&](std::optional<AlertKind> now) {
    Alert a = std::move(*state.open);
    state.open.reset();
    open = nullptr;
    state.open_kind = kNoKind;
    a.state = AlertState::Closed;
    ++a.revision;
    state.revisions[static_cast<std::size_t>(a.kind)] = a.revision;
    // A restriction's work that has become immediate_* is exempt, however near it still is: the
    // fact says Apart (as older ledgers read it) and holds the work's new category.
    const WorkSummary& by = fact.a.ref == fact.cause_ref ? fact.a : fact.b;
    const WorkSummary& other = &by == &fact.a ? fact.b : fact.a;
    const bool exempt = fact.cause == CloseCause::Apart &&
                        exempt_from_restriction(by.kind, by.category, other.kind);
    a.reason = describe_close(a, exempt ? CloseCause::Immediate : fact.cause, fact.cause_ref, now);
    out.push_back(std::move(a));
  };
  // Emits `next`, which becomes the pair's open alert.
  auto emit = [&](Alert next, AlertState st, std::uint32_t revision) {
    next.state = st;
    next.revision = revision;
    next.reason = describe(next);
    state.revisions[static_cast<std::size_t>(next.kind)] = revision;
    state.open_kind = static_cast<std::uint8_t>(next.kind);
    opened = out.size();
    out.push_back(std::move(next));
  };

  if (fact.related) {
    if (state.open_kind == static_cast<std::uint8_t>(fact.kind)) {
      // Unchanged content: nothing to say.
      if (content_of(*state.open) != content_of(fact)) {
        const std::uint32_t revision = state.open->revision + 1;
        emit(alert_from(std::move(fact)), AlertState::Updated, revision);
      }
    } else {
      if (state.open) close(fact.kind);
      const std::uint32_t revision = state.revisions[static_cast<std::size_t>(fact.kind)] + 1;
      emit(alert_from(std::move(fact)), AlertState::Open, revision);
    }
  } else if (state.open) {
    close(std::nullopt);
  }

  save_pair(key, ref_a, ref_b, state, opened ? &out[*opened] : open, group_partner, batch);
  stats_.alerts += out.size() - emitted;
  return batch.empty() ? Status{} : store_.write(batch);
}

Status AlertLedger::scan_open_pairs(
    const std::function<Status(std::string_view a, std::string_view b, std::string_view record)>&
        visit) const {
  Status failed;
  auto status = store_.scan(family_, "p", [&](std::string_view k, std::string_view v) {
    auto split = k.find('\n');
    if ((v.size() != kLegacyPairSize && v.size() < kPairHeadSize) ||
        split == std::string_view::npos) {
      failed = error("corrupt ledger pair record");
      return false;
    }
    if (static_cast<std::uint8_t>(v[16]) == kNoKind) return true;
    failed = visit(k.substr(1, split - 1), k.substr(split + 1), v);
    return failed.ok();
  });
  DIGONCE_TRY(status);
  DIGONCE_TRY(failed);
  if (!groups_) return {};
  // Then the groups, in one pass: a group's record ("g" ref), then the own records of those of
  // its pairs that have changed since ("g" ref "\n" partner: right after it in key order, as a
  // ref holds no control character). A pair counts by its own record when it has one, else by
  // its entry.
  std::string owner;                    // the current group's work
  std::string group;                    // its record
  std::vector<std::string> superseded;  // its pairs with own records
  bool in_group = false;
  auto corrupt = [&] { return error("corrupt ledger group record of " + owner); };
  auto end_group = [&]() -> Status {
    if (!in_group) return {};
    in_group = false;
    Status st;
    const bool intact = for_each_entry(group, [&](std::string_view partner, std::string_view v) {
      if (v.size() < kPairHeadSize) {
        st = corrupt();
        return false;
      }
      if (static_cast<std::uint8_t>(v[16]) == kNoKind ||
          std::find(superseded.begin(), superseded.end(), partner) != superseded.end())
        return true;
      const std::string_view o = owner;
      st = visit(std::min(o, partner), std::max(o, partner), v);
      return st.ok();
    });
    if (!intact) return corrupt();
    return st;
  };
  status = store_.scan(family_, "g", [&](std::string_view k, std::string_view v) {
    const std::string_view rest = k.substr(1);
    const auto split = rest.find('\n');
    if (split == std::string_view::npos) {  // the next group
      failed = end_group();
      owner.assign(rest);
      group.assign(v);
      superseded.clear();
      in_group = true;
      return failed.ok();
    }
    const std::string_view o = rest.substr(0, split), partner = rest.substr(split + 1);
    if (!in_group || o != owner) {
      failed = error("ledger: a grouped pair's record without its group: " + std::string(o) + ", " +
                     std::string(partner));
      return false;
    }
    superseded.emplace_back(partner);
    if (v.size() < kPairHeadSize) {
      failed = error("corrupt ledger pair record");
      return false;
    }
    if (static_cast<std::uint8_t>(v[16]) == kNoKind) return true;
    failed = visit(std::min(o, partner), std::max(o, partner), v);
    return failed.ok();
  });
  DIGONCE_TRY(status);
  DIGONCE_TRY(failed);
  return end_group();
}

Status AlertLedger::for_each_open(const std::function<void(const Alert&)>& visit) const {
  return scan_open_pairs([&](std::string_view a, std::string_view b, std::string_view v) -> Status {
    auto s = decode_pair(v, a, b);
    if (!s) return s.error();
    Alert alert = std::move(*s->open);
    alert.reason = describe(alert);
    visit(alert);
    return {};
  });
}

Status AlertLedger::for_each_open_pair(
    const std::function<Status(std::string_view a, std::string_view b)>& visit) const {
  return scan_open_pairs(
      [&](std::string_view a, std::string_view b, std::string_view) { return visit(a, b); });
}

}  // namespace digonce::geo
