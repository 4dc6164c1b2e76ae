#include "geo/space_time_index.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

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

// Whole minutes since 1970, rounded down (or up), held in an int32; beyond its range, its
// extremes, which Entry::start() and end() read as the ends of time.
std::int32_t minutes(Micros t, bool up) {
  constexpr Micros kMinute = SpaceTimeIndex::kMicrosPerMinute;
  Micros m = t / kMinute;
  const Micros rest = t % kMinute;
  if (rest < 0 && !up) --m;
  if (rest > 0 && up) ++m;
  return static_cast<std::int32_t>(std::clamp<Micros>(m, std::numeric_limits<std::int32_t>::min(),
                                                      std::numeric_limits<std::int32_t>::max()));
}

}  // namespace

SpaceTimeIndex::~SpaceTimeIndex() {
  elements_.for_each([](std::uint64_t, const Bucket& b) { std::free(b.data); });
}

std::uint64_t SpaceTimeIndex::insert(const Envelope& env, std::uint32_t id, std::uint32_t flags,
                                     Micros start, Micros end) {
  std::uint64_t key = grid_.element(env);
  bool inserted = false;
  Bucket& bucket = elements_.get_or_insert(key, inserted);
  if (bucket.size == bucket.capacity) {
    // Two entries, then doubling; rounded to whole lines, which aligned_alloc wants anyway.
    const std::uint32_t grown = bucket.capacity == 0 ? 2 : bucket.capacity * 2;
    void* data = std::aligned_alloc(64, std::size_t{grown} * sizeof(Entry));
    if (!data) throw std::bad_alloc();
    if (bucket.size > 0) std::memcpy(data, bucket.data, std::size_t{bucket.size} * sizeof(Entry));
    std::free(bucket.data);
    bucket.data = static_cast<Entry*>(data);
    entry_capacity_ += grown - bucket.capacity;
    bucket.capacity = grown;
  }
  Entry& e = bucket.data[bucket.size++];
  e.id = id;
  e.flags = flags;
  e.start_minute = minutes(start, false);
  e.end_minute = minutes(end, true);
  e.box[0] = down(env.minx);
  e.box[1] = down(env.miny);
  e.box[2] = up(env.maxx);
  e.box[3] = up(env.maxy);
  ++level_counts_[static_cast<std::size_t>(XzGrid::level_of(key))];
  ++size_;
  return key;
}

void SpaceTimeIndex::remove(std::uint64_t key, std::uint32_t id) {
  Bucket* bucket = elements_.find(key);
  if (!bucket) return;
  for (std::uint32_t i = 0; i < bucket->size; ++i) {
    if (bucket->data[i].id != id) continue;
    bucket->data[i] = bucket->data[bucket->size - 1];
    --bucket->size;
    --level_counts_[static_cast<std::size_t>(XzGrid::level_of(key))];
    --size_;
    break;
  }
  if (bucket->size == 0) {
    std::free(bucket->data);
    entry_capacity_ -= bucket->capacity;
    elements_.erase(key);
  }
}

std::size_t SpaceTimeIndex::memory_bytes() const {
  return elements_.memory_bytes() + entry_capacity_ * sizeof(Entry);
}

}  // namespace digonce::geo
