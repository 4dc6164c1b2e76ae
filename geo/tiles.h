// Spatial tiles: how works are spread over the partitions of the tiled topic, and which
// partition reports a pair.
//
// A work is copied to every tile (a square of `size_m` in the metric CRS) that its envelope,
// grown by half the detection distance h = d/2, touches. Two works within d of each other have
// grown envelopes that meet (the midpoint of their closest points is within h of both), so they
// share at least one tile. A pair that shares several tiles is reported by one only: the tile of
// its *reference point*, the lower-left corner of the intersection of the two grown envelopes
// (max of the minx - h, max of the miny - h), which lies in both grown envelopes and so in a
// tile both works were copied to. This is the reference-point method of duplicate avoidance of
// J.-P. Dittrich and B. Seeger, "Data Redundancy and Duplicate Detection in Spatial Join
// Processing", ICDE 2000. Tiles hash onto partitions as a Kafka producer with the Java default
// partitioner would hash their key (murmur2), so any client agrees on where a tile lives.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "geo/detector.h"
#include "geo/shape.h"

namespace digonce::geo {

class TileScheme {
 public:
  TileScheme(double size_m, double distance_m) : size_(size_m), half_(distance_m / 2) {}

  /// Every tile the work's grown envelope touches, as tile ids.
  std::vector<std::uint64_t> tiles_for(const Envelope& e) const;
  /// The tile that reports the pair of works with these envelopes.
  std::uint64_t reference_tile(const Envelope& a, const Envelope& b) const {
    return tile_at(std::max(a.minx, b.minx) - half_, std::max(a.miny, b.miny) - half_);
  }
  std::uint64_t tile_at(double x, double y) const { return pack(index(x), index(y)); }

  /// The tile's message key on the tiled topic: "<i>:<j>".
  static std::string key(std::uint64_t tile);
  /// The partition of a tile among n, as Kafka's Java default partitioner maps its key.
  static std::int32_t partition(std::uint64_t tile, std::int32_t partitions);

  double size_m() const { return size_; }

 private:
  std::int64_t index(double v) const { return static_cast<std::int64_t>(std::floor(v / size_)); }
  static std::uint64_t pack(std::int64_t i, std::int64_t j) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(i)) << 32) |
           static_cast<std::uint32_t>(j);
  }
  double size_;
  double half_;
};

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), for partitioning by key.
std::int32_t kafka_murmur2(std::string_view data);

/// The pairs one partition of the tiled topic reports: those whose reference tile it owns.
class TileOwnership final : public PairOwnership {
 public:
  TileOwnership(TileScheme scheme, std::int32_t partition, std::int32_t partitions)
      : scheme_(scheme), partition_(partition), partitions_(partitions) {}
  bool owns(const Envelope& a, const Envelope& b) const override {
    return TileScheme::partition(scheme_.reference_tile(a, b), partitions_) == partition_;
  }

 private:
  TileScheme scheme_;
  std::int32_t partition_;
  std::int32_t partitions_;
};

}  // namespace digonce::geo
