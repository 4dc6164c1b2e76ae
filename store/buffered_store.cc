#include "store/buffered_store.h"

#include <utility>

namespace digonce::store {

BufferedStore::~BufferedStore() {
  if (in_flight_.valid()) in_flight_.wait();
}

Result<std::optional<std::string>> BufferedStore::get(Family f, std::string_view key) const {
  const auto& m = pending_.at(f);
  if (auto it = m.find(key); it != m.end()) return it->second;
  if (sealed_live_) {
    const auto& s = sealed_[f];
    if (auto it = s.find(key); it != s.end()) return it->second;
  }
  return base_.get(f, key);
}

Status BufferedStore::scan(Family f, std::string_view prefix, const Visitor& visit) const {
  DIGONCE_TRY(wait());  // the sealed writes are then in the base
  const auto& m = pending_.at(f);
  auto it = m.lower_bound(prefix);
  auto in_prefix = [&](std::string_view k) { return k.substr(0, prefix.size()) == prefix; };
  bool stopped = false;
  // Merge the base's keys with the pending ones; a pending key shadows the base's.
  auto drain_pending_below = [&](std::string_view bound, bool inclusive) {
    while (!stopped && it != m.end() && in_prefix(it->first) &&
           (inclusive ? it->first <= bound : it->first < bound)) {
      if (it->second && !visit(it->first, *it->second)) stopped = true;
      ++it;
    }
  };
  auto status = base_.scan(f, prefix, [&](std::string_view k, std::string_view v) {
    drain_pending_below(k, false);
    if (stopped) return false;
    if (it != m.end() && it->first == k) {  // shadowed
      if (it->second && !visit(k, *it->second)) stopped = true;
      ++it;
      return !stopped;
    }
    if (!visit(k, v)) stopped = true;
    return !stopped;
  });
  DIGONCE_TRY(status);
  while (!stopped && it != m.end() && in_prefix(it->first)) {
    if (it->second && !visit(it->first, *it->second)) stopped = true;
    ++it;
  }
  return {};
}

Status BufferedStore::write(const WriteBatch& batch) {
  for (const auto& op : batch.ops()) {
    auto& m = pending_.at(op.family);
    auto [it, inserted] = m.try_emplace(op.key);
    if (inserted) {
      ++count_;
      bytes_ += op.key.size();
    } else if (it->second) {
      bytes_ -= it->second->size();
    }
    if (op.kind == Op::Kind::Put) {
      it->second = op.value;
      bytes_ += op.value.size();
    } else {
      it->second.reset();
    }
  }
  return {};
}

void BufferedStore::for_each_pending(
    const std::function<void(Family, std::string_view, const std::optional<std::string>&)>& fn)
    const {
  for (std::size_t f = 0; f < pending_.size(); ++f)
    for (const auto& [k, v] : pending_[f]) fn(static_cast<Family>(f), k, v);
}

WriteBatch BufferedStore::batch_of(const std::vector<Map>& maps, const WriteBatch& extra) {
  WriteBatch batch;
  for (std::size_t f = 0; f < maps.size(); ++f)
    for (const auto& [k, v] : maps[f]) {
      if (v) {
        batch.put(static_cast<Family>(f), k, *v);
      } else {
        batch.del(static_cast<Family>(f), k);
      }
    }
  batch.append(extra);
  return batch;
}

Status BufferedStore::commit(const WriteBatch& extra) {
  DIGONCE_TRY(wait());
  DIGONCE_TRY(base_.write(batch_of(pending_, extra)));
  abort();
  for (auto& m : sealed_) m.clear();  // written already (wait() returned ok)
  return {};
}

Status BufferedStore::commit_async(const WriteBatch& extra) {
  DIGONCE_TRY(wait());
  std::vector<Map> retired(pending_.size());
  retired.swap(sealed_);
  sealed_.swap(pending_);
  count_ = 0;
  bytes_ = 0;
  sealed_live_ = true;
  in_flight_ = std::async(std::launch::async, [this, extra,
                                               retired = std::move(retired)]() mutable {
    Status s = base_.write(batch_of(sealed_, extra));
    retired.clear();  // the previous batch's maps, freed here rather than on the caller's thread
    return s;
  });
  return {};
}

Status BufferedStore::wait() const {
  if (!in_flight_.valid()) return {};
  Status s = in_flight_.get();
  // On failure the sealed writes are not in the base: reads keep seeing them, and the caller,
  // told of the failure, decides (the state is then ahead of the base, as after a failed commit).
  if (s.ok()) sealed_live_ = false;
  return s;
}

void BufferedStore::abort() {
  for (auto& m : pending_) m.clear();
  count_ = 0;
  bytes_ = 0;
}

}  // namespace digonce::store
