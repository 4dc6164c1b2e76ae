#include "geo/alert_ledger.h"

#include <cmath>

#include "base/varint.h"
#include "store/keys.h"

namespace digonce::geo {
namespace {

constexpr std::uint8_t kNoKind = 0xff;

// The content of an alert: the fact that last opened or updated it, without sequence numbers.
// What an alert shows of a pair: its figures as the alert's JSON writes them (distance_m to the
// millimetre, the location to 7 decimals), so that a change below what anyone can see (the same
// pair measured the other way round, rounding in a reprojection) is not announced as an update.
std::string content_of(const PairFact& f) {
  PairFact c = f;
  c.seq_a = c.seq_b = 0;
  auto shown = [](double v, double scale) { return std::round(v * scale) / scale; };
  c.distance_m = shown(c.distance_m, 1e3);
  c.lon = shown(c.lon, 1e7);
  c.lat = shown(c.lat, 1e7);
  std::string out;
  encode_fact(c, out);
  return out;
}

Alert alert_from(const PairFact& f) {
  Alert a;
  a.alert_id = make_alert_id(f.kind, f.a.ref, f.b.ref);
  a.kind = f.kind;
  a.a = f.a;
  a.b = f.b;
  a.distance_m = f.distance_m;
  a.gap = f.gap;
  a.lon = f.lon;
  a.lat = f.lat;
  a.authorities = f.authorities;
  return a;
}

}  // namespace

struct AlertLedger::PairState {
  std::uint64_t seq_a = 0;
  std::uint64_t seq_b = 0;
  std::uint8_t open_kind = kNoKind;
  bool held = false;  // the pair has a record (a fact about it was applied before)
};

Result<AlertLedger::PairState> AlertLedger::load_pair(const std::string& key) const {
  auto v = store_.get(family_, key);
  if (!v) return v.error();
  PairState s;
  if (!*v) return s;
  const std::string& b = **v;
  if (b.size() != 17) return error("corrupt ledger pair record");
  s.seq_a = store::get_u64_be(b, 0);
  s.seq_b = store::get_u64_be(b, 8);
  s.open_kind = static_cast<std::uint8_t>(b[16]);
  s.held = true;
  return s;
}

// "a" record: revision (4) + state (1) + content (an encoded fact).
Result<std::optional<Alert>> AlertLedger::load_alert(const std::string& id) const {
  auto v = store_.get(family_, "a" + id);
  if (!v) return v.error();
  if (!*v) return std::optional<Alert>();
  const std::string& b = **v;
  PairFact f;
  if (b.size() < 5 || !decode_fact(std::string_view(b).substr(5), f))
    return error("corrupt alert record " + id);
  Alert a = alert_from(f);
  a.alert_id = id;
  a.revision = store::get_u32_be(b, 0);
  a.state = static_cast<AlertState>(b[4]);
  return std::optional<Alert>(std::move(a));
}

void AlertLedger::save_alert(const Alert& a, store::WriteBatch& batch) const {
  PairFact f;
  f.a = a.a;
  f.b = a.b;
  f.related = true;
  f.kind = a.kind;
  f.distance_m = a.distance_m;
  f.gap = a.gap;
  f.lon = a.lon;
  f.lat = a.lat;
  f.authorities = a.authorities;
  std::string v;
  store::put_u32_be(v, a.revision);
  v.push_back(static_cast<char>(a.state));
  encode_fact(f, v);
  batch.put(family_, "a" + a.alert_id, v);
}

Status AlertLedger::apply(const PairFact& fact, std::vector<Alert>& out) {
  ++stats_.facts;
  const std::string key = "p" + pair_key(fact.a.ref, fact.b.ref);
  auto loaded = load_pair(key);
  if (!loaded) return loaded.error();
  PairState state = *loaded;
  if (fact.seq_a + fact.seq_b < state.seq_a + state.seq_b) {
    ++stats_.stale_facts;
    return {};
  }
  state.seq_a = fact.seq_a;
  state.seq_b = fact.seq_b;
  store::WriteBatch batch;
  std::size_t emitted = out.size();

  auto close = [&](AlertKind kind, std::optional<AlertKind> now) -> Status {
    auto old = load_alert(make_alert_id(kind, fact.a.ref, fact.b.ref));
    if (!old) return old.error();
    if (!*old) return error("ledger: open alert without a record");
    Alert a = std::move(**old);
    a.state = AlertState::Closed;
    ++a.revision;
    a.reason = describe_close(a, fact.cause, fact.cause_ref, now);
    save_alert(a, batch);
    out.push_back(std::move(a));
    return {};
  };

  if (fact.related) {
    Alert next = alert_from(fact);
    // Alert records are only written with their pair's record (below), so a pair without one
    // has none: a new pair, the common case, costs one read instead of two.
    std::optional<Alert> previous;
    if (state.held) {
      auto loaded_alert = load_alert(next.alert_id);
      if (!loaded_alert) return loaded_alert.error();
      previous = std::move(*loaded_alert);
    }
    if (state.open_kind == static_cast<std::uint8_t>(fact.kind)) {
      if (!previous) return error("ledger: open alert without a record");
      const Alert& prev = *previous;
      // Unchanged content: nothing to say.
      std::string prev_content;
      {
        PairFact p;
        p.a = prev.a;
        p.b = prev.b;
        p.related = true;
        p.kind = prev.kind;
        p.distance_m = prev.distance_m;
        p.gap = prev.gap;
        p.lon = prev.lon;
        p.lat = prev.lat;
        p.authorities = prev.authorities;
        prev_content = content_of(p);
      }
      if (prev_content != content_of(fact)) {
        next.state = AlertState::Updated;
        next.revision = prev.revision + 1;
        next.reason = describe(next);
        save_alert(next, batch);
        out.push_back(std::move(next));
      }
    } else {
      if (state.open_kind != kNoKind)
        DIGONCE_TRY(close(static_cast<AlertKind>(state.open_kind), fact.kind));
      next.state = AlertState::Open;
      next.revision = previous ? previous->revision + 1 : 1;
      next.reason = describe(next);
      save_alert(next, batch);
      out.push_back(std::move(next));
      state.open_kind = static_cast<std::uint8_t>(fact.kind);
    }
  } else if (state.open_kind != kNoKind) {
    DIGONCE_TRY(close(static_cast<AlertKind>(state.open_kind), std::nullopt));
    state.open_kind = kNoKind;
  }

  std::string v;
  store::put_u64_be(v, state.seq_a);
  store::put_u64_be(v, state.seq_b);
  v.push_back(static_cast<char>(state.open_kind));
  batch.put(family_, key, v);
  stats_.alerts += out.size() - emitted;
  return store_.write(batch);
}

Result<std::optional<Alert>> AlertLedger::find(const std::string& alert_id) const {
  return load_alert(alert_id);
}

Status AlertLedger::for_each_open(const std::function<void(const Alert&)>& visit) const {
  Status failed;
  auto status = store_.scan(family_, "a", [&](std::string_view k, std::string_view) {
    auto a = load_alert(std::string(k.substr(1)));
    if (!a) {
      failed = a.error();
      return false;
    }
    if (*a && (*a)->state != AlertState::Closed) {
      (*a)->reason = describe(**a);
      visit(**a);
    }
    return true;
  });
  DIGONCE_TRY(status);
  return failed;
}

Status AlertLedger::for_each_open_pair(
    const std::function<Status(std::string_view a, std::string_view b)>& visit) const {
  Status failed;
  auto status = store_.scan(family_, "p", [&](std::string_view k, std::string_view v) {
    auto split = k.find('\n');
    if (v.size() != 17 || split == std::string_view::npos) {
      failed = error("corrupt ledger pair record");
      return false;
    }
    if (static_cast<std::uint8_t>(v[16]) == kNoKind) return true;
    failed = visit(k.substr(1, split - 1), k.substr(split + 1));
    return failed.ok();
  });
  DIGONCE_TRY(status);
  return failed;
}

}  // namespace digonce::geo
