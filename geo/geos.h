// GEOS through its stable, reentrant C API (geos_c.h, the _r functions), in small RAII types.
//
// A Geos owns one GEOS context: one per thread, never shared (contexts are not thread-safe).
// Every GEOS failure becomes an Error carrying GEOS's own message.
#pragma once

#include <geos_c.h>

#include <array>
#include <memory>
#include <string>

#include "base/result.h"
#include "geo/shape.h"

namespace digonce::geo {

class Geos {
 public:
  struct GeomDeleter {
    GEOSContextHandle_t h = nullptr;
    void operator()(GEOSGeometry* g) const { GEOSGeom_destroy_r(h, g); }
  };
  struct PreparedDeleter {
    GEOSContextHandle_t h = nullptr;
    void operator()(const GEOSPreparedGeometry* p) const { GEOSPreparedGeom_destroy_r(h, p); }
  };
  struct CoordSeqDeleter {
    GEOSContextHandle_t h = nullptr;
    void operator()(GEOSCoordSequence* s) const { GEOSCoordSeq_destroy_r(h, s); }
  };
  using GeomPtr = std::unique_ptr<GEOSGeometry, GeomDeleter>;
  using PreparedPtr = std::unique_ptr<const GEOSPreparedGeometry, PreparedDeleter>;
  using CoordSeqPtr = std::unique_ptr<GEOSCoordSequence, CoordSeqDeleter>;

  Geos();
  ~Geos();
  Geos(const Geos&) = delete;
  Geos& operator=(const Geos&) = delete;

  GEOSContextHandle_t handle() const { return h_; }
  /// GEOS's message for the last failure on this context.
  const std::string& last_error() const { return last_error_; }

  GeomPtr own(GEOSGeometry* g) const { return GeomPtr(g, GeomDeleter{h_}); }
  PreparedPtr prepare(const GEOSGeometry* g) const {
    return PreparedPtr(GEOSPrepare_r(h_, g), PreparedDeleter{h_});
  }

  /// The shape as a GEOS geometry (no validity check).
  Result<GeomPtr> to_geos(const ShapeView& s) const;
  Result<GeomPtr> to_geos(const Shape& s) const { return to_geos(s.view()); }
  /// A GEOS geometry of one of the six GeoJSON types as a Shape; a GeometryCollection (which
  /// MakeValid can return) is flattened into the Multi type of its highest dimension.
  Result<Shape> from_geos(const GEOSGeometry* g) const;

  /// Minimum distance between two geometries.
  Result<double> distance(const GEOSGeometry* a, const GEOSGeometry* b) const;
  /// The two points, one on each geometry, where they come closest: ax, ay, bx, by.
  Result<std::array<double, 4>> nearest_points(const GEOSGeometry* a, const GEOSGeometry* b) const;

 private:
  static void on_message(const char* message, void* self);
  GEOSContextHandle_t h_;
  std::string last_error_;
};

}  // namespace digonce::geo
