// The value of a record on the tiled topic: one work event as ingest routed it.
//   seq       the event's sequence number for its work (geo/work_registry.h)
//   tiles     the tiles the work is in now (empty when it was cancelled or completed)
//   old       the tiles it was in before (so the detectors there hear that it left)
//   work      the event, in the metric CRS (geo::encode_work; its crs field names it, which the
//             detectors check)
// Ingest sends one copy per tile in tiles + old, keyed by the tile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/varint.h"
#include "geo/work.h"

namespace digonce::services {

struct TiledRecord {
  std::uint64_t seq = 0;
  std::vector<std::uint64_t> tiles;
  std::vector<std::uint64_t> old;
  geo::WorkEvent work;
};

inline void encode_tiled(const TiledRecord& r, std::string& out) {
  put_varint(out, r.seq);
  put_varint(out, r.tiles.size());
  for (auto t : r.tiles) put_varint(out, t);
  put_varint(out, r.old.size());
  for (auto t : r.old) put_varint(out, t);
  geo::encode_work(r.work, out);
}

inline bool decode_tiled(std::string_view in, TiledRecord& r) {
  std::size_t at = 0;
  std::uint64_t n = 0;
  if (!get_varint(in, at, r.seq)) return false;
  for (auto* v : {&r.tiles, &r.old}) {
    if (!get_varint(in, at, n) || n > in.size()) return false;
    v->resize(n);
    for (auto& t : *v)
      if (!get_varint(in, at, t)) return false;
  }
  return geo::decode_work(in.substr(at), r.work);
}

}  // namespace digonce::services
