// The Locator of the engine in production: metric point -> EPSG:4326 (Transform::apply: PROJ, or
// for EPSG:27700 through OSTN15 its copy in geo/bng_to_wgs84.h), and the highway
// authorities whose areas cover it, through the authority index.
#pragma once

#include "geo/authorities.h"
#include "geo/crs.h"
#include "geo/detector.h"

namespace digonce::geo {

class PlaceLocator final : public Locator {
 public:
  /// `authorities` may be null (no boundaries configured).
  PlaceLocator(const CrsContext& crs, const AuthorityMap* authorities)
      : crs_(crs), authorities_(authorities) {}

  void locate(double x, double y, double& lon, double& lat,
              std::vector<std::string>& authorities) override {
    lon = x;
    lat = y;
    if (!crs_.metric_to_wgs84().apply(lon, lat).ok()) lon = lat = 0;
    authorities.clear();
    if (!authorities_) return;
    for (const auto* a : authorities_->at(x, y)) authorities.push_back(a->code);
  }

 private:
  const CrsContext& crs_;
  const AuthorityMap* authorities_;
};

/// Reports metric coordinates as they are and no authority: for tests and benchmarks that run
/// without PROJ grids or boundaries.
class IdentityLocator final : public Locator {
 public:
  void locate(double x, double y, double& lon, double& lat,
              std::vector<std::string>& authorities) override {
    lon = x;
    lat = y;
    authorities.clear();
  }
};

}  // namespace digonce::geo
