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
};

Result<AlertLedger::PairState> AlertLedger::load_pair(std::string_view key, std::string_view ref_a,
                                                      std::string_view ref_b) const {
  auto v = store_.get(family_, key);
  if (!v) return v.error();
  if (*v) return decode_pair(**v, ref_a, ref_b);
  // No record of its own: the pair's record may be in the group of the work that came second.
  for (auto [owner, partner] : {std::pair{ref_a, ref_b}, std::pair{ref_b, ref_a}}) {
    auto entry = group_entry(owner, partner);
    if (!entry) return entry.error();
    if (*entry) return decode_pair(**entry, ref_a, ref_b);
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

void AlertLedger::begin_group(std::string_view owner) {
  grouping_ = true;
  group_owner_.assign(owner);
  group_.clear();
  group_pairs_ = 0;
}

Status AlertLedger::end_group() {
  grouping_ = false;
  if (group_pairs_ == 0) return {};
  group_pairs_ = 0;
  std::string key;
  group_key(group_owner_, key);
  batch_.clear();
  batch_.put(family_, key, group_);
  return store_.write(batch_);
}

void AlertLedger::save_pair(std::string_view key, const PairState& s, const Alert* open,
                            std::string_view group_partner, store::WriteBatch& batch) {
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
  // A new pair of the group's owner goes into the group while it has room. (The key ends with
  // the refs: "p" ref_a "\n" ref_b.)
  std::string_view group_partner;
  if (grouping_ && new_pair && group_pairs_ < kGroupMaxPairs) {
    if (fact.a.ref == group_owner_)
      group_partner = key.substr(key.size() - fact.b.ref.size());
    else if (fact.b.ref == group_owner_)
      group_partner = key.substr(1, fact.a.ref.size());
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

  save_pair(key, state, opened ? &out[*opened] : open, group_partner, batch);
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
  // Then the pairs in group records that have no record of their own (a pair's own record,
  // once written, is the one that counts: it was read above).
  std::string own_key;
  status = store_.scan(family_, "g", [&](std::string_view k, std::string_view group) {
    const std::string_view owner = k.substr(1);
    const bool intact = for_each_entry(group, [&](std::string_view partner, std::string_view v) {
      if (v.size() < kPairHeadSize) {
        failed = error("corrupt ledger group record of " + std::string(owner));
        return false;
      }
      if (static_cast<std::uint8_t>(v[16]) == kNoKind) return true;
      const std::string_view a = std::min(owner, partner), b = std::max(owner, partner);
      record_key(a, b, own_key);
      auto own = store_.get(family_, own_key);
      if (!own) {
        failed = own.error();
        return false;
      }
      if (*own) return true;
      failed = visit(a, b, v);
      return failed.ok();
    });
    if (!intact) failed = error("corrupt ledger group record of " + std::string(owner));
    return failed.ok();
  });
  DIGONCE_TRY(status);
  return failed;
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
