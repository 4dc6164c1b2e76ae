#include "geo/space_time_index.h"

#include <cmath>
#include <limits>

namespace digonce::geo {
namespace {

float down(double v) {
  float f = static_cast<float>(v);
  return static_cast<double>(f) > v ? std::nextafter(f, -std::numeric_limits<float>::infinity())
                                    : f;
}
float up(double v) {
  float f = static_cast<float>(v);
  return static_cast<double>(f) < v ? std::nextafter(f, std::numeric_limits<float>::infinity()) : f;
}

}  // namespace

std::uint64_t SpaceTimeIndex::insert(const Envelope& env, const Entry& entry) {
  std::uint64_t key = grid_.element(env);
  bool inserted = false;
  auto& bucket = elements_.get_or_insert(key, inserted);
  if (inserted) {
    if (free_buckets_.empty()) {
      bucket = static_cast<std::uint32_t>(buckets_.size());
      buckets_.emplace_back();
    } else {
      bucket = free_buckets_.back();
      free_buckets_.pop_back();
    }
  }
  Entry& e = buckets_[bucket].emplace_back(entry);
  e.box[0] = down(env.minx);
  e.box[1] = down(env.miny);
  e.box[2] = up(env.maxx);
  e.box[3] = up(env.maxy);
  ++level_counts_[static_cast<std::size_t>(XzGrid::level_of(key))];
  ++size_;
  return key;
}

void SpaceTimeIndex::remove(std::uint64_t key, std::uint32_t id) {
  auto* at = elements_.find(key);
  if (!at) return;
  auto& entries = buckets_[*at];
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].id != id) continue;
    entries[i] = entries.back();
    entries.pop_back();
    --level_counts_[static_cast<std::size_t>(XzGrid::level_of(key))];
    --size_;
    break;
  }
  if (entries.empty()) {
    entries.shrink_to_fit();
    free_buckets_.push_back(*at);
    elements_.erase(key);
  }
}

std::size_t SpaceTimeIndex::memory_bytes() const {
  std::size_t total = elements_.memory_bytes() +
                      buckets_.capacity() * sizeof(decltype(buckets_)::value_type) +
                      free_buckets_.capacity() * sizeof(std::uint32_t);
  for (const auto& b : buckets_) total += b.capacity() * sizeof(Entry);
  return total;
}

}  // namespace digonce::geo
