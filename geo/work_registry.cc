#include "geo/work_registry.h"

#include "base/varint.h"

namespace digonce::geo {
namespace {

struct Record {
  std::uint64_t seq = 0;
  std::optional<std::int64_t> version;
  std::vector<std::uint64_t> tiles;
};

bool decode(std::string_view in, Record& r) {
  std::size_t at = 0;
  std::uint64_t n = 0;
  if (!get_varint(in, at, r.seq) || at >= in.size()) return false;
  if (in[at++]) {
    std::int64_t v = 0;
    if (!get_svarint(in, at, v)) return false;
    r.version = v;
  }
  if (!get_varint(in, at, n) || n > in.size()) return false;
  r.tiles.resize(n);
  for (auto& t : r.tiles)
    if (!get_varint(in, at, t)) return false;
  return at == in.size();
}

std::string encode(const Record& r) {
  std::string out;
  put_varint(out, r.seq);
  out.push_back(r.version ? 1 : 0);
  if (r.version) put_svarint(out, *r.version);
  put_varint(out, r.tiles.size());
  for (auto t : r.tiles) put_varint(out, t);
  return out;
}

}  // namespace

Result<Admission> WorkRegistry::admit(const WorkEvent& e, std::span<const std::uint64_t> tiles) {
  key_.assign("r").append(e.work_ref);
  auto held = store_.get(family_, key_);
  if (!held) return held.error();
  Record r;
  if (*held && !decode(**held, r)) return error("corrupt registry record for " + e.work_ref);
  Admission a;
  // The contract: an event whose version is lower than the one held is stale.
  if (e.version && r.version && *e.version < *r.version) {
    ++stale_;
    a.stale = true;
    return a;
  }
  a.old_tiles = std::move(r.tiles);
  a.seq = ++r.seq;
  if (e.version) r.version = e.version;
  a.version = r.version;
  r.tiles.assign(tiles.begin(), tiles.end());
  batch_.clear();
  batch_.put(family_, key_, encode(r));
  DIGONCE_TRY(store_.write(batch_));
  return a;
}

}  // namespace digonce::geo
