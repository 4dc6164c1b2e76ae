#include "geo/pair_fact.h"

#include "base/varint.h"

namespace digonce::geo {
namespace {

constexpr std::uint8_t kFactCodec = 1;

void put_summary(std::string& out, const WorkSummary& s) {
  put_string(out, s.ref);
  put_string(out, s.promoter);
  out.push_back(static_cast<char>(s.category));
  out.push_back(static_cast<char>(s.kind));
  put_svarint(out, s.start);
  put_svarint(out, s.end);
  put_string(out, s.street);
  put_string(out, s.authority);
}

bool get_summary(std::string_view in, std::size_t& at, WorkSummary& s) {
  if (!get_string(in, at, s.ref) || !get_string(in, at, s.promoter)) return false;
  if (in.size() - at < 2) return false;
  auto category = static_cast<std::uint8_t>(in[at++]);
  auto kind = static_cast<std::uint8_t>(in[at++]);
  if (category > static_cast<std::uint8_t>(Category::Hs2Highway) || kind > 1) return false;
  s.category = static_cast<Category>(category);
  s.kind = static_cast<WorkKind>(kind);
  return get_svarint(in, at, s.start) && get_svarint(in, at, s.end) &&
         get_string(in, at, s.street) && get_string(in, at, s.authority);
}

}  // namespace

const char* alert_kind_name(AlertKind k) {
  switch (k) {
    case AlertKind::Clash:
      return "clash";
    case AlertKind::Collaboration:
      return "collaboration";
    case AlertKind::Restriction:
      return "restriction";
  }
  return "?";
}

void encode_related_fact(const WorkSummary& a, const WorkSummary& b, std::uint64_t seq_a,
                         std::uint64_t seq_b, AlertKind kind, double distance_m, Micros gap,
                         double lon, double lat, const std::vector<std::string>& authorities,
                         std::string& out) {
  out.push_back(static_cast<char>(kFactCodec));
  put_summary(out, a);
  put_summary(out, b);
  put_varint(out, seq_a);
  put_varint(out, seq_b);
  out.push_back(1);
  out.push_back(static_cast<char>(kind));
  put_double(out, distance_m);
  put_svarint(out, gap);
  put_double(out, lon);
  put_double(out, lat);
  put_varint(out, authorities.size());
  for (const auto& x : authorities) put_string(out, x);
}

void encode_fact(const PairFact& f, std::string& out) {
  if (f.related) {
    encode_related_fact(f.a, f.b, f.seq_a, f.seq_b, f.kind, f.distance_m, f.gap, f.lon, f.lat,
                        f.authorities, out);
    return;
  }
  out.push_back(static_cast<char>(kFactCodec));
  put_summary(out, f.a);
  put_summary(out, f.b);
  put_varint(out, f.seq_a);
  put_varint(out, f.seq_b);
  out.push_back(0);
  out.push_back(static_cast<char>(f.cause));
  put_string(out, f.cause_ref);
}

bool decode_fact(std::string_view in, PairFact& f) {
  if (in.empty() || static_cast<std::uint8_t>(in[0]) != kFactCodec) return false;
  std::size_t at = 1;
  f = PairFact{};
  if (!get_summary(in, at, f.a) || !get_summary(in, at, f.b)) return false;
  if (!get_varint(in, at, f.seq_a) || !get_varint(in, at, f.seq_b) || at >= in.size()) return false;
  f.related = in[at++] != 0;
  if (at >= in.size()) return false;
  if (f.related) {
    auto kind = static_cast<std::uint8_t>(in[at++]);
    if (kind > 2) return false;
    f.kind = static_cast<AlertKind>(kind);
    std::uint64_t n = 0;
    if (!get_double(in, at, f.distance_m) || !get_svarint(in, at, f.gap) ||
        !get_double(in, at, f.lon) || !get_double(in, at, f.lat) || !get_varint(in, at, n) ||
        n > in.size())
      return false;
    f.authorities.resize(n);
    for (auto& a : f.authorities)
      if (!get_string(in, at, a)) return false;
  } else {
    auto cause = static_cast<std::uint8_t>(in[at++]);
    if (cause > static_cast<std::uint8_t>(CloseCause::Apart)) return false;
    f.cause = static_cast<CloseCause>(cause);
    if (!get_string(in, at, f.cause_ref)) return false;
  }
  return at == in.size();
}

void append_pair_key(std::string_view ref_a, std::string_view ref_b, std::string& out) {
  out.reserve(out.size() + ref_a.size() + ref_b.size() + 1);
  out.append(ref_a).push_back('\n');
  out.append(ref_b);
}

std::string pair_key(std::string_view ref_a, std::string_view ref_b) {
  std::string k;
  append_pair_key(ref_a, ref_b, k);
  return k;
}

}  // namespace digonce::geo
