// The works digonce_bench loads and streams:
//
//   roads     works along the 1,688 real road links of Clerkenwell (OS Highways, EPSG:4326 in the
//             shared data, projected to EPSG:27700 with PROJ)
//   london    synthetic streets over Greater London: the real Clerkenwell network laid out again
//             and again over E 503000-561000, N 155000-201000, each copy mirrored at random (the
//             copies add up to about the length of London's road network, ~15,000 km)
//   standard  the standard workload of shared/bench (gen.py): works_{N}.tsv and events.tsv
//
// Works along streets are drawn like the standard workload's: 70 % lines (20-300 m, clipped to
// the link), 25 % points, 5 % rectangles along the street; start uniform in 2026-2027, duration
// log-uniform between 1 and 90 days, whole seconds, closed intervals. Every work is generated on
// demand (for_each_work can run several times and gives the same works each time), so the bench
// holds no copy of the loaded set while it measures memory.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "geo/crs.h"
#include "geo/work.h"

namespace digonce::bench {

struct Counts {
  std::uint64_t clash = 0;
  std::uint64_t collaboration = 0;
  std::uint64_t total() const { return clash + collaboration; }
  bool operator==(const Counts&) const = default;
};

using WorkVisitor = std::function<Status(geo::WorkEvent&)>;

/// One scenario's data.
struct Workload {
  std::string name;  // roads, london, standard
  std::size_t works = 0;
  /// Calls visit for each of the `works` works to load, in order; the same works every time.
  std::function<Status(const WorkVisitor&)> for_each_work;
  /// The new works streamed against the loaded ones.
  std::vector<geo::WorkEvent> events;
  /// The standard workload's published match counts: the events against the N works without
  /// inserting them, and (only the total is published) with each inserted after its query.
  std::optional<Counts> expected_query;
  std::optional<std::uint64_t> expected_stream_total;
};

/// The real road links, in the metric CRS.
class RoadNetwork {
 public:
  struct Link {
    std::vector<double> xy;   // vertices
    std::vector<double> cum;  // distance along the link at each vertex
    std::uint32_t name = 0;   // into names()
    double length() const { return cum.empty() ? 0 : cum.back(); }
  };

  /// Reads os-highways-roadlinks-clerkenwell.json ({"roads": [GeoJSON Feature, ...]}, each a
  /// MultiLineString in EPSG:4326) and projects it into the metric CRS of `crs`.
  static Result<RoadNetwork> load(const std::string& path, geo::CrsContext& crs);

  const std::vector<Link>& links() const { return links_; }
  const std::vector<std::string>& names() const { return names_; }
  const geo::Envelope& bounds() const { return bounds_; }
  double total_length() const { return cum_length_.empty() ? 0 : cum_length_.back(); }
  /// The link at distance s along the links laid end to end (a length-weighted pick).
  const Link& link_at(double s) const;

 private:
  std::vector<Link> links_;
  std::vector<std::string> names_;
  std::vector<double> cum_length_;
  geo::Envelope bounds_;
};

/// Where copies of the network go: tiles_x x tiles_y copies side by side from (x0, y0) (the lower
/// left corner), each mirrored at random; mirror = false and 1 x 1 keeps the network as it is.
struct StreetLayout {
  double x0 = 0, y0 = 0;
  int tiles_x = 1, tiles_y = 1;
  bool in_place = true;  // the single copy at its real coordinates
};

/// The layout that covers Greater London (E 503000-561000, N 155000-201000) with copies.
StreetLayout greater_london_layout(const RoadNetwork& net);

/// Works and events along the streets of a layout; refs "W<n>" and "E<n>".
Workload make_street_workload(const RoadNetwork& net, const StreetLayout& layout, std::string name,
                              std::size_t works, std::size_t events, std::uint64_t seed);

/// The standard workload in `dir` (works_<works>.tsv, events.tsv) with its published counts.
Result<Workload> load_standard_workload(const std::string& dir, std::size_t works);

}  // namespace digonce::bench
