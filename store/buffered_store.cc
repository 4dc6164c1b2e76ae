#include "store/buffered_store.h"

namespace digonce::store {

Result<std::optional<std::string>> BufferedStore::get(Family f, std::string_view key) const {
  const auto& m = pending_.at(f);
  if (auto it = m.find(key); it != m.end()) return it->second;
  return base_.get(f, key);
}

Status BufferedStore::scan(Family f, std::string_view prefix, const Visitor& visit) const {
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

Status BufferedStore::commit(const WriteBatch& extra) {
  WriteBatch batch;
  for_each_pending([&](Family f, std::string_view k, const std::optional<std::string>& v) {
    if (v) {
      batch.put(f, k, *v);
    } else {
      batch.del(f, k);
    }
  });
  batch.append(extra);
  DIGONCE_TRY(base_.write(batch));
  abort();
  return {};
}

void BufferedStore::abort() {
  for (auto& m : pending_) m.clear();
  count_ = 0;
  bytes_ = 0;
}

}  // namespace digonce::store
