#include "geo/bng_to_wgs84.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <string_view>

#include "geo/crs.h"

// The arithmetic below must run as PROJ's does: geo/CMakeLists.txt builds this file with
// -ffp-contract=off (no fused multiply-adds, which a -march with FMA would otherwise allow).

namespace digonce::geo {

namespace {

constexpr int kOrder = 6;                          // PROJ_ETMERC_ORDER
constexpr double kDegToRad = .017453292519943296;  // PROJ's DEG_TO_RAD, as its units table has it
constexpr int kBlock = 64;                         // grid cells a side in one block read at once
constexpr double kAreaMargin = 0.01;       // degrees kept from the area's edges (about 1 km)
constexpr double kBoxMargin = 1000;        // metres kept from the edges of PROJ's box
constexpr double kCheckTolerance = 1e-12;  // degrees
// A node's shift is read back as (node + shift) - node in doubles; below this (radians) the
// float it came from is finer than the double sum keeps, and the cells around are left to PROJ.
constexpr double kLeastShift = 0x1p-28;

// The operation this file copies, as PROJ 9.1 writes the one it picks (proj_as_proj_string).
constexpr std::string_view kPipeline =
    "+proj=pipeline +step +inv +proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 "
    "+y_0=-100000 +ellps=airy +step +proj=hgridshift +grids=uk_os_OSTN15_NTv2_OSGBtoETRS.tif "
    "+step +proj=unitconvert +xy_in=rad +xy_out=deg";
constexpr const char* kShiftStep = "+proj=hgridshift +grids=uk_os_OSTN15_NTv2_OSGBtoETRS.tif";

// tmerc.cpp: real Clenshaw summation for the Gaussian <-> geodetic latitude.
double gatg(const double* p1, int len_p1, double B, double cos_2B, double sin_2B) {
  double h = 0, h1, h2 = 0;
  const double two_cos_2B = 2 * cos_2B;
  const double* p = p1 + len_p1;
  h1 = *--p;
  while (p - p1) {
    h = -h2 + two_cos_2B * h1 + *--p;
    h2 = h1;
    h1 = h;
  }
  return (B + h * sin_2B);
}

// tmerc.cpp: complex Clenshaw summation.
double clenS(const double* a, int size, double sin_arg_r, double cos_arg_r, double sinh_arg_i,
             double cosh_arg_i, double* R, double* I) {
  double r, i, hr, hr1, hr2, hi, hi1, hi2;
  const double* p = a + size;
  r = 2 * cos_arg_r * cosh_arg_i;
  i = -2 * sin_arg_r * sinh_arg_i;
  hi1 = hr1 = hi = 0;
  hr = *--p;
  for (; a - p;) {
    hr2 = hr1;
    hi2 = hi1;
    hr1 = hr;
    hi1 = hi;
    hr = -hr2 + r * hr1 - i * hi1 + *--p;
    hi = -hi2 + i * hr1 + r * hi1;
  }
  r = sin_arg_r * cosh_arg_i;
  i = cos_arg_r * sinh_arg_i;
  *R = r * hr - i * hi;
  *I = r * hi + i * hr;
  return *R;
}

// tmerc.cpp: real Clenshaw summation (setup only).
double clens(const double* a, int size, double arg_r) {
  double r, hr, hr1, hr2, cos_arg_r;
  const double* p = a + size;
  cos_arg_r = cos(arg_r);
  r = 2 * cos_arg_r;
  hr1 = 0;
  hr = *--p;
  for (; a - p;) {
    hr2 = hr1;
    hr1 = hr;
    hr = -hr2 + r * hr1 + *--p;
  }
  return sin(arg_r) * hr;
}

}  // namespace

struct BngToWgs84::Block {
  // (kBlock + 1)^2 nodes, row by row; NaN where PROJ gave no shift (or beyond the grid).
  std::vector<float> lon, lat;
};

BngToWgs84::~BngToWgs84() {
  if (shift_) proj_destroy(shift_);
}

std::unique_ptr<BngToWgs84> BngToWgs84::make(PJ_CONTEXT* ctx, PJ* pipeline, PJ* chosen,
                                             PJ* from_lonlat) {
  if (!ctx || !pipeline || !chosen || !from_lonlat) return nullptr;
  const char* text = proj_as_proj_string(ctx, chosen, PJ_PROJ_5, nullptr);
  if (!text || std::string_view(text) != kPipeline) return nullptr;
  const char* full_name = nullptr;
  int available = 0;
  if (proj_coordoperation_get_grid_used_count(ctx, chosen) != 1 ||
      !proj_coordoperation_get_grid_used(ctx, chosen, 0, nullptr, &full_name, nullptr, nullptr,
                                         nullptr, nullptr, &available) ||
      !available || !full_name || !*full_name)
    return nullptr;
  double w = 0, s = 0, e = 0, n = 0;
  if (!proj_get_area_of_use(ctx, chosen, &w, &s, &e, &n, nullptr) || w < -180 || e < w)
    return nullptr;
  // proj_info and proj_grid_info use PROJ's process-wide state (the default context).
  PJ_GRID_INFO info;
  {
    std::lock_guard lock(proj_global_lock());
    const PJ_INFO version = proj_info();
    if (version.major != 9 || version.minor != 1) return nullptr;  // the PROJ this copies
    info = proj_grid_info(full_name);
  }
  if (info.n_lon < 2 || info.n_lat < 2 || !(info.cs_lon > 0) || !(info.cs_lat > 0)) return nullptr;

  // The box PROJ tests an input point against (4D_api.cpp, reproject_bbox: the area's lon/lat
  // box in the source's geographic CRS, 21 points an edge, projected). Here the same box through
  // WGS 84 (some 100 m from OSGB36 in Great Britain), shrunk by 1 km.
  double box[4];
  if (!proj_trans_bounds(ctx, from_lonlat, PJ_FWD, w, s, e, n, &box[0], &box[1], &box[2], &box[3],
                         21) ||
      !std::isfinite(box[0]) || !std::isfinite(box[1]) || !std::isfinite(box[2]) ||
      !std::isfinite(box[3]))
    return nullptr;

  std::unique_ptr<BngToWgs84> c(new BngToWgs84());
  c->pipeline_ = pipeline;
  c->box_minx_ = box[0] + kBoxMargin;
  c->box_miny_ = box[1] + kBoxMargin;
  c->box_maxx_ = box[2] - kBoxMargin;
  c->box_maxy_ = box[3] - kBoxMargin;
  c->shift_ = proj_create(ctx, kShiftStep);
  if (!c->shift_) return nullptr;
  c->area_west_ = (w + kAreaMargin) * kDegToRad;
  c->area_south_ = (s + kAreaMargin) * kDegToRad;
  c->area_east_ = (e - kAreaMargin) * kDegToRad;
  c->area_north_ = (n - kAreaMargin) * kDegToRad;
  c->west_ = info.lowerleft.lam;
  c->south_ = info.lowerleft.phi;
  c->res_x_ = info.cs_lon;
  c->res_y_ = info.cs_lat;
  c->width_ = info.n_lon;
  c->height_ = info.n_lat;
  c->blocks_x_ = (c->width_ - 2) / kBlock + 1;
  c->blocks_y_ = (c->height_ - 2) / kBlock + 1;
  c->blocks_.resize(static_cast<std::size_t>(c->blocks_x_) * c->blocks_y_);

  // The constants, as PROJ makes them from the PROJ string: +ellps=airy is a=6377563.396,
  // rf=299.3249646 (ellps.cpp); ell_set.cpp derives es, then n from the angular eccentricity;
  // dmstor.cpp turns degrees into radians by DEG_TO_RAD; tmerc.cpp's setup_exact does the rest.
  // The parameters are read through volatiles so that the compiler cannot fold the libm calls
  // on them (GCC folds with MPFR, correctly rounded; PROJ calls glibc at run time).
  const volatile double a_param = 6377563.396, rf_param = 299.3249646, k_param = 0.9996012717;
  const volatile double lat0_param = 49, lon0_param = -2;
  const double a = a_param, rf = rf_param;
  const double f = 1 / rf;
  const double es = 2 * f - f * f;
  const double alpha = asin(sqrt(es));
  const double nn = pow(tan(alpha / 2), 2);
  const double k0 = k_param;
  const double phi0 = lat0_param * kDegToRad;
  c->ra_ = 1. / a;
  c->lam0_ = lon0_param * kDegToRad;
  c->x0_ = 400000;
  c->y0_ = -100000;
  double np = nn;
  const double n1 = nn;
  std::array<double, 6> cbg{}, gtu{};
  auto& cgb = c->cgb_;
  auto& utg = c->utg_;
  // clang-format off
  cgb[0] = n1*( 2 + n1*(-2/3.0  + n1*(-2      + n1*(116/45.0 + n1*(26/45.0 + n1*(-2854/675.0 ))))));
  cbg[0] = n1*(-2 + n1*( 2/3.0  + n1*( 4/3.0  + n1*(-82/45.0 + n1*(32/45.0 + n1*( 4642/4725.0))))));
  np *= n1;
  cgb[1] = np*(7/3.0 + n1*( -8/5.0  + n1*(-227/45.0 + n1*(2704/315.0 + n1*( 2323/945.0)))));
  cbg[1] = np*(5/3.0 + n1*(-16/15.0 + n1*( -13/9.0  + n1*( 904/315.0 + n1*(-1522/945.0)))));
  np *= n1;
  cgb[2] = np*( 56/15.0  + n1*(-136/35.0 + n1*(-1262/105.0 + n1*( 73814/2835.0))));
  cbg[2] = np*(-26/15.0  + n1*(  34/21.0 + n1*(    8/5.0   + n1*(-12686/2835.0))));
  np *= n1;
  cgb[3] = np*(4279/630.0 + n1*(-332/35.0 + n1*(-399572/14175.0)));
  cbg[3] = np*(1237/630.0 + n1*( -12/5.0  + n1*( -24832/14175.0)));
  np *= n1;
  cgb[4] = np*(4174/315.0 + n1*(-144838/6237.0 ));
  cbg[4] = np*(-734/315.0 + n1*( 109598/31185.0));
  np *= n1;
  cgb[5] = np*(601676/22275.0 );
  cbg[5] = np*(444337/155925.0);
  np = n1*n1;
  c->qn_ = k0/(1 + n1) * (1 + np*(1/4.0 + np*(1/64.0 + np/256.0)));
  utg[0] = n1*(-0.5  + n1*( 2/3.0 + n1*(-37/96.0 + n1*( 1/360.0 + n1*(  81/512.0 + n1*(-96199/604800.0))))));
  gtu[0] = n1*( 0.5  + n1*(-2/3.0 + n1*(  5/16.0 + n1*(41/180.0 + n1*(-127/288.0 + n1*(  7891/37800.0 ))))));
  utg[1] = np*(-1/48.0 + n1*(-1/15.0 + n1*(437/1440.0 + n1*(-46/105.0 + n1*( 1118711/3870720.0)))));
  gtu[1] = np*(13/48.0 + n1*(-3/5.0  + n1*(557/1440.0 + n1*(281/630.0 + n1*(-1983433/1935360.0)))));
  np *= n1;
  utg[2] = np*(-17/480.0 + n1*(  37/840.0 + n1*(  209/4480.0  + n1*( -5569/90720.0 ))));
  gtu[2] = np*( 61/240.0 + n1*(-103/140.0 + n1*(15061/26880.0 + n1*(167603/181440.0))));
  np *= n1;
  utg[3] = np*(-4397/161280.0 + n1*(  11/504.0 + n1*( 830251/7257600.0)));
  gtu[3] = np*(49561/161280.0 + n1*(-179/168.0 + n1*(6601661/7257600.0)));
  np *= n1;
  utg[4] = np*(-4583/161280.0 + n1*(  108847/3991680.0));
  gtu[4] = np*(34729/80640.0  + n1*(-3418889/1995840.0));
  np *= n1;
  utg[5] = np*(-20648693/638668800.0);
  gtu[5] = np*(212378941/319334400.0);
  // clang-format on
  const double Z = gatg(cbg.data(), kOrder, phi0, cos(2 * phi0), sin(2 * phi0));
  c->zb_ = -c->qn_ * (Z + clens(gtu.data(), kOrder, 2 * Z));

  // The inverse transverse Mercator against PROJ's own step, bit for bit (a proj.ini that asks
  // for the Evenden/Snyder algorithm, or a PROJ that computes otherwise, ends here).
  {
    using Pj = std::unique_ptr<PJ, decltype(&proj_destroy)>;
    Pj tmerc(proj_create(ctx,
                         "+proj=pipeline +step +inv +proj=tmerc +lat_0=49 +lon_0=-2 "
                         "+k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy"),
             &proj_destroy);
    if (!tmerc) return nullptr;
    constexpr double kAt[][2] = {{530624.974, 178388.464},  {91492.146, 11318.804},
                                 {639821.835, 169565.858},  {331534.552, 431920.792},
                                 {261912.151, 1147259.901}, {180000.5, 850000.25}};
    for (const auto& at : kAt) {
      const PJ_COORD want = proj_trans(tmerc.get(), PJ_FWD, proj_coord(at[0], at[1], 0, HUGE_VAL));
      double lam = 0, phi = 0;
      if (!c->inverse_tmerc(at[0], at[1], lam, phi) || lam != want.lp.lam || phi != want.lp.phi) {
        spdlog::info(
            "EPSG:27700 -> EPSG:4326: PROJ's transverse Mercator differs from the copy in "
            "geo/bng_to_wgs84.cc at ({}, {}); PROJ answers every point",
            at[0], at[1]);
        return nullptr;
      }
    }
  }
  spdlog::debug("EPSG:27700 -> EPSG:4326: PROJ's OSTN15 pipeline copied for single points ({})",
                full_name);
  return c;
}

const BngToWgs84::Block* BngToWgs84::block(int bx, int by) {
  auto& slot = blocks_[static_cast<std::size_t>(by) * blocks_x_ + bx];
  if (slot) return slot.get();
  auto b = std::make_unique<Block>();
  constexpr int side = kBlock + 1;
  b->lon.assign(side * side, std::numeric_limits<float>::quiet_NaN());
  b->lat.assign(side * side, std::numeric_limits<float>::quiet_NaN());
  for (int j = 0; j < side; ++j) {
    const int gj = by * kBlock + j;
    if (gj >= height_) break;
    for (int i = 0; i < side; ++i) {
      const int gi = bx * kBlock + i;
      if (gi >= width_) break;
      // The node's shift is what the grid step adds there (the node's own float, since every
      // other weight of the interpolation is zero or within 1e-15 of it); rounding the double
      // difference back to float undoes the addition's rounding.
      const double lam = west_ + gi * res_x_;
      const double phi = south_ + gj * res_y_;
      PJ_COORD out = proj_trans(shift_, PJ_FWD, proj_coord(lam, phi, 0, HUGE_VAL));
      if (out.lp.lam == HUGE_VAL || !std::isfinite(out.lp.lam) || !std::isfinite(out.lp.phi))
        continue;
      const double d_lam = out.lp.lam - lam, d_phi = out.lp.phi - phi;
      if (std::fabs(d_lam) < kLeastShift || std::fabs(d_phi) < kLeastShift) continue;
      b->lon[j * side + i] = static_cast<float>(d_lam);
      b->lat[j * side + i] = static_cast<float>(d_phi);
    }
  }
  proj_errno_reset(shift_);
  slot = std::move(b);
  if (!check_block(bx, by)) {
    enabled_ = false;
    return nullptr;
  }
  return slot.get();
}

// Points inside the block, through PROJ and through the copy; the copy stays on only if every
// one it answers agrees to kCheckTolerance.
bool BngToWgs84::check_block(int bx, int by) {
  constexpr double kAt[] = {0.5, 0.25, 0.75};
  for (double fx : kAt) {
    for (double fy : kAt) {
      const double lam = west_ + (bx + fx) * kBlock * res_x_;
      const double phi = south_ + (by + fy) * kBlock * res_y_;
      // Some easting/northing near that node (PROJ's inverse, from lon/lat in degrees).
      PJ_COORD p =
          proj_trans(pipeline_, PJ_INV, proj_coord(lam / kDegToRad, phi / kDegToRad, 0, HUGE_VAL));
      proj_errno_reset(pipeline_);
      if (!std::isfinite(p.xy.x) || !std::isfinite(p.xy.y)) continue;
      PJ_COORD want = proj_trans(pipeline_, PJ_FWD, proj_coord(p.xy.x, p.xy.y, 0, HUGE_VAL));
      proj_errno_reset(pipeline_);
      double lon = 0, lat = 0;
      const std::size_t answered = answered_, declined = declined_;
      const bool ours = apply(p.xy.x, p.xy.y, lon, lat);
      answered_ = answered;
      declined_ = declined;
      if (!ours) continue;
      const double d = std::max(std::fabs(lon - want.xy.x), std::fabs(lat - want.xy.y));
      if (!(d <= kCheckTolerance)) {
        spdlog::warn(
            "EPSG:27700 -> EPSG:4326: the copy of PROJ's OSTN15 pipeline gives ({:.12f}, {:.12f}) "
            "at ({:.3f}, {:.3f}) where PROJ gives ({:.12f}, {:.12f}); PROJ answers every point "
            "from now on",
            lon, lat, p.xy.x, p.xy.y, want.xy.x, want.xy.y);
        return false;
      }
    }
  }
  return true;
}

bool BngToWgs84::inverse_tmerc(double x, double y, double& lam, double& phi) const {
  // inv.cpp, inv_prepare: de-offset (to_meter is 1) and scale by 1/a.
  x = x - x0_;
  y = y - y0_;
  x *= ra_;
  y *= ra_;
  // tmerc.cpp, exact_e_inv.
  double Cn = (y - zb_) / qn_;
  double Ce = x / qn_;
  if (!(std::fabs(Ce) <= 2.623395162778)) return false;
  const double sin_arg_r = sin(2 * Cn);
  const double cos_arg_r = cos(2 * Cn);
  const double exp_2_Ce = exp(2 * Ce);
  const double half_inv_exp_2_Ce = 0.5 / exp_2_Ce;
  const double sinh_arg_i = 0.5 * exp_2_Ce - half_inv_exp_2_Ce;
  const double cosh_arg_i = 0.5 * exp_2_Ce + half_inv_exp_2_Ce;
  double dCn_ignored, dCe;
  Cn +=
      clenS(utg_.data(), kOrder, sin_arg_r, cos_arg_r, sinh_arg_i, cosh_arg_i, &dCn_ignored, &dCe);
  Ce += dCe;
  const double sin_Cn = sin(Cn);
  const double cos_Cn = cos(Cn);
  const double sinhCe = sinh(Ce);
  Ce = atan2(sinhCe, cos_Cn);
  const double modulus_Ce = hypot(sinhCe, cos_Cn);
  Cn = atan2(sin_Cn, modulus_Ce);
  const double tmp = 2 * modulus_Ce / (sinhCe * sinhCe + 1);
  const double sin_2_Cn = sin_Cn * tmp;
  const double cos_2_Cn = tmp * modulus_Ce - 1.;
  phi = gatg(cgb_.data(), kOrder, Cn, cos_2_Cn, sin_2_Cn);
  // inv.cpp, inv_finalize: back to Greenwich (from_greenwich is 0; adjlon changes nothing here).
  lam = Ce + lam0_;
  return true;
}

bool BngToWgs84::apply(double x, double y, double& lon, double& lat) {
  // PROJ considers this operation only for a point inside its box (and keeps its others for the
  // rest); NaN fails every comparison.
  double lam = 0, phi = 0;
  if (!enabled_ || !(x > box_minx_ && x < box_maxx_ && y > box_miny_ && y < box_maxy_) ||
      !inverse_tmerc(x, y, lam, phi) ||
      !(lam > area_west_ && lam < area_east_ && phi > area_south_ && phi < area_north_)) {
    ++declined_;
    return false;
  }

  // grids.cpp, pj_hgrid_apply_internal (forward) and pj_hgrid_interpolate.
  double tl = lam - west_;
  double tp = phi - south_;
  tl /= res_x_;
  tp /= res_y_;
  const int il = static_cast<int>(std::lround(std::floor(tl)));
  const int ip = static_cast<int>(std::lround(std::floor(tp)));
  double fl = tl - il;
  double fp = tp - ip;
  if (il < 0 || ip < 0 || il + 1 >= width_ || ip + 1 >= height_) {
    ++declined_;
    return false;
  }
  const Block* b = block(il / kBlock, ip / kBlock);
  if (!b || !enabled_) {  // (a block read for the check of this one may have failed its own)
    ++declined_;
    return false;
  }
  constexpr int side = kBlock + 1;
  const int k = (ip % kBlock) * side + il % kBlock;
  const float f00Lon = b->lon[k], f10Lon = b->lon[k + 1];
  const float f01Lon = b->lon[k + side], f11Lon = b->lon[k + side + 1];
  const float f00Lat = b->lat[k], f10Lat = b->lat[k + 1];
  const float f01Lat = b->lat[k + side], f11Lat = b->lat[k + side + 1];
  if (std::isnan(f00Lon) || std::isnan(f10Lon) || std::isnan(f01Lon) || std::isnan(f11Lon) ||
      std::isnan(f00Lat) || std::isnan(f10Lat) || std::isnan(f01Lat) || std::isnan(f11Lat)) {
    ++declined_;
    return false;
  }
  double m10 = fl;
  double m11 = m10;
  double m01 = 1. - fl;
  double m00 = m01;
  m11 *= fp;
  m01 *= fp;
  fp = 1. - fp;
  m00 *= fp;
  m10 *= fp;
  lam += m00 * f00Lon + m10 * f10Lon + m01 * f01Lon + m11 * f11Lon;
  phi += m00 * f00Lat + m10 * f10Lat + m01 * f01Lat + m11 * f11Lat;

  // unitconvert: radians -> degrees by the factor 1 / DEG_TO_RAD.
  constexpr double kToDeg = 1.0 / kDegToRad;
  lon = lam * kToDeg;
  lat = phi * kToDeg;
  ++answered_;
  return true;
}

}  // namespace digonce::geo
