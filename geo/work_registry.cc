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

std::string encode(std::uint64_t seq, std::optional<std::int64_t> version,
                   std::span<const std::uint64_t> tiles) {
  std::string out;
  put_varint(out, seq);
  out.push_back(version ? 1 : 0);
  if (version) put_svarint(out, *version);
  put_varint(out, tiles.size());
  for (auto t : tiles) put_varint(out, t);
  return out;
}

}  // namespace

Result<Admission> WorkRegistry::admit(const WorkEvent& e, std::span<const std::uint64_t> tiles) {
  auto a = check(e);
  if (a && !a->stale) DIGONCE_TRY(record(e.work_ref, *a, tiles));
  return a;
}

Result<Admission> WorkRegistry::check(const WorkEvent& e) {
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
  a.seq = r.seq + 1;
  a.version = e.version ? e.version : r.version;
  return a;
}

Status WorkRegistry::record(std::string_view ref, const Admission& a,
                            std::span<const std::uint64_t> tiles) {
  key_.assign("r").append(ref);
  batch_.clear();
  batch_.put(family_, key_, encode(a.seq, a.version, tiles));
  return store_.write(batch_);
}

}  // namespace digonce::geo
