// The alert event of the contract (section 3): its id, its JSON, and the sentence it carries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "geo/pair_fact.h"

namespace digonce::geo {

enum class AlertState : std::uint8_t { Open = 0, Updated = 1, Closed = 2 };
const char* alert_state_name(AlertState s);

struct Alert {
  std::string alert_id;
  AlertKind kind = AlertKind::Clash;
  AlertState state = AlertState::Open;
  std::uint32_t revision = 0;
  WorkSummary a, b;  // sorted by ref
  double distance_m = 0;
  Micros gap = 0;
  double lon = 0, lat = 0;
  std::vector<std::string> authorities;
  std::string reason;
};

/// Deterministic from the kind and the two sorted refs: "<kind>-" + the first 32 hex digits of
/// SHA-256 of "<kind>\0<refA>\0<refB>" (a cryptographic hash: refs cannot be chosen to take
/// another pair's id).
std::string make_alert_id(AlertKind kind, std::string_view ref_a, std::string_view ref_b);

/// The alert as contract JSON: one line of `digonce detect`'s output, one message on the alerts
/// topic, one item of GET /v1/alerts.
std::string alert_to_json(const Alert& a);

/// The sentence of an open or updated alert: what the two works are to each other, and what to do.
std::string describe(const Alert& a);
/// The sentence of a closed alert.
std::string describe_close(const Alert& a, CloseCause cause, std::string_view cause_ref,
                           std::optional<AlertKind> now);

}  // namespace digonce::geo
