#include "geo/space_time_index.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

namespace digonce::geo {
namespace {

// The largest q with corner + q * step <= v (corner + q * step is exact, so the test is too);
// 0 also when v is below the corner (0 stands for everything below) or NaN.
std::uint8_t step_down(double v, double corner, double step) {
  if (!(v >= corner)) return 0;
  double q = std::min(255.0, std::floor((v - corner) / step));
  while (q > 0 && corner + q * step > v) --q;
  return static_cast<std::uint8_t>(q);
}
// The smallest q with corner + q * step >= v; 255 (everything above) when there is none below it
// or v is NaN.
std::uint8_t step_up(double v, double corner, double step) {
  if (!(v <= corner + 254 * step)) return 255;
  double q = std::max(0.0, std::ceil((v - corner) / step));
  while (q < 255 && corner + q * step < v) ++q;
  return static_cast<std::uint8_t>(q);
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
  if (id > kMaxId || flags > kMaxFlags)
    throw std::length_error("space-time index: work id " + std::to_string(id) + " or flags " +
                            std::to_string(flags) + " beyond what an entry holds");
  std::uint64_t key = grid_.element(env);
  bool inserted = false;
  Bucket& bucket = elements_.get_or_insert(key, inserted);
  if (bucket.size == bucket.capacity) {
    // A line's four entries, then doubling: whole lines, which aligned_alloc wants anyway.
    const std::uint32_t grown = bucket.capacity == 0 ? 4 : bucket.capacity * 2;
    void* data = std::aligned_alloc(64, std::size_t{grown} * sizeof(Entry));
    if (!data) throw std::bad_alloc();
    if (bucket.size > 0) std::memcpy(data, bucket.data, std::size_t{bucket.size} * sizeof(Entry));
    std::free(bucket.data);
    bucket.data = static_cast<Entry*>(data);
    entry_capacity_ += grown - bucket.capacity;
    bucket.capacity = grown;
  }
  Entry& e = bucket.data[bucket.size++];
  e.id_and_flags = id | (flags << 30);
  e.start_minute = minutes(start, false);
  e.end_minute = minutes(end, true);
  const XzGrid::Corner c = grid_.corner(key);
  const double step = c.side * kStepPerSide;
  e.box[0] = step_down(env.minx, c.x, step);
  e.box[1] = step_down(env.miny, c.y, step);
  e.box[2] = step_up(env.maxx, c.x, step);
  e.box[3] = step_up(env.maxy, c.y, step);
  ++level_counts_[static_cast<std::size_t>(XzGrid::level_of(key))];
  ++size_;
  return key;
}

void SpaceTimeIndex::remove(std::uint64_t key, std::uint32_t id) {
  Bucket* bucket = elements_.find(key);
  if (!bucket) return;
  for (std::uint32_t i = 0; i < bucket->size; ++i) {
    if (bucket->data[i].id() != id) continue;
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
