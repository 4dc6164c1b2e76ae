#include "geo/engine.h"

#include <charconv>

namespace digonce::geo {

// A key no cell key can be (a cell key's first byte is its element's level times four), as the
// detector's own records are. Its value is shorter than any work record: a digonce from
// 2026-12-01 to 2026-12-04, which knew no such key, refuses the store as holding a corrupt work
// record instead of misreading it.
const std::string Engine::kLayoutKey =
    "\xff"
    "layout";

namespace {

DetectorOptions without_markers(DetectorOptions o) {
  o.markers = false;
  return o;
}

}  // namespace

Engine::Engine(store::Store& store, const DetectorOptions& options, Geos& geos, Locator& locator)
    : store_(store),
      filtered_(store, {{kWorksFamily, "r"}, {kAlertsFamily, "p"}, {kAlertsFamily, "g"}}),
      registry_(filtered_, kWorksFamily),
      detector_(store, {kWorksFamily, kCellsFamily, kAlertsFamily}, without_markers(options), geos,
                locator),
      ledger_(filtered_, kAlertsFamily, /*groups=*/true) {}

Result<Engine::LayoutRecord> Engine::read_layout() const {
  auto held = store_.get(kCellsFamily, kLayoutKey);
  if (!held) return held.error();
  LayoutRecord record;
  if (!*held) return record;
  record.text = std::move(**held);
  int layout = 0;
  const char* end_of_text = record.text.data() + record.text.size();
  auto [end, ec] = std::from_chars(record.text.data(), end_of_text, layout);
  const bool number = ec == std::errc() && end == end_of_text;
  record.kind = !number || layout < 1 ? LayoutRecord::Damaged
                : layout > kLayout    ? LayoutRecord::Newer
                                      : LayoutRecord::Readable;
  return record;
}

Error Engine::layout_error(const LayoutRecord& record) {
  Error e = error(record.kind == LayoutRecord::Newer
                      ? "the store was written by a newer digonce (store layout " + record.text +
                            "; this one reads layouts 1 to " + std::to_string(kLayout) + ")"
                      : "the store's layout record holds \"" + record.text +
                            "\", which no digonce writes: the folder is damaged, or not a "
                            "digonce store");
  e.permanent = true;  // no retry mends it
  return e;
}

Status Engine::check_layout() const {
  auto record = read_layout();
  if (!record) return record.error();
  if (record->kind != LayoutRecord::Readable) return layout_error(*record);
  return {};
}

Status Engine::open() {
  auto record = read_layout();
  if (!record) return record.error();
  if (record->kind != LayoutRecord::Readable) return layout_error(*record);
  DIGONCE_TRY(detector_.open());
  DIGONCE_TRY(filtered_.load());
  DIGONCE_TRY(ledger_.for_each_open_pair(
      [&](std::string_view a, std::string_view b) { return detector_.restore_partner(a, b); }));
  // Stores written before 2026-11-30 also hold the detector's markers ("m" keys), now implied by
  // the ledger's open pairs: drop them, or they would outlive their pairs.
  store::WriteBatch batch;
  DIGONCE_TRY(store_.scan(kAlertsFamily, "m", [&](std::string_view k, std::string_view) {
    batch.del(kAlertsFamily, k);
    return true;
  }));
  // Recorded once the store is in this layout (open() has moved any older one).
  const std::string layout = std::to_string(kLayout);
  if (record->text != layout) batch.put(kCellsFamily, kLayoutKey, layout);
  return batch.empty() ? Status{} : store_.write(batch);
}

Status Engine::apply(const WorkEvent& e, std::vector<Alert>& out) {
  ++stats_.events;
  // The detector's look-up of the work and the registry's read each start with a cache miss at
  // a million works; started together, they overlap.
  detector_.prefetch(e.work_ref);
  // The event's order. A live work's is in its cell record (the detector holds its seq and
  // version), so an event that leaves the work live writes no registry record: one key fewer
  // for nearly every event. The registry records the works that are not live (finished, or
  // never placed), whose versions must still make older events stale.
  Admission admission;
  if (auto held = detector_.held(e.work_ref)) {
    // The contract: an event whose version is lower than the one held is stale.
    if (e.version && held->version && *e.version < *held->version) {
      ++stats_.stale;
      return {};
    }
    admission.seq = held->seq + 1;
    admission.version = e.version ? e.version : held->version;
    if (!held->version) {
      // A store written before 2026-12-05 kept the version an unversioned event inherited in
      // the registry's record only (the filter answers for the others without a read). An
      // event with a version may be stale against it; one without inherits it, so that the
      // cell record, or the registry's record if the work finishes, carries it on.
      auto checked = registry_.check(e);
      if (!checked) return checked.error();
      if (checked->stale) {
        ++stats_.stale;
        return {};
      }
      admission.version = checked->version;
    }
  } else {
    auto checked = registry_.check(e);
    if (!checked) return checked.error();
    if (checked->stale) {
      ++stats_.stale;
      return {};
    }
    admission = std::move(*checked);
  }
  const WorkEvent* applied = &e;
  if (!Detector::keeps(e)) {
    DIGONCE_TRY(registry_.record(e.work_ref, admission, {}));
  } else if (!e.version && admission.version) {
    // An event without a version keeps the one held: the cell record must say so.
    versioned_ = e;
    versioned_.version = admission.version;
    applied = &versioned_;
  }
  facts_.clear();
  DIGONCE_TRY(detector_.apply(*applied, admission.seq, true, facts_));
  std::size_t first = out.size();
  // A work on its first event (neither the detector nor the registry had a record of it: a work
  // that stops being live gets a registry record, and those are never deleted) is in no pair
  // the ledger has seen, so its pairs' records need not be read.
  const bool first_sight = admission.seq == 1;
  // The pairs' record keys first, and the filter's memory for each fetched, so that those cache
  // misses overlap each other and the ledger's work instead of each waiting in its turn.
  if (pair_keys_.size() < facts_.size()) pair_keys_.resize(facts_.size());
  for (std::size_t i = 0; i < facts_.size(); ++i) {
    AlertLedger::record_key(facts_[i].a.ref, facts_[i].b.ref, pair_keys_[i]);
    filtered_.prefetch(kAlertsFamily, pair_keys_[i]);
  }
  // Its new pairs' records go into one record, its group (alert_ledger.h): one key for the
  // writer instead of one per pair.
  if (first_sight) ledger_.begin_group(e.work_ref);
  for (std::size_t i = 0; i < facts_.size(); ++i) {
    auto& f = facts_[i];
    const bool new_pair = first_sight && (f.a.ref == e.work_ref || f.b.ref == e.work_ref);
    if (auto done = ledger_.apply(std::move(f), out, new_pair, pair_keys_[i]); !done.ok()) {
      ledger_.drop_group();
      return done;
    }
  }
  if (first_sight) DIGONCE_TRY(ledger_.end_group());
  for (std::size_t i = first; i < out.size(); ++i) {
    auto k = static_cast<std::size_t>(out[i].kind);
    switch (out[i].state) {
      case AlertState::Open:
        ++stats_.opened[k];
        break;
      case AlertState::Updated:
        ++stats_.updated[k];
        break;
      case AlertState::Closed:
        ++stats_.closed[k];
        break;
    }
  }
  return {};
}

}  // namespace digonce::geo
