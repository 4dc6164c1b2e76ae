// Highway authorities located by point: the `highway_authorities` of an alert (contract section 3)
// and the authority a work is derived to belong to when it names none (contract section 1).
//
// The areas come from a GeoJSON FeatureCollection of (Multi)Polygons (London: the borough
// boundaries of the London Datastore), reprojected once into the metric CRS. A lookup goes through
// a GEOS STRtree of the polygons' envelopes (Sort-Tile-Recursive packing: Leutenegger, Lopez and
// Edgington, "STR: a simple and efficient algorithm for R-tree packing", ICDE 1997) and then a
// prepared-geometry "covers" test on the few candidates (GEOS's IndexedPointInAreaLocator, an
// interval index over the ring segments), so its cost grows with the log of the number of areas
// and of their vertices, not with either.
//
// Ownership and threads: an AuthorityMap owns its GEOS geometries, prepared geometries and tree,
// all made on the context of the Geos given to load(); it keeps a pointer to that Geos, which must
// outlive it, and is used on that Geos's thread only (GEOS contexts are not thread-safe, and the
// tree and the prepared geometries build their indexes lazily, on first use). A thread that needs
// lookups loads its own map with its own Geos. The map is movable (the pointer moves with it).
#pragma once

#include <geos_c.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"
#include "geo/crs.h"
#include "geo/geos.h"
#include "geo/shape.h"

namespace digonce::geo {

struct Authority {
  std::string code;  // as reported in alerts (e.g. the Street Works Act code "5990")
  std::string name;  // "Westminster"
};

struct AuthorityOptions {
  /// A GeoJSON FeatureCollection of (Multi)Polygons in EPSG:4326 (CRS84); a collection-level
  /// "crs" member naming another CRS PROJ knows is honoured.
  std::string path;
  std::string code_property = "gss_code";
  std::string name_property = "name";
  /// Optional: maps code_property values to the codes to report (e.g. GSS -> Street Works Act
  /// code). A feature whose value is not in a non-empty map keeps its value, with a warning.
  std::map<std::string, std::string> codes;
};

/// Reads the authorities YAML (config/london-authorities.yaml):
///   file: london/boroughs.geojson     # relative to data_dir unless absolute
///   code_property: gss_code           # optional
///   name_property: name               # optional
///   codes: {E09000033: "5990", ...}   # optional
/// Errors name the key at fault ("codes.E09000033"), or none for an unreadable file.
Result<AuthorityOptions> load_authority_options(const std::string& yaml_path,
                                                const std::string& data_dir);

/// Frees a GEOS STRtree on the context it was made on. (Outside AuthorityMap: a nested class's
/// default member initializer is not usable inside the enclosing class, which unique_ptr needs.)
struct StrTreeDeleter {
  GEOSContextHandle_t h = nullptr;
  void operator()(GEOSSTRtree* t) const { GEOSSTRtree_destroy_r(h, t); }
};

class AuthorityMap {
 public:
  /// The polygons are reprojected to the metric CRS of `crs` and made valid where they are not.
  /// `geos` must outlive the map (see the top of this file).
  static Result<AuthorityMap> load(const AuthorityOptions& options, CrsContext& crs, Geos& geos);
  /// The same from GeoJSON text (options.path only names it in messages).
  static Result<AuthorityMap> parse(std::string_view geojson, const AuthorityOptions& options,
                                    CrsContext& crs, Geos& geos);

  AuthorityMap(AuthorityMap&&) noexcept = default;
  AuthorityMap& operator=(AuthorityMap&&) noexcept = default;
  ~AuthorityMap();

  /// The authorities whose area covers the metric point (covers: a point on a shared boundary
  /// belongs to both), sorted by code; empty outside every area. Answered from a grid of cells
  /// where the point's cell lies wholly inside one authority's area or outside every area (most
  /// of a map: each cell is tested once, on its first lookup); a cell a boundary crosses is cut
  /// into kSplit x kSplit sub-cells, tested the same way; a point in a sub-cell a boundary
  /// crosses is answered by at_exact().
  std::vector<const Authority*> at(double x, double y) const;
  /// The same through the tree and the covers tests, without the cells.
  std::vector<const Authority*> at_exact(double x, double y) const;
  /// The cells' side in metres (set at load: at least 250 m, at most about a million cells).
  double cell_size() const { return cell_; }
  /// The corner of cell (0, 0): cell (i, j) starts at origin + (i, j) * cell_size().
  std::pair<double, double> cell_origin() const { return {grid_x_, grid_y_}; }
  /// Sub-cells per side of a cell that a boundary crosses.
  static constexpr std::size_t kSplit = 8;
  /// Every authority, sorted by code. Several features with one code make one authority.
  const std::vector<Authority>& all() const { return authorities_; }
  /// The metric envelope of an authority's area (for "works in its area" queries), or nullopt
  /// for an unknown code.
  std::optional<Envelope> envelope_of(std::string_view code) const;
  /// Every authority's area as a GeoJSON FeatureCollection in EPSG:4326 (through `to_wgs84`,
  /// the metric CRS's transform), for maps: each a Feature with properties {code, name} and a
  /// MultiPolygon simplified to `tolerance_m` (GEOS TopologyPreserveSimplify, in the metric CRS),
  /// coordinates to 6 decimals (~0.1 m). A part that cannot be transformed is left out, with a
  /// warning. Each part is simplified alone, so neighbours' shared edges may part by up to the
  /// tolerance. Not for concurrent use (the map's GEOS context, the transform): made once.
  std::string areas_geojson(const Transform& to_wgs84, double tolerance_m) const;
  /// By code, else by name (ASCII case-insensitive); null when neither matches.
  const Authority* find(std::string_view code_or_name) const;
  /// The authority of a work that names none (contract section 1: "derived from the
  /// location"): the first by code of those covering a representative point of the metric
  /// shape: a point's first point, the point halfway along a line's first path, a point on a
  /// polygon's surface (GEOS PointOnSurface). Null when no area covers it.
  const Authority* of_shape(const Shape& s) const;
  /// Every authority whose area the metric shape meets (touches or crosses), sorted by code:
  /// whose works these are to read ("works in its area", the authority role). From the cells
  /// where the shape's cells lie wholly inside one area or outside every area, else exact
  /// (GEOS prepared intersects on the areas the tree gives). Like at(), it fills the cells as it
  /// goes: one thread per map.
  std::vector<const Authority*> meeting(const Shape& s) const;
  /// The same through the tree and the intersects tests, without the cells.
  std::vector<const Authority*> meeting_exact(const Shape& s) const;

 private:
  /// One polygon of an authority's area: the tree indexes parts, so a multipolygon's far-apart
  /// pieces (an island, an exclave) each get a tight envelope.
  struct Part {
    std::uint32_t authority = 0;
    Geos::GeomPtr geometry;
    Geos::PreparedPtr prepared;  // after `geometry`: destroyed first, it refers to it
  };

  AuthorityMap() = default;

  Geos* geos_ = nullptr;
  std::vector<Authority> authorities_;  // sorted by code
  std::vector<Envelope> envelopes_;     // per authority
  std::vector<Part> parts_;
  // Items: pointers to elements of parts_, which is complete before the first insert and never
  // changes after; moving the map moves the vector's buffer, not its elements.
  std::unique_ptr<GEOSSTRtree, StrTreeDeleter> tree_;

  // The cells over the areas' envelope, and the sub-cells: 0 not yet tested, kMixed (near a
  // boundary: at_exact), kNone (outside every area), or kFirstAuthority + the index of the one
  // authority covering it. A mixed cell holds kSplitCell + the index of its block of
  // kSplit x kSplit sub-cells in sub_cells_.
  static constexpr std::uint32_t kMixed = 1, kNone = 2, kFirstAuthority = 3;
  static constexpr std::uint32_t kSplitCell = 0x80000000u;
  /// What covers the square box of side `size` at (x0, y0).
  std::uint32_t classify_box(double x0, double y0, double size) const;
  /// Cell (i, j), classified on first use (a mixed cell gets its block of sub-cells).
  std::uint32_t cell(std::size_t i, std::size_t j) const;
  /// The authorities (sorted by code, once each) of the parts the tree gives for g that pass
  /// `test` (GEOSPreparedCovers_r, GEOSPreparedIntersects_r).
  using PreparedTest = char (*)(GEOSContextHandle_t, const GEOSPreparedGeometry*,
                                const GEOSGeometry*);
  std::vector<const Authority*> parts_where(const GEOSGeometry* g, PreparedTest test) const;
  /// Authority indexes as authorities, sorted by code, once each.
  std::vector<const Authority*> authorities_of(std::vector<std::uint32_t> hits) const;
  double cell_ = 0, grid_x_ = 0, grid_y_ = 0;
  std::size_t nx_ = 0, ny_ = 0;
  mutable std::vector<std::uint32_t> cells_;
  mutable std::vector<std::uint32_t> sub_cells_;
};

}  // namespace digonce::geo
