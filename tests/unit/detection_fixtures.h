// Shared by the detection tests: a locator that needs no CRS, and builders of metric events.
#pragma once

#include <string>
#include <vector>

#include "geo/detector.h"
#include "geo/place_locator.h"
#include "geo/work.h"

namespace digonce::testing {

using geo::IdentityLocator;

inline geo::Micros day(double d) {
  return static_cast<geo::Micros>(d * geo::kMicrosPerDay);
}

inline geo::WorkEvent work(std::string ref, geo::Shape shape, geo::Micros start, geo::Micros end,
                           geo::Category category = geo::Category::Standard,
                           geo::WorkKind kind = geo::WorkKind::Work) {
  geo::WorkEvent e;
  e.work_ref = std::move(ref);
  e.promoter = "PROM";
  e.geometry = std::move(shape);
  e.crs = "EPSG:27700";
  e.start = start;
  e.end = end;
  e.category = category;
  e.kind = kind;
  return e;
}

inline geo::WorkEvent cancel(std::string ref) {
  geo::WorkEvent e;
  e.work_ref = std::move(ref);
  e.promoter = "PROM";
  e.event = geo::EventType::Cancel;
  return e;
}

}  // namespace digonce::testing
