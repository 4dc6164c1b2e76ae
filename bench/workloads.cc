#include "bench/workloads.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "geo/parse.h"

namespace digonce::bench {
namespace {

// 2026-01-01T00:00:00Z and 2028-01-01T00:00:00Z, as in gen.py.
constexpr std::int64_t kT0 = 1767225600;
constexpr std::int64_t kT1 = 1830297600;
constexpr std::int64_t kDay = 86400;
// Greater London, as in gen.py.
constexpr double kLondonX0 = 503000, kLondonX1 = 561000, kLondonY0 = 155000, kLondonY1 = 201000;

// splitmix64: small, fast and the same on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t s_;
};

const char* const kPromoters[] = {"TW",  "BT",  "UKPN", "SGN",  "CADENT", "VM",  "ISL", "CAM",
                                  "COL", "TFL", "HYP",  "CITY", "GTC",    "ESP", "ICS", "LFB"};

// The point at distance s along a link, and the direction of its segment there.
void point_along(const RoadNetwork::Link& l, double s, double& x, double& y, double& dx,
                 double& dy) {
  std::size_t n = l.cum.size();
  if (n < 2) {
    x = l.xy[0], y = l.xy[1], dx = 1, dy = 0;
    return;
  }
  s = std::clamp(s, 0.0, l.length());
  std::size_t i =
      static_cast<std::size_t>(std::upper_bound(l.cum.begin(), l.cum.end(), s) - l.cum.begin());
  i = std::clamp<std::size_t>(i, 1, n - 1);  // the segment (i - 1, i)
  double seg = l.cum[i] - l.cum[i - 1];
  double t = seg > 0 ? (s - l.cum[i - 1]) / seg : 0;
  double ax = l.xy[2 * (i - 1)], ay = l.xy[2 * (i - 1) + 1], bx = l.xy[2 * i], by = l.xy[2 * i + 1];
  x = ax + t * (bx - ax);
  y = ay + t * (by - ay);
  dx = seg > 0 ? (bx - ax) / seg : 1;
  dy = seg > 0 ? (by - ay) / seg : 0;
}

// The part of a link between distances a < b along it.
std::vector<double> sub_line(const RoadNetwork::Link& l, double a, double b) {
  std::vector<double> out;
  double x, y, dx, dy;
  point_along(l, a, x, y, dx, dy);
  out.insert(out.end(), {x, y});
  for (std::size_t i = 0; i < l.cum.size(); ++i)
    if (l.cum[i] > a && l.cum[i] < b) out.insert(out.end(), {l.xy[2 * i], l.xy[2 * i + 1]});
  point_along(l, b, x, y, dx, dy);
  out.insert(out.end(), {x, y});
  // Drop repeated vertices (a cut that falls on a vertex).
  std::vector<double> clean;
  for (std::size_t i = 0; i + 1 < out.size(); i += 2)
    if (clean.empty() || clean[clean.size() - 2] != out[i] || clean.back() != out[i + 1])
      clean.insert(clean.end(), {out[i], out[i + 1]});
  return clean;
}

}  // namespace

Result<RoadNetwork> RoadNetwork::load(const std::string& path, geo::CrsContext& crs) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(path).get(doc))
    return error("cannot read " + path + ": " + simdjson::error_message(err));
  simdjson::dom::array roads;
  if (doc["roads"].get_array().get(roads)) return error(path + ": no \"roads\" array");
  RoadNetwork net;
  net.names_.push_back("");
  std::unordered_map<std::string, std::uint32_t> name_ids;
  for (simdjson::dom::element road : roads) {
    simdjson::dom::array lines;
    if (road["geometry"]["coordinates"].get_array().get(lines)) continue;
    std::string_view name;
    if (road["properties"]["roadname"].get_string().get(name)) name = "";
    // "(1:Cowcross Street)" -> "Cowcross Street"
    if (name.size() > 2 && name.front() == '(' && name.back() == ')') {
      auto colon = name.find(':');
      if (colon != std::string_view::npos) name = name.substr(colon + 1, name.size() - colon - 2);
    }
    auto [at, inserted] =
        name_ids.emplace(std::string(name), static_cast<std::uint32_t>(net.names_.size()));
    if (inserted) net.names_.emplace_back(name);
    for (simdjson::dom::element line : lines) {
      geo::Shape s;
      s.type = geo::ShapeType::LineString;
      for (simdjson::dom::element pos : line) {
        double c[2];
        int k = 0;
        for (simdjson::dom::element v : pos) {
          if (k < 2 && v.get_double().get(c[k]) == simdjson::SUCCESS) ++k;
        }
        if (k == 2) s.xy.insert(s.xy.end(), {c[0], c[1]});
      }
      if (s.xy.size() < 4) continue;
      s.paths = {static_cast<std::uint32_t>(s.xy.size() / 2)};
      DIGONCE_TRY(crs.project_to_metric(s, "EPSG:4326"));
      Link l;
      l.xy = std::move(s.xy);
      l.name = at->second;
      l.cum.push_back(0);
      for (std::size_t i = 2; i + 1 < l.xy.size(); i += 2)
        l.cum.push_back(l.cum.back() +
                        std::hypot(l.xy[i] - l.xy[i - 2], l.xy[i + 1] - l.xy[i - 1]));
      if (l.length() <= 0) continue;
      for (std::size_t i = 0; i + 1 < l.xy.size(); i += 2) net.bounds_.add(l.xy[i], l.xy[i + 1]);
      net.cum_length_.push_back(net.total_length() + l.length());
      net.links_.push_back(std::move(l));
    }
  }
  if (net.links_.empty()) return error(path + ": no road links");
  return net;
}

const RoadNetwork::Link& RoadNetwork::link_at(double s) const {
  auto i = static_cast<std::size_t>(std::upper_bound(cum_length_.begin(), cum_length_.end(), s) -
                                    cum_length_.begin());
  return links_[std::min(i, links_.size() - 1)];
}

StreetLayout greater_london_layout(const RoadNetwork& net) {
  const auto& b = net.bounds();
  StreetLayout l;
  l.x0 = kLondonX0;
  l.y0 = kLondonY0;
  l.tiles_x = static_cast<int>(std::ceil((kLondonX1 - kLondonX0) / b.width()));
  l.tiles_y = static_cast<int>(std::ceil((kLondonY1 - kLondonY0) / b.height()));
  l.in_place = false;
  return l;
}

Workload make_street_workload(const RoadNetwork& net, const StreetLayout& layout, std::string name,
                              std::size_t works, std::size_t events, std::uint64_t seed) {
  // One work: a place along the streets, a shape there, and dates. Everything from `r`.
  auto make = [&net, layout](Rng& r, std::string ref, geo::WorkEvent& e) {
    const auto tiles = static_cast<std::uint64_t>(layout.tiles_x) * layout.tiles_y;
    const std::uint64_t tile = r.below(tiles);
    const auto& link = net.link_at(r.uniform() * net.total_length());
    const double len = link.length();
    geo::Shape shape;
    double u = r.uniform();
    if (u < 0.70) {
      double l = std::min(r.uniform(20, 300), len);
      double a = r.uniform(0, len - l);
      shape = geo::make_line(sub_line(link, a, a + l));
      if (shape.xy.size() < 4) shape = geo::make_point(shape.xy[0], shape.xy[1]);
    } else if (u < 0.95) {
      double x, y, dx, dy;
      point_along(link, r.uniform(0, len), x, y, dx, dy);
      shape = geo::make_point(x, y);
    } else {
      double x, y, dx, dy;
      point_along(link, r.uniform(0, len), x, y, dx, dy);
      double hl = r.uniform(10, 200) / 2, hw = r.uniform(6, 20) / 2;
      std::vector<double> ring;
      for (auto [sl, sw] : {std::pair{-1, -1}, {1, -1}, {1, 1}, {-1, 1}, {-1, -1}})
        ring.insert(ring.end(), {x + sl * hl * dx - sw * hw * dy, y + sl * hl * dy + sw * hw * dx});
      shape = geo::make_polygon({ring});
    }
    if (!layout.in_place) {
      // Into its tile, mirrored as the tile says (a fixed pattern from the tile's number).
      const auto& b = net.bounds();
      const auto tx = static_cast<double>(tile % static_cast<std::uint64_t>(layout.tiles_x));
      const std::uint64_t row = tile / static_cast<std::uint64_t>(layout.tiles_x);
      const auto ty = static_cast<double>(row);
      const std::uint64_t h = (tile + 1) * 0x9e3779b97f4a7c15ULL;
      const bool mx = (h >> 62) & 1, my = (h >> 61) & 1;
      for (std::size_t i = 0; i + 1 < shape.xy.size(); i += 2) {
        double ox = shape.xy[i] - b.minx, oy = shape.xy[i + 1] - b.miny;
        shape.xy[i] = layout.x0 + tx * b.width() + (mx ? b.width() - ox : ox);
        shape.xy[i + 1] = layout.y0 + ty * b.height() + (my ? b.height() - oy : oy);
      }
    }
    // Whole centimetres, as the standard workload has them.
    for (auto& c : shape.xy) c = std::round(c * 100) / 100;
    std::int64_t start = kT0 + static_cast<std::int64_t>(r.below(kT1 - kT0));
    std::int64_t dur =
        std::llround(std::exp(r.uniform(std::log(1.0 * kDay), std::log(90.0 * kDay))));
    e = geo::WorkEvent{};
    e.work_ref = std::move(ref);
    e.promoter = kPromoters[r.below(std::size(kPromoters))];
    e.geometry = std::move(shape);
    e.crs = "EPSG:27700";
    e.start = start * geo::kMicrosPerSecond;
    e.end = (start + dur) * geo::kMicrosPerSecond;
    e.street_name = net.names()[link.name];
    double c = r.uniform();
    e.category = c < 0.55  ? geo::Category::Minor
                 : c < 0.9 ? geo::Category::Standard
                           : geo::Category::Major;
  };

  Workload w;
  w.name = std::move(name);
  w.works = works;
  w.for_each_work = [make, works, seed](const WorkVisitor& visit) -> Status {
    Rng r(seed);
    geo::WorkEvent e;
    for (std::size_t i = 0; i < works; ++i) {
      make(r, "W" + std::to_string(i + 1), e);
      DIGONCE_TRY(visit(e));
    }
    return {};
  };
  Rng r(seed ^ 0x5eed5eed5eedULL);
  w.events.resize(events);
  for (std::size_t i = 0; i < events; ++i) make(r, "E" + std::to_string(i + 1), w.events[i]);
  return w;
}

namespace {

// One line of a standard workload file: id \t start_epoch \t end_epoch \t WKT (EPSG:27700).
Status parse_line(std::string_view line, geo::WorkEvent& e) {
  std::string_view f[4];
  for (int i = 0; i < 3; ++i) {
    auto tab = line.find('\t');
    if (tab == std::string_view::npos) return error("expected 4 tab-separated fields");
    f[i] = line.substr(0, tab);
    line.remove_prefix(tab + 1);
  }
  f[3] = line;
  std::int64_t start = 0, end = 0;
  auto num = [](std::string_view s, std::int64_t& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (!num(f[1], start) || !num(f[2], end)) return error("bad start or end");
  auto shape = geo::parse_wkt(f[3]);
  if (!shape) return shape.error();
  e = geo::WorkEvent{};
  e.work_ref = std::string(f[0]);
  e.promoter = "STD";
  e.geometry = std::move(*shape);
  e.crs = "EPSG:27700";
  e.start = start * geo::kMicrosPerSecond;
  e.end = end * geo::kMicrosPerSecond;
  return {};
}

Status for_each_line(const std::string& path, std::size_t limit, const WorkVisitor& visit) {
  std::ifstream in(path);
  if (!in) return error("cannot read " + path);
  std::string line;
  geo::WorkEvent e;
  std::size_t n = 0;
  while (n < limit && std::getline(in, line)) {
    if (line.empty()) continue;
    ++n;
    if (auto s = parse_line(line, e); !s.ok())
      return error(path + ":" + std::to_string(n) + ": " + s.error().what());
    DIGONCE_TRY(visit(e));
  }
  if (n < limit)
    return error(path + ": " + std::to_string(n) + " lines, expected " + std::to_string(limit));
  return {};
}

}  // namespace

Result<Workload> load_standard_workload(const std::string& dir, std::size_t works) {
  namespace fs = std::filesystem;
  std::string works_path = (fs::path(dir) / ("works_" + std::to_string(works) + ".tsv")).string();
  std::string events_path = (fs::path(dir) / "events.tsv").string();
  if (!fs::exists(works_path)) return error("no " + works_path);
  Workload w;
  w.name = "standard";
  w.works = works;
  w.for_each_work = [works_path, works](const WorkVisitor& visit) {
    return for_each_line(works_path, works, visit);
  };
  DIGONCE_TRY(for_each_line(events_path, 10'000, [&](geo::WorkEvent& e) -> Status {
    w.events.push_back(std::move(e));
    return {};
  }));
  // shared/bench/README.md: three independent systems agree on these, event by event; inserting
  // each event after its query adds the 119 event-event pairs (the README gives no split).
  constexpr std::uint64_t kEventPairs = 119;
  switch (works) {
    case 10'000:
      w.expected_query = Counts{45, 176};
      break;
    case 100'000:
      w.expected_query = Counts{443, 1'794};
      break;
    case 1'000'000:
      w.expected_query = Counts{4'133, 17'248};
      break;
    default:
      break;
  }
  if (w.expected_query) w.expected_stream_total = w.expected_query->total() + kEventPairs;
  return w;
}

}  // namespace digonce::bench
