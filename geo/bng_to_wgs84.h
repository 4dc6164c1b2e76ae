// PROJ's British National Grid -> WGS 84 pipeline through the OSTN15 grid, copied for one point
// at a time: the engine turns every alert's metric location into longitude/latitude, and at a
// million live works that single proj_trans (about 400 ns: the multi-operation dispatch, the exact
// transverse Mercator, the grid's tiled GeoTIFF reader) was 7-10 % of the engine's thread.
//
// The copy gives PROJ's answer bit for bit, not an approximation of it:
//   - the inverse transverse Mercator is PROJ 9.1's exact one (Poder/Engsager, src/projections/
//     tmerc.cpp: exact_e_inv, gatg, clenS, and setup_exact's series) with its constants made as
//     PROJ makes them from the operation's PROJ string (ell_set.cpp, dmstor.cpp, inv.cpp);
//   - the grid shift is PROJ's bilinear interpolation (grids.cpp: pj_hgrid_interpolate) over the
//     grid's own float nodes, read through PROJ itself: each node's shift is what a bare
//     `+proj=hgridshift` step adds at the node, rounded back to the float it came from;
//   - the radian -> degree factor is unitconvert's (1 / DEG_TO_RAD).
// It is made only when PROJ chose exactly the pipeline it copies (the PROJ string is compared),
// it answers only for points inside both that operation's box in easting/northing (which is how
// PROJ 9.1's proj_trans decides to consider an operation: pj_get_suggested_operation) and its
// area of use, and inside the grid (PROJ answers the rest, so PROJ's choice among its
// alternatives stays PROJ's), and each block of grid nodes, when first read, is checked against
// PROJ at up to nine points inside it; one difference over 1e-12 degree (0.1 micrometre) turns
// the copy off for good and logs why. Nodes whose shift is under 2^-28 radian (about 2 cm; a band
// near 55 N in latitude) cannot be read back exactly through a double sum, so their cells are
// left to PROJ. Made only with PROJ 9.1 (whose code this copies), and only after its inverse
// transverse Mercator matched a bare PROJ tmerc step bit for bit at a few points (a proj.ini
// asking for another tmerc algorithm, or another PROJ, would not). Measured against PROJ on a
// 1 km lattice over Great Britain (869,716 points answered) and in tests/unit/test_crs.cc
// (318,752 points: at random over Great Britain and London, a 2 km lattice, and points it must
// leave to PROJ): all equal bit for bit. Cost here: 127 ns a point against PROJ's 415 ns.
//
// Not proven: that PROJ's list of operations for the pair stays as it is (OSTN15 first, the only
// one of 1 m; PROJ takes the first whose box holds the point, and only a more accurate onshore
// one could replace it). The block checks would see a different choice at their points.
//
// Not thread-safe, like the PJ it belongs to (the grid's blocks are read lazily).
#pragma once

#include <proj.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace digonce::geo {

class BngToWgs84 {
 public:
  /// The copy of `chosen` (the operation PROJ picked inside `pipeline`, the transform from
  /// EPSG:27700 to EPSG:4326 in GeoJSON axis order); null when `chosen` is not the pipeline this
  /// file copies or its grid cannot be read. `pipeline` is kept for the checks and must outlive
  /// the copy; `from_lonlat` (EPSG:4326 -> EPSG:27700, GeoJSON order) is used here only.
  static std::unique_ptr<BngToWgs84> make(PJ_CONTEXT* ctx, PJ* pipeline, PJ* chosen,
                                          PJ* from_lonlat);
  ~BngToWgs84();
  BngToWgs84(const BngToWgs84&) = delete;
  BngToWgs84& operator=(const BngToWgs84&) = delete;

  /// Easting/northing -> longitude/latitude (degrees) as PROJ would give them; false (and `lon`,
  /// `lat` untouched) for a point this copy leaves to PROJ.
  bool apply(double x, double y, double& lon, double& lat);

  /// False once a check against PROJ has failed.
  bool enabled() const { return enabled_; }
  /// Points answered here, and points left to PROJ.
  std::size_t answered() const { return answered_; }
  std::size_t declined() const { return declined_; }

 private:
  BngToWgs84() = default;
  struct Block;
  /// PROJ's inverse transverse Mercator (inv_prepare, exact_e_inv, inv_finalize): radians.
  bool inverse_tmerc(double x, double y, double& lam, double& phi) const;
  const Block* block(int bx, int by);
  bool check_block(int bx, int by);

  PJ* pipeline_ = nullptr;  // not owned
  PJ* shift_ = nullptr;     // "+proj=hgridshift +grids=<the grid's full path>", owned

  // The transverse Mercator's constants (PROJ's tmerc_data::exact and the PJ's own).
  double ra_ = 0, lam0_ = 0, x0_ = 0, y0_ = 0, qn_ = 0, zb_ = 0;
  std::array<double, 6> cgb_{}, utg_{};

  // The operation's area of use (radians, shrunk by 0.01 degree on each side), and the box PROJ
  // tests the input against to consider the operation at all (easting/northing, shrunk by 1 km).
  double area_west_ = 0, area_south_ = 0, area_east_ = 0, area_north_ = 0;
  double box_minx_ = 0, box_miny_ = 0, box_maxx_ = 0, box_maxy_ = 0;

  // The grid (radians), read in blocks of kBlock x kBlock cells on first use.
  double west_ = 0, south_ = 0, res_x_ = 0, res_y_ = 0;
  int width_ = 0, height_ = 0, blocks_x_ = 0, blocks_y_ = 0;
  std::vector<std::unique_ptr<Block>> blocks_;

  bool enabled_ = true;
  std::size_t answered_ = 0, declined_ = 0;
};

}  // namespace digonce::geo
