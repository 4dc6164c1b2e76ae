#include "geo/engine.h"

namespace digonce::geo {

Engine::Engine(store::Store& store, const DetectorOptions& options, Geos& geos, Locator& locator)
    : registry_(store, kWorksFamily),
      detector_(store, {kWorksFamily, kCellsFamily, kAlertsFamily}, options, geos, locator),
      ledger_(store, kAlertsFamily) {}

Status Engine::apply(const WorkEvent& e, std::vector<Alert>& out) {
  ++stats_.events;
  auto admission = registry_.admit(e, {});
  if (!admission) return admission.error();
  if (admission->stale) {
    ++stats_.stale;
    return {};
  }
  facts_.clear();
  DIGONCE_TRY(detector_.apply(e, admission->seq, true, facts_));
  std::size_t first = out.size();
  for (const auto& f : facts_) DIGONCE_TRY(ledger_.apply(f, out));
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
