#include "geo/tiles.h"

#include <cstring>

namespace digonce::geo {

std::vector<std::uint64_t> TileScheme::tiles_for(const Envelope& e) const {
  std::vector<std::uint64_t> out;
  auto i0 = index(e.minx - half_), i1 = index(e.maxx + half_);
  auto j0 = index(e.miny - half_), j1 = index(e.maxy + half_);
  for (auto i = i0; i <= i1; ++i)
    for (auto j = j0; j <= j1; ++j) out.push_back(pack(i, j));
  return out;
}

std::string TileScheme::key(std::uint64_t tile) {
  auto i = static_cast<std::int32_t>(static_cast<std::uint32_t>(tile >> 32));
  auto j = static_cast<std::int32_t>(static_cast<std::uint32_t>(tile));
  return std::to_string(i) + ":" + std::to_string(j);
}

std::int32_t TileScheme::partition(std::uint64_t tile, std::int32_t partitions) {
  // Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions
  return (kafka_murmur2(key(tile)) & 0x7fffffff) % partitions;
}

std::int32_t kafka_murmur2(std::string_view data) {
  const std::uint32_t seed = 0x9747b28c;
  const std::uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto length = static_cast<std::uint32_t>(data.size());
  std::uint32_t h = seed ^ length;
  std::size_t i = 0;
  for (; i + 4 <= data.size(); i += 4) {
    std::uint32_t k = static_cast<std::uint8_t>(data[i]) |
                      (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[i + 1])) << 8) |
                      (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[i + 2])) << 16) |
                      (static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[i + 3])) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (data.size() - i) {
    case 3:
      h ^= static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[i + 2])) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[i + 1])) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<std::uint8_t>(data[i]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

}  // namespace digonce::geo
