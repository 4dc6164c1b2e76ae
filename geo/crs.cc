#include "geo/crs.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>

namespace digonce::geo {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Points per side when proj_trans_bounds densifies the area-of-use box: PROJ's own default
// (and GDAL's), enough for the curvature of a national grid's edges.
constexpr int kDensifyPoints = 21;
// Garbage CRS names are cached as failures (so a flood of them costs no database look-ups) up to
// this many; past it they are looked up each time rather than growing memory without bound.
constexpr std::size_t kMaxCachedFailures = 1024;

/// "epsg:4326" -> "EPSG:4326": an AUTHORITY:CODE name with the authority upper-cased, or nullopt
/// for anything else. PROJ strings, WKT and file names are refused on purpose: the name comes
/// from submitted works, and proj_create would read files (+init=) or parse anything.
std::optional<std::string> normalize_name(std::string_view name) {
  auto colon = name.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == name.size()) return {};
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < colon; ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (!std::isalnum(c) && c != '_') return {};
    out.push_back(static_cast<char>(std::toupper(c)));
  }
  out.push_back(':');
  for (std::size_t i = colon + 1; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') return {};
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::string fmt_box(const Envelope& b) {
  return fmt::format("x {:.10g}..{:.10g}, y {:.10g}..{:.10g}", b.minx, b.maxx, b.miny, b.maxy);
}

Status check_box(const Shape& s, const Envelope& box, const std::string& crs,
                 const std::string& area) {
  for (std::size_t i = 0; i + 1 < s.xy.size(); i += 2) {
    double x = s.xy[i], y = s.xy[i + 1];
    // Written so that NaN fails too.
    if (x >= box.minx && x <= box.maxx && y >= box.miny && y <= box.maxy) continue;
    return Error{"geometry",
                 fmt::format("vertex {} ({}, {}) is outside the area of use of {} ({}; in "
                             "{}: {})",
                             i / 2, x, y, crs, area, crs, fmt_box(box))};
  }
  return Status::Ok();
}

void log_from_proj(void*, int level, const char* message) {
  // PROJ's failures reach the caller as values (proj_context_errno); its log is only detail.
  if (level <= PJ_LOG_ERROR) spdlog::debug("PROJ: {}", message ? message : "");
}

}  // namespace

// --- CrsDiagnostics --------------------------------------------------------------------------

bool CrsDiagnostics::warn_once(const std::string& key, const std::string& message) {
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(key).second) return false;
    messages_.push_back(message);
  }
  spdlog::warn("{}", message);
  return true;
}

std::size_t CrsDiagnostics::warnings() const {
  std::lock_guard lock(mu_);
  return messages_.size();
}

std::vector<std::string> CrsDiagnostics::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

std::mutex& proj_global_lock() {
  static std::mutex lock;
  return lock;
}

// --- Transform -------------------------------------------------------------------------------

Transform::~Transform() {
  if (pj_) proj_destroy(pj_);
}

Status Transform::apply(Shape& s) const {
  const std::size_t n = s.vertex_count();
  if (n == 0) return Status::Ok();
  if (fast_path()) {
    // Vertex by vertex, as single points go; up to the first that fails, which the check below
    // names (with the errno PROJ left for it).
    for (std::size_t i = 0; i < n; ++i)
      if (!apply(s.xy[2 * i], s.xy[2 * i + 1]).ok()) break;
  } else if (pj_) {
    proj_errno_reset(pj_);
    constexpr std::size_t stride = 2 * sizeof(double);
    proj_trans_generic(pj_, PJ_FWD, s.xy.data(), stride, n, s.xy.data() + 1, stride, n, nullptr, 0,
                       0, nullptr, 0, 0);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isfinite(s.xy[2 * i]) && std::isfinite(s.xy[2 * i + 1])) continue;
    int err = pj_ ? proj_errno(pj_) : 0;
    return Error{"geometry", fmt::format("vertex {} cannot be transformed from {} to {}: {}", i,
                                         source_, target_,
                                         err ? proj_context_errno_string(ctx_, err)
                                             : "the result is not a finite number")};
  }
  return Status::Ok();
}

Status Transform::apply(double& x, double& y) const {
  double x0 = x, y0 = y;
  if (fast_ && fast_->apply(x0, y0, x, y)) return Status::Ok();
  if (pj_) {
    proj_errno_reset(pj_);
    // HUGE_VAL time: "no epoch", as proj_trans_generic passes when given no time array.
    PJ_COORD c = proj_trans(pj_, PJ_FWD, proj_coord(x, y, 0, HUGE_VAL));
    x = c.xy.x;
    y = c.xy.y;
  }
  if (std::isfinite(x) && std::isfinite(y)) return Status::Ok();
  int err = pj_ ? proj_errno(pj_) : 0;
  return Error{"geometry", fmt::format("({}, {}) cannot be transformed from {} to {}: {}", x0, y0,
                                       source_, target_,
                                       err ? proj_context_errno_string(ctx_, err)
                                           : "the result is not a finite number")};
}

Status Transform::check_source_area(const Shape& s) const {
  // Degrees sent for a projected CRS first: that names the mistake where the box check below
  // would only say "outside" (Paris in degrees labelled EPSG:2154), or say nothing (London in
  // degrees labelled EPSG:27700 lies inside its box, in the sea off Scilly).
  auto in_lonlat_area = [&] {
    if (!lonlat_check_ || s.xy.size() < 2) return false;
    const Envelope& a = lonlat_area_;
    const bool wraps = a.minx > a.maxx;
    for (std::size_t i = 0; i + 1 < s.xy.size(); i += 2) {
      const double x = s.xy[i], y = s.xy[i + 1];
      const bool lon_in = wraps ? (x >= a.minx || x <= a.maxx) : (x >= a.minx && x <= a.maxx);
      if (!lon_in || !(y >= a.miny && y <= a.maxy)) return false;
    }
    return true;
  };
  if (!in_lonlat_area()) return check_box(s, source_box_, source_, source_area_);
  return Error{"geometry",
               fmt::format("every vertex looks like longitude, latitude inside the area of use "
                           "of {} (vertex 0 is ({}, {})), but {} is a projected CRS: read in its "
                           "units, the work would lie beside the CRS's origin, not where it was "
                           "meant. Send \"crs\": \"EPSG:4326\" with longitude, latitude (in "
                           "WKT, as Street Manager's: an SRID=4326; prefix), or the coordinates "
                           "in {}",
                           source_, s.xy[0], s.xy[1], source_, source_)};
}

// --- CrsContext ------------------------------------------------------------------------------

/// PROJ's area of use of a CRS: a lon/lat box (west > east when it crosses the antimeridian).
struct CrsContext::AreaOfUse {
  bool known = false;
  double west = -180, south = -90, east = 180, north = 90;
  std::string name;
  std::string text() const {
    if (!known) return "no area of use known";
    return fmt::format("{}: lon {:.10g}..{:.10g}, lat {:.10g}..{:.10g}", name, west, east, south,
                       north);
  }
};

CrsContext::~CrsContext() = default;

Error CrsContext::proj_error(const std::string& what) const {
  int err = proj_context_errno(ctx_.get());
  return error(what + ": " + (err ? proj_context_errno_string(ctx_.get(), err) : "PROJ failed"));
}

Result<CrsContext::PjPtr> CrsContext::create_crs(const std::string& name,
                                                 const std::string& field) const {
  auto colon = name.find(':');
  std::string auth = name.substr(0, colon), code = name.substr(colon + 1);
  PjPtr crs(proj_create_from_database(ctx_.get(), auth.c_str(), code.c_str(), PJ_CATEGORY_CRS, 0,
                                      nullptr));
  if (!crs) {
    return Error{field, "unknown CRS " + name};
  }
  return crs;
}

CrsContext::AreaOfUse CrsContext::area_of(PJ* crs, const std::string& name) const {
  AreaOfUse a;
  const char* area_name = nullptr;
  if (proj_get_area_of_use(ctx_.get(), crs, &a.west, &a.south, &a.east, &a.north, &area_name) &&
      a.west > -1000) {  // PROJ reports -1000 for an unknown side
    a.known = true;
    a.name = area_name ? area_name : name;
  } else {
    a = AreaOfUse{};
  }
  return a;
}

Result<std::unique_ptr<Transform>> CrsContext::make_transform(PJ* source,
                                                              const std::string& source_name,
                                                              PJ* target,
                                                              const std::string& target_name) {
  PJ_CONTEXT* ctx = ctx_.get();
  auto normalized = [&](PJ* from, PJ* to) -> PjPtr {
    PjPtr op(proj_create_crs_to_crs_from_pj(ctx, from, to, nullptr, nullptr));
    if (!op) return nullptr;
    return PjPtr(proj_normalize_for_visualization(ctx, op.get()));
  };
  std::unique_ptr<Transform> t(new Transform());
  t->ctx_ = ctx;
  t->source_ = source_name;
  t->target_ = target_name;

  // The source area, once, as a box in source coordinates: its lon/lat box through a WGS 84 ->
  // source transform, densified along the edges (proj_trans_bounds).
  const AreaOfUse src_area = area_of(source, source_name);
  t->source_area_ = src_area.text();
  t->source_box_ = Envelope{-kInf, -kInf, kInf, kInf};
  PjPtr from_lonlat = normalized(wgs84_pj_.get(), source);
  if (src_area.known && from_lonlat) {
    double east = src_area.east < src_area.west ? src_area.east + 360 : src_area.east;
    Envelope b;
    if (proj_trans_bounds(ctx, from_lonlat.get(), PJ_FWD, src_area.west, src_area.south, east,
                          src_area.north, &b.minx, &b.miny, &b.maxx, &b.maxy, kDensifyPoints)) {
      // A geographic box that crosses the antimeridian comes back with minx > maxx: no x limit.
      if (b.minx > b.maxx) b.minx = -kInf, b.maxx = kInf;
      t->source_box_ = b;
      // The horizontal part of a compound CRS (British National Grid + ODN height), and the
      // CRS a bound CRS wraps, decide whether coordinates are degrees.
      PjPtr horizontal;
      PJ* plane = source;
      if (proj_get_type(source) == PJ_TYPE_COMPOUND_CRS) {
        horizontal.reset(proj_crs_get_sub_crs(ctx, source, 0));
        if (horizontal) plane = horizontal.get();
      }
      if (proj_get_type(plane) == PJ_TYPE_BOUND_CRS) {
        horizontal.reset(proj_get_source_crs(ctx, plane));
        if (horizontal) plane = horizontal.get();
      }
      if (proj_get_type(plane) == PJ_TYPE_PROJECTED_CRS) {
        t->lonlat_check_ = true;
        t->lonlat_area_ = Envelope{src_area.west, src_area.south, src_area.east, src_area.north};
      }
    } else {
      spdlog::debug("no area-of-use box for {}: {}", source_name,
                    proj_context_errno_string(ctx, proj_context_errno(ctx)));
    }
  }
  if (source_name == target_name) return t;  // the identity

  PjPtr op = normalized(source, target);
  if (!op)
    return Error{"crs",
                 proj_error("no operation from " + source_name + " to " + target_name).message};
  t->pj_ = op.release();

  // The operation PROJ picks at a representative point: the centre of the lon/lat box both CRSs
  // cover (or of the source's own, when they do not meet). Where PROJ keeps alternatives it picks
  // per point (proj_trans), so this is the one used over the common area, not at every point.
  const AreaOfUse tgt_area = area_of(target, target_name);
  double w = src_area.west, s = src_area.south, e = src_area.east, n = src_area.north;
  if (tgt_area.known && tgt_area.west <= tgt_area.east && w <= e) {
    double iw = std::max(w, tgt_area.west), ie = std::min(e, tgt_area.east);
    double is = std::max(s, tgt_area.south), in = std::min(n, tgt_area.north);
    if (iw <= ie && is <= in) w = iw, e = ie, s = is, n = in;
  }
  if (e < w) e += 360;
  PJ_COORD centre = proj_coord((w + e) / 2, (s + n) / 2, 0, HUGE_VAL);
  if (from_lonlat) centre = proj_trans(from_lonlat.get(), PJ_FWD, centre);
  proj_trans(t->pj_, PJ_FWD, centre);
  proj_errno_reset(t->pj_);
  PjPtr used(proj_trans_get_last_used_operation(t->pj_));
  PJ* chosen = used ? used.get() : t->pj_;
  const char* name = proj_get_name(chosen);
  t->description_ = name ? name : "unnamed operation";
  t->uses_grid_ = proj_coordoperation_get_grid_used_count(ctx, chosen) > 0;
  t->accuracy_m_ = proj_coordoperation_get_accuracy(ctx, chosen);
  if (source_name == "EPSG:27700" && target_name == "EPSG:4326" && from_lonlat)
    t->fast_ = BngToWgs84::make(ctx, t->pj_, chosen, from_lonlat.get());
  diagnose(*t, source, target, chosen);
  return t;
}

// Is there a better operation than the one chosen that PROJ could not use for want of a grid?
// PROJ's candidates ranked as if every grid were present (PROJ_GRID_AVAILABILITY_IGNORED, the
// areas only intersecting, as proj_create_crs_to_crs does): when the first is not instantiable
// here and is more accurate than the chosen one, the transform is degraded. Also warned: an
// operation that is only a ballpark (no datum shift known at all). One warning per unordered pair
// of CRSs per process (CrsDiagnostics), since both directions have the same cause and cure.
void CrsContext::diagnose(Transform& t, PJ* source, PJ* target, PJ* chosen) {
  PJ_CONTEXT* ctx = ctx_.get();
  std::string key = std::min(t.source_, t.target_) + " <-> " + std::max(t.source_, t.target_);
  auto paths = fmt::format("{}", fmt::join(search_paths_, ":"));

  PJ_OPERATION_FACTORY_CONTEXT* factory = proj_create_operation_factory_context(ctx, nullptr);
  if (!factory) return;
  proj_operation_factory_context_set_grid_availability_use(ctx, factory,
                                                           PROJ_GRID_AVAILABILITY_IGNORED);
  proj_operation_factory_context_set_spatial_criterion(ctx, factory,
                                                       PROJ_SPATIAL_CRITERION_PARTIAL_INTERSECTION);
  PJ_OBJ_LIST* list = proj_create_operations(ctx, source, target, factory);
  if (list && proj_list_get_count(list) > 0) {
    PjPtr best(proj_list_get(ctx, list, 0));
    if (best && !proj_coordoperation_is_instantiable(ctx, best.get())) {
      double best_acc = proj_coordoperation_get_accuracy(ctx, best.get());
      if (best_acc >= 0 && (t.accuracy_m_ < 0 || best_acc < t.accuracy_m_)) {
        t.degraded_ = true;
        std::vector<std::string> missing;
        int grids = proj_coordoperation_get_grid_used_count(ctx, best.get());
        for (int i = 0; i < grids; ++i) {
          const char *short_name = nullptr, *full = nullptr, *package = nullptr, *url = nullptr;
          int direct = 0, open = 0, available = 0;
          if (proj_coordoperation_get_grid_used(ctx, best.get(), i, &short_name, &full, &package,
                                                &url, &direct, &open, &available) &&
              !available && short_name)
            missing.emplace_back(short_name);
        }
        const char* best_name = proj_get_name(best.get());
        auto grid_list =
            missing.empty() ? std::string("a grid") : fmt::format("{}", fmt::join(missing, ", "));
        diagnostics_->warn_once(
            key,
            fmt::format(
                "{} not found on PROJ's search path ({}): {} -> {} uses {}, error "
                "about {} instead of {:g} m with {}; put {} on the search path "
                "(proj.search_paths)",
                grid_list, paths, t.source_, t.target_, t.description_,
                t.accuracy_m_ < 0 ? std::string("unknown") : fmt::format("{:g} m", t.accuracy_m_),
                best_acc, best_name ? best_name : "a grid-based operation", grid_list));
      }
    }
  }
  if (list) proj_list_destroy(list);
  proj_operation_factory_context_destroy(factory);

  if (!t.degraded_ && proj_coordoperation_has_ballpark_transformation(ctx, chosen))
    diagnostics_->warn_once(key, fmt::format("{} -> {} uses {}: PROJ knows no datum "
                                             "transformation between them, error unknown (may be "
                                             "hundreds of metres)",
                                             t.source_, t.target_, t.description_));
}

Result<std::unique_ptr<CrsContext>> CrsContext::create(const CrsOptions& options) {
  std::unique_ptr<CrsContext> c(new CrsContext());
  c->diagnostics_ = options.diagnostics ? options.diagnostics : std::make_shared<CrsDiagnostics>();
  c->ctx_.reset(proj_context_create());
  if (!c->ctx_) return error("cannot create a PROJ context");
  PJ_CONTEXT* ctx = c->ctx_.get();
  proj_log_func(ctx, nullptr, &log_from_proj);
  // No downloads at run time: grids are installed (tools/setup) or the transform falls back, and
  // says so (diagnose).
  proj_context_set_enable_network(ctx, 0);

  // The given folders first, then PROJ's default path: its user folder and PROJ_DATA (else the
  // compiled-in data dir, /usr/share/proj on Debian, where proj.db is). proj_info() reports that
  // default as one ':'-separated string.
  c->search_paths_ = options.search_paths;
  {
    // proj_info() fills a static PJ_INFO inside PROJ (its string rebuilt on each call), so two
    // contexts created at once on two threads must not read it together: the one lock here is
    // about PROJ's global, not state of ours.
    std::lock_guard lock(proj_global_lock());
    const PJ_INFO info = proj_info();
    std::string_view rest(info.searchpath ? info.searchpath : "");
    while (!rest.empty()) {
      auto sep = rest.find(':');
      auto part = rest.substr(0, sep);
      if (!part.empty()) c->search_paths_.emplace_back(part);
      rest = sep == std::string_view::npos ? std::string_view{} : rest.substr(sep + 1);
    }
  }
  if (!options.search_paths.empty()) {
    std::vector<const char*> raw;
    for (const auto& p : c->search_paths_) raw.push_back(p.c_str());
    proj_context_set_search_paths(ctx, static_cast<int>(raw.size()), raw.data());
  }

  // EPSG:4326 first: when even it is not found, proj.db is missing, and saying so beats
  // "unknown CRS" for the metric CRS.
  auto wgs84 = c->create_crs("EPSG:4326", "");
  if (!wgs84.ok())
    return error(fmt::format("PROJ finds no database (proj.db) on its search path ({})",
                             fmt::join(c->search_paths_, ":")));
  c->wgs84_pj_ = std::move(*wgs84);
  auto metric_name = normalize_name(options.metric_crs);
  if (!metric_name) return Error{"metric_crs", "unknown CRS " + options.metric_crs};
  c->metric_crs_ = *metric_name;
  auto metric = c->create_crs(c->metric_crs_, "metric_crs");
  if (!metric.ok()) return metric.error();
  c->metric_pj_ = std::move(*metric);
  if (proj_get_type(c->metric_pj_.get()) != PJ_TYPE_PROJECTED_CRS)
    return Error{"metric_crs", c->metric_crs_ + " is not a projected CRS"};
  {
    PjPtr cs(proj_crs_get_coordinate_system(ctx, c->metric_pj_.get()));
    int axes = cs ? proj_cs_get_axis_count(ctx, cs.get()) : 0;
    for (int i = 0; i < axes; ++i) {
      double factor = 0;
      proj_cs_get_axis_info(ctx, cs.get(), i, nullptr, nullptr, nullptr, &factor, nullptr, nullptr,
                            nullptr);
      if (factor != 1.0)
        return Error{"metric_crs", c->metric_crs_ + " is not in metres (distances are metres)"};
    }
  }
  {
    // A Mercator projection (EPSG:3857 and its like) is in metres only on the equator: its
    // distances grow as 1 / cos(latitude), x1.6 in London, so the rules' metres would not be
    // metres. Allowed (a reference may compute in it too), but said once per process.
    PjPtr conversion(proj_crs_get_coordoperation(ctx, c->metric_pj_.get()));
    const char* method = nullptr;
    if (conversion &&
        proj_coordoperation_get_method_info(ctx, conversion.get(), &method, nullptr, nullptr) &&
        method) {
      const std::string m = method;
      if (m.find("Mercator") != std::string::npos && m.find("Transverse") == std::string::npos &&
          m.find("Oblique") == std::string::npos) {
        static std::mutex warned_mutex;
        static std::set<std::string> warned;
        std::lock_guard lock(warned_mutex);
        if (warned.insert(c->metric_crs_).second)
          spdlog::warn(
              "metric_crs {} is a {} projection: its distances grow as 1 / cos(latitude) (x1.61 "
              "at 51.5 degrees N), so distance_m and the alerts' distances are not true metres "
              "away from the equator; a national grid or a UTM zone measures true distances",
              c->metric_crs_, m);
      }
    }
  }
  auto identity =
      c->make_transform(c->metric_pj_.get(), c->metric_crs_, c->metric_pj_.get(), c->metric_crs_);
  if (!identity.ok()) return identity.error();
  c->metric_box_ = (*identity)->source_box_;
  c->metric_area_ = (*identity)->source_area_;
  // WGS 84 -> metric first: a warning about the pair names the direction works come in.
  auto from_wgs =
      c->make_transform(c->wgs84_pj_.get(), "EPSG:4326", c->metric_pj_.get(), c->metric_crs_);
  if (!from_wgs.ok()) return from_wgs.error();
  auto to_wgs =
      c->make_transform(c->metric_pj_.get(), c->metric_crs_, c->wgs84_pj_.get(), "EPSG:4326");
  if (!to_wgs.ok()) return to_wgs.error();
  c->metric_to_wgs84_ = to_wgs->get();
  c->wgs84_to_metric_ = from_wgs->get();
  c->by_source_.emplace(c->metric_crs_, identity->get());
  if (c->metric_crs_ != "EPSG:4326") c->by_source_.emplace("EPSG:4326", from_wgs->get());
  c->transforms_.push_back(std::move(*identity));
  c->transforms_.push_back(std::move(*to_wgs));
  c->transforms_.push_back(std::move(*from_wgs));
  return c;
}

namespace {

/// Why a CRS cannot place a work on a map, or nothing when it can: works need a horizontal
/// position, so the CRS must be geographic (lon/lat), projected, or a compound or bound CRS whose
/// horizontal part is one of those. A vertical CRS (ODN height, EPSG:5701) has no horizontal
/// position at all, a geocentric one (EPSG:4978) is X, Y, Z from the Earth's centre, an
/// engineering one is local to a site, a temporal one is time.
std::optional<std::string> not_horizontal(PJ_CONTEXT* ctx, PJ* crs) {
  using Pj = std::unique_ptr<PJ, decltype(&proj_destroy)>;
  Pj part(nullptr, &proj_destroy);
  PJ* plane = crs;
  if (proj_get_type(plane) == PJ_TYPE_BOUND_CRS) {
    part.reset(proj_get_source_crs(ctx, plane));
    if (part) plane = part.get();
  }
  if (proj_get_type(plane) == PJ_TYPE_COMPOUND_CRS) {
    Pj sub(proj_crs_get_sub_crs(ctx, plane, 0), &proj_destroy);
    part = std::move(sub);
    if (!part) return "a compound CRS without a horizontal part";
    plane = part.get();
    if (proj_get_type(plane) == PJ_TYPE_BOUND_CRS) {
      Pj source(proj_get_source_crs(ctx, plane), &proj_destroy);
      if (source) part = std::move(source), plane = part.get();
    }
  }
  switch (proj_get_type(plane)) {
    case PJ_TYPE_GEOGRAPHIC_2D_CRS:
    case PJ_TYPE_GEOGRAPHIC_3D_CRS:
    case PJ_TYPE_PROJECTED_CRS:
      return std::nullopt;
    case PJ_TYPE_VERTICAL_CRS:
      return "a vertical CRS (heights or depths only)";
    case PJ_TYPE_GEOCENTRIC_CRS:
      return "a geocentric CRS (X, Y, Z from the Earth's centre)";
    case PJ_TYPE_ENGINEERING_CRS:
      return "an engineering CRS (local to a site)";
    case PJ_TYPE_TEMPORAL_CRS:
      return "a temporal CRS";
    default:
      return "not a geographic or projected CRS";
  }
}

}  // namespace

Result<const Transform*> CrsContext::to_metric(std::string_view source_crs) {
  if (auto it = by_source_.find(source_crs); it != by_source_.end()) return it->second;
  if (auto it = failed_.find(source_crs); it != failed_.end()) return it->second;
  auto remember_failure = [&](Error e) -> Error {
    if (failed_.size() < kMaxCachedFailures) failed_.emplace(std::string(source_crs), e);
    return e;
  };
  auto name = normalize_name(source_crs);
  if (!name) return remember_failure(Error{"crs", "unknown CRS " + std::string(source_crs)});
  if (auto it = by_source_.find(*name); it != by_source_.end()) {
    by_source_.emplace(std::string(source_crs), it->second);  // an alias: other case
    return it->second;
  }
  auto source = create_crs(*name, "crs");
  if (!source.ok()) return remember_failure(source.error());
  if (auto why = not_horizontal(ctx_.get(), source->get()))
    return remember_failure(Error{
        "crs", fmt::format("{} is {}: a work's geometry needs horizontal coordinates, in a "
                           "geographic CRS (longitude, latitude: EPSG:4326) or a projected one "
                           "(EPSG:27700)",
                           *name, *why)});
  auto t = make_transform(source->get(), *name, metric_pj_.get(), metric_crs_);
  if (!t.ok()) return remember_failure(t.error());
  const Transform* out = t->get();
  transforms_.push_back(std::move(*t));
  by_source_.emplace(*name, out);
  if (*name != source_crs) by_source_.emplace(std::string(source_crs), out);
  return out;
}

Status CrsContext::project_to_metric(Shape& s, std::string_view source_crs) {
  auto t = to_metric(source_crs);
  if (!t.ok()) return t.error();
  DIGONCE_TRY((*t)->check_source_area(s));
  if ((*t)->source_crs() == metric_crs_) return check_metric_area(s);
  const Shape given = s;
  DIGONCE_TRY((*t)->apply(s));
  return check_metric_area(s, given, (*t)->source_crs());
}

Status CrsContext::check_metric_area(const Shape& s) const {
  return check_box(s, metric_box_, metric_crs_, metric_area_);
}

Status CrsContext::check_metric_area(const Shape& s, const Shape& as_given,
                                     std::string_view given_crs) const {
  if (given_crs == metric_crs_) return check_metric_area(s);
  const Envelope& box = metric_box_;
  for (std::size_t i = 0; i + 1 < s.xy.size(); i += 2) {
    const double x = s.xy[i], y = s.xy[i + 1];
    if (x >= box.minx && x <= box.maxx && y >= box.miny && y <= box.maxy) continue;  // NaN fails
    const bool known = i + 1 < as_given.xy.size();
    return Error{"geometry",
                 fmt::format("vertex {} ({}, {} in {}) is outside the area of use of the metric "
                             "CRS {} ({}), where distances are measured: it lands at ({:.2f}, "
                             "{:.2f}) in it (the metric CRS is detection.metric_crs, or "
                             "detect's --crs)",
                             i / 2, known ? as_given.xy[i] : x, known ? as_given.xy[i + 1] : y,
                             given_crs, metric_crs_, metric_area_, x, y)};
  }
  return Status::Ok();
}

}  // namespace digonce::geo
