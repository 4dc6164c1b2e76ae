// Coordinate reference systems through PROJ: works arrive in any CRS PROJ knows (contract section
// 1, `crs`) and distances are measured in one metric CRS (contract section 2, EPSG:27700 by
// default).
//
// Ownership and threads: a CrsContext owns one PJ_CONTEXT and every PJ made from it (the CRSs and
// the cached Transforms); PROJ contexts are not thread-safe, so a CrsContext and the Transforms it
// hands out belong to one thread. Each stage (or thread) creates its own; what they share is the
// CrsDiagnostics object passed in the options, so that a warning about a missing grid is logged
// once per process however many contexts exist.
//
// Normalising a geometry to the metric CRS takes three steps, each an error of field "geometry":
//   1. t->check_source_area(s)   every vertex inside the source CRS's area of use
//   2. t->apply(s)               reproject (every result finite)
//   3. crs.check_metric_area(s)  every vertex inside the metric CRS's area of use
// CrsContext::project_to_metric does the three (e.g. a point in Australia given in EPSG:4326 passes
// step 1, since EPSG:4326 covers the world, and is caught by step 3 when the metric CRS is 27700).
//
// Choice of operation: PROJ's own (proj_create_crs_to_crs_from_pj with network access off). Where
// several operations are candidates, PROJ keeps them all and picks per point the most accurate one
// whose area of use holds the point ("Computation of coordinate operations between two CRS", PROJ
// docs, operations_computation.rst). For EPSG:4326 -> EPSG:27700 that is "OSGB36 to WGS 84 (9)"
// (the OSTN15 grid, about 1 mm against the OS test points) when uk_os_OSTN15_NTv2_OSGBtoETRS.tif
// is on the search path, and the "OSGB36 to WGS 84 (6)" Helmert (about 2 m) when it is not.
#pragma once

#include <proj.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "geo/bng_to_wgs84.h"
#include "geo/shape.h"

namespace digonce::geo {

/// The "logged once per process" state: shared (by shared_ptr) between every CrsContext of a
/// process, thread-safe. Counts what it logged so that tests need not read log text.
class CrsDiagnostics {
 public:
  /// Logs `message` as a spdlog warning the first time `key` is seen; true when it did.
  bool warn_once(const std::string& key, const std::string& message);
  /// How many distinct warnings have been logged.
  std::size_t warnings() const;
  /// Their text, in the order logged.
  std::vector<std::string> messages() const;

 private:
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> seen_;
  std::vector<std::string> messages_;
};

struct CrsOptions {
  std::string metric_crs = "EPSG:27700";  // distances are computed here; a projected CRS in metres
  /// Prepended to PROJ's search path (e.g. a folder holding the OSTN15 grid); PROJ's default
  /// path (PROJ_DATA, else /usr/share/proj on Debian, where proj.db is) stays after them.
  std::vector<std::string> search_paths;
  std::shared_ptr<CrsDiagnostics> diagnostics;  // created if null
};

class CrsContext;

/// PROJ's process-wide state (its default context, proj_info's static result) is not
/// thread-safe: every use of it here holds this lock.
std::mutex& proj_global_lock();

/// One operation from a source CRS to a target CRS, axis order normalised for GeoJSON
/// (x = easting/longitude, y = northing/latitude: proj_normalize_for_visualization).
/// Made and owned by a CrsContext; used on its thread (PROJ updates state inside the PJ).
class Transform {
 public:
  ~Transform();
  Transform(const Transform&) = delete;
  Transform& operator=(const Transform&) = delete;

  /// Every vertex in place (proj_trans_generic over the flat arrays). Error (field "geometry")
  /// naming the first vertex whose result is not finite; the shape is then left part-transformed.
  /// With a copy of PROJ's pipeline (fast_path()), vertex by vertex through apply(x, y) instead,
  /// so that a shape and its points single give the same numbers.
  Status apply(Shape& s) const;
  /// One point. EPSG:27700 -> EPSG:4326 through OSTN15 (alert locations, API output) goes through
  /// a copy of PROJ's pipeline that gives PROJ's numbers at a third of the cost
  /// (geo/bng_to_wgs84.h).
  Status apply(double& x, double& y) const;
  /// That copy, when this transform has one (null otherwise, and after it turned itself off).
  const BngToWgs84* fast_path() const { return fast_ && fast_->enabled() ? fast_.get() : nullptr; }
  /// Error (field "geometry") unless every vertex lies in the source CRS's area of use: PROJ's
  /// lon/lat box of it (proj_get_area_of_use), turned once, at creation, into a box in source
  /// coordinates (proj_trans_bounds, densified). The message names the first vertex outside and
  /// the area's name and box. Also an error: a projected source CRS given longitude/latitude by
  /// mistake, i.e. every vertex inside the area's lon/lat box read as degrees (for EPSG:27700,
  /// London's (-0.1, 51.5) would otherwise be metres by the false origin, in the sea off Scilly).
  Status check_source_area(const Shape& s) const;

  /// PROJ's name of the operation chosen (for the centre of the area both CRSs cover).
  const std::string& description() const { return description_; }
  /// The chosen operation uses a grid file (e.g. OSTN15).
  bool uses_grid() const { return uses_grid_; }
  /// A more accurate operation exists, but a grid it needs is not on the search path.
  bool degraded() const { return degraded_; }
  /// PROJ's accuracy of the chosen operation in metres; negative when unknown (or the identity: 0).
  double accuracy_m() const { return accuracy_m_; }
  const std::string& source_crs() const { return source_; }
  const std::string& target_crs() const { return target_; }
  /// The source area of use in source coordinates (infinite sides when PROJ gives none).
  const Envelope& source_box() const { return source_box_; }

 private:
  friend class CrsContext;
  Transform() = default;

  PJ* pj_ = nullptr;  // null: the identity
  PJ_CONTEXT* ctx_ = nullptr;
  std::unique_ptr<BngToWgs84> fast_;  // see fast_path()
  std::string source_;
  std::string target_;
  std::string description_ = "identity";
  bool uses_grid_ = false;
  bool degraded_ = false;
  double accuracy_m_ = 0;
  Envelope source_box_;
  std::string source_area_;  // "name; lon W..E, lat S..N" for messages
  // For a projected source with a known area: that area's lon/lat box (west > east when it
  // crosses the antimeridian), to recognise degrees sent as metres. Unset otherwise.
  bool lonlat_check_ = false;
  Envelope lonlat_area_;
};

/// PROJ for one thread: the metric CRS, the WGS 84 transforms and a cache of transforms by source.
class CrsContext {
 public:
  ~CrsContext();
  CrsContext(const CrsContext&) = delete;
  CrsContext& operator=(const CrsContext&) = delete;

  /// Errors (field "metric_crs") when the metric CRS is unknown or not projected in metres, or
  /// (no field) when PROJ cannot find proj.db.
  static Result<std::unique_ptr<CrsContext>> create(const CrsOptions& options);

  /// Source CRS ("EPSG:4326", "EPSG:27700", any AUTHORITY:CODE in PROJ's database; the authority
  /// in any case) -> metric CRS; made once per source, then cached (failures too). Unknown code:
  /// Error{"crs", "unknown CRS EPSG:XXXX"}; the identity when source == metric.
  Result<const Transform*> to_metric(std::string_view source_crs);
  /// Check source area, transform, check metric area (see the top of this file).
  Status project_to_metric(Shape& s, std::string_view source_crs);

  /// Metric CRS -> EPSG:4326 lon/lat (alert locations, API output), and back (API bbox queries).
  const Transform& metric_to_wgs84() const { return *metric_to_wgs84_; }
  const Transform& wgs84_to_metric() const { return *wgs84_to_metric_; }

  /// Error (field "geometry") unless every vertex (metric coordinates) lies in the metric CRS's
  /// area of use (same mechanism as Transform::check_source_area).
  Status check_metric_area(const Shape& s) const;
  /// The same for a shape projected from `as_given` (its vertices as sent, in `given_crs`): a
  /// vertex outside is named as it was sent, and the area said to be the metric CRS's.
  Status check_metric_area(const Shape& s, const Shape& as_given, std::string_view given_crs) const;
  const Envelope& metric_box() const { return metric_box_; }

  const std::string& metric_crs() const { return metric_crs_; }
  /// Whether the WGS 84 -> metric transform uses a grid (for EPSG:27700: the OSTN15 grid).
  bool grid_available() const { return wgs84_to_metric_->uses_grid(); }
  /// The search path PROJ uses here, in order.
  const std::vector<std::string>& search_paths() const { return search_paths_; }
  CrsDiagnostics& diagnostics() const { return *diagnostics_; }

 private:
  struct ContextDeleter {
    void operator()(PJ_CONTEXT* c) const { proj_context_destroy(c); }
  };
  struct PjDeleter {
    void operator()(PJ* p) const { proj_destroy(p); }
  };
  using PjPtr = std::unique_ptr<PJ, PjDeleter>;
  struct AreaOfUse;
  // Transparent hashing: to_metric looks up a string_view without allocating.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TransformMap =
      std::unordered_map<std::string, const Transform*, StringHash, std::equal_to<>>;

  CrsContext() = default;
  Error proj_error(const std::string& what) const;
  Result<PjPtr> create_crs(const std::string& name, const std::string& field) const;
  AreaOfUse area_of(PJ* crs, const std::string& name) const;
  Result<std::unique_ptr<Transform>> make_transform(PJ* source, const std::string& source_name,
                                                    PJ* target, const std::string& target_name);
  void diagnose(Transform& t, PJ* source, PJ* target, PJ* chosen);

  // Declared first so it is destroyed last: every PJ below belongs to it.
  std::unique_ptr<PJ_CONTEXT, ContextDeleter> ctx_;
  std::shared_ptr<CrsDiagnostics> diagnostics_;
  std::vector<std::string> search_paths_;
  std::string metric_crs_;
  PjPtr metric_pj_;
  PjPtr wgs84_pj_;
  Envelope metric_box_;
  std::string metric_area_;
  std::vector<std::unique_ptr<Transform>> transforms_;  // owns every Transform handed out
  const Transform* metric_to_wgs84_ = nullptr;
  const Transform* wgs84_to_metric_ = nullptr;
  TransformMap by_source_;  // as asked and normalised ("epsg:4326" and "EPSG:4326")
  std::unordered_map<std::string, Error, StringHash, std::equal_to<>> failed_;  // bounded
};

}  // namespace digonce::geo
