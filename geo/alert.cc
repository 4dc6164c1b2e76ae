#include "geo/alert.h"

#include <cmath>
#include <cstdio>

#include "base/json_writer.h"

namespace digonce::geo {

const char* alert_state_name(AlertState s) {
  switch (s) {
    case AlertState::Open:
      return "open";
    case AlertState::Updated:
      return "updated";
    case AlertState::Closed:
      return "closed";
  }
  return "?";
}

std::string make_alert_id(AlertKind kind, std::string_view ref_a, std::string_view ref_b) {
  __extension__ using u128 = unsigned __int128;  // GCC and clang both have it
  const u128 prime = (u128{1} << 88) + (1u << 8) + 0x3b;
  u128 h = (u128{0x6c62272e07bb0142ULL} << 64) | 0x62b821756295c58dULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= prime;
    }
  };
  std::string_view name = alert_kind_name(kind);
  feed(name);
  feed(std::string_view("\0", 1));
  feed(ref_a);
  feed(std::string_view("\0", 1));
  feed(ref_b);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(name);
  id.push_back('-');
  for (int shift = 124; shift >= 0; shift -= 4)
    id.push_back(kHex[static_cast<int>(h >> shift) & 0xf]);
  return id;
}

namespace {

void append_work(std::string& out, const WorkSummary& w) {
  JsonObject o(out);
  o.str("work_ref", w.ref);
  o.str("promoter", w.promoter);
  o.str("category", category_name(w.category));
  o.str("start", format_timestamp(w.start));
  o.str("end", format_timestamp(w.end));
  if (w.kind == WorkKind::Restriction) o.str("kind", "section58");
  o.str_if("street_name", w.street);
  o.str_if("highway_authority", w.authority);
}

std::string date_of(Micros t) {
  return format_timestamp(t).substr(0, 10);
}

std::string metres(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, d < 10 ? "%.1f m" : "%.0f m", d);
  return buf;
}

std::string days(Micros t) {
  double d = static_cast<double>(t) / static_cast<double>(kMicrosPerDay);
  char buf[32];
  if (std::fabs(d - std::round(d)) < 1e-9) {
    std::snprintf(buf, sizeof buf, "%.0f day%s", d, std::fabs(d - 1) < 1e-9 ? "" : "s");
  } else {
    std::snprintf(buf, sizeof buf, "%.1f days", d);
  }
  return buf;
}

std::string who(const WorkSummary& w) {
  return w.promoter + "'s " + category_name(w.category) + " work " + w.ref;
}

std::string where(const Alert& a) {
  const auto& s1 = a.a.street;
  const auto& s2 = a.b.street;
  if (!s1.empty() && (s1 == s2 || s2.empty())) return " on " + s1;
  if (s1.empty() && !s2.empty()) return " on " + s2;
  if (!s1.empty()) return " (" + s1 + " / " + s2 + ")";
  return "";
}

std::string apart(double d) {
  return d <= 0 ? "meet on the ground" : "are " + metres(d) + " apart";
}

}  // namespace

std::string describe(const Alert& a) {
  switch (a.kind) {
    case AlertKind::Clash: {
      Micros from = std::max(a.a.start, a.b.start), to = std::min(a.a.end, a.b.end);
      return "Clash: " + who(a.a) + " and " + who(a.b) + " " + apart(a.distance_m) + where(a) +
             " and both occupy the street from " + date_of(from) + " to " + date_of(to) +
             ": agree an order with each other or share one closure.";
    }
    case AlertKind::Collaboration: {
      const auto& first = a.a.end <= a.b.end ? a.a : a.b;
      const auto& second = &first == &a.a ? a.b : a.a;
      return "Collaboration opportunity: " + who(first) + " ends " + date_of(first.end) + " and " +
             who(second) + " starts " + days(a.gap) + " later, and they " + apart(a.distance_m) +
             where(a) + ": dig once, share one trench and one closure.";
    }
    case AlertKind::Restriction: {
      const auto& r = a.a.kind == WorkKind::Restriction ? a.a : a.b;
      const auto& w = &r == &a.a ? a.b : a.a;
      return "Restriction: " + who(w) + " starts " + date_of(w.start) + " " +
             (a.distance_m <= 0 ? "inside" : metres(a.distance_m) + " from") +
             " Section 58 restriction " + r.ref + where(a) + ", in force until " + date_of(r.end) +
             ": only immediate works may dig there; ask the highway authority.";
    }
  }
  return {};
}

std::string describe_close(const Alert& a, CloseCause cause, std::string_view cause_ref,
                           std::optional<AlertKind> now) {
  std::string ref(cause_ref);
  if (now) {
    return std::string("Closed: the works are now a ") + alert_kind_name(*now) + " (alert " +
           make_alert_id(*now, a.a.ref, a.b.ref) + ").";
  }
  switch (cause) {
    case CloseCause::Cancelled:
      return "Closed: work " + ref + " was cancelled.";
    case CloseCause::Completed:
      return "Closed: work " + ref + " was completed.";
    case CloseCause::Apart:
    case CloseCause::None:
      break;
  }
  return "Closed: after a change to work " + ref +
         ", the two works are no longer close enough in space and time to qualify.";
}

std::string alert_to_json(const Alert& a) {
  std::string out;
  out.reserve(640);
  {
    JsonObject o(out);
    o.str("alert_id", a.alert_id);
    o.str("kind", alert_kind_name(a.kind));
    o.str("state", alert_state_name(a.state));
    o.integer("revision", a.revision);
    auto& works = o.key("works");
    works.push_back('[');
    append_work(works, a.a);
    works.push_back(',');
    append_work(works, a.b);
    works.push_back(']');
    o.fixed("distance_m", a.distance_m, 3);
    o.fixed("gap_days", static_cast<double>(a.gap) / static_cast<double>(kMicrosPerDay), 6);
    auto& loc = o.key("location");
    {
      JsonObject p(loc);
      p.str("type", "Point");
      auto& c = p.key("coordinates");
      c.push_back('[');
      append_json_fixed(c, a.lon, 7);
      c.push_back(',');
      append_json_fixed(c, a.lat, 7);
      c.push_back(']');
    }
    auto& ha = o.key("highway_authorities");
    ha.push_back('[');
    for (std::size_t i = 0; i < a.authorities.size(); ++i) {
      if (i) ha.push_back(',');
      append_json_string(ha, a.authorities[i]);
    }
    ha.push_back(']');
    o.str("reason", a.reason);
  }
  return out;
}

}  // namespace digonce::geo
