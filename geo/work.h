// The work event of the contract (section 1), after parsing and before or after normalization.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "geo/shape.h"
#include "geo/timestamp.h"

namespace digonce::geo {

enum class Category : std::uint8_t {
  Minor,
  Standard,
  Major,
  ImmediateUrgent,
  ImmediateEmergency,
  Paa,
  Hs2Highway,
};
const char* category_name(Category c);
std::optional<Category> parse_category(std::string_view s);
inline bool is_immediate(Category c) {
  return c == Category::ImmediateUrgent || c == Category::ImmediateEmergency;
}

enum class WorkStatus : std::uint8_t { Planned, InProgress, Completed, Cancelled };
const char* status_name(WorkStatus s);
std::optional<WorkStatus> parse_status(std::string_view s);

/// What occupies the street: a work (or a Street Manager activity, which occupies it too), or a
/// Section 58 restriction (no new works after a resurfacing).
enum class WorkKind : std::uint8_t { Work, Restriction };

enum class EventType : std::uint8_t { Upsert, Cancel };

/// One event about one work: an upsert (its whole current plan) or a cancel.
struct WorkEvent {
  EventType event = EventType::Upsert;
  WorkKind kind = WorkKind::Work;
  std::string work_ref;
  std::string promoter;
  std::optional<std::int64_t> version;
  Shape geometry;                 // in `crs` as parsed; in the metric CRS once normalized
  std::string crs = "EPSG:4326";  // EPSG:<code>
  Micros start = 0;
  Micros end = 0;
  Category category = Category::Standard;
  WorkStatus status = WorkStatus::Planned;
  std::string highway_authority;  // given by the submitter; empty when it is to be derived
  std::string promoter_name;
  std::string street_name;
  std::string usrn;
  std::string traffic_management;
  std::string description;

  /// Takes part in detection: an upsert that is planned or in progress.
  bool active() const {
    return event == EventType::Upsert &&
           (status == WorkStatus::Planned || status == WorkStatus::InProgress);
  }
};

/// Checks a work reference: 1-64 characters of A-Z a-z 0-9 _ . / - (the contract, section 1).
bool valid_work_ref(std::string_view ref);

/// Compact binary form of an event (the works column family, the tiled topic). decode returns
/// false on malformed input.
void encode_work(const WorkEvent& w, std::string& out);
bool decode_work(std::string_view in, WorkEvent& out);

/// Appends the GeoJSON geometry object of a shape ({"type":...,"coordinates":...}).
void append_geojson_geometry(std::string& out, const Shape& s);

/// The event as contract JSON (geometry written as it is held, with its `crs`).
std::string work_to_json(const WorkEvent& w);

}  // namespace digonce::geo
