#include "geo/alert.h"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, whose per-call
// algorithm fetch costs several times the hash of an alert id; they stay supported.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

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
  // The first 128 bits of SHA-256 over "<kind>\0<ref a>\0<ref b>". A cryptographic hash, so
  // that nobody can choose work refs whose alert takes another pair's id (and so its place on
  // the compacted alerts topic and in every view keyed by id): FNV-1a, used before, is not
  // collision-resistant. OpenSSL's SHA256_* functions run the CPU's SHA instructions where it
  // has them, as fast as the FNV loop was (~280 ns an id here).
  std::string_view name = alert_kind_name(kind);
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, name.data(), name.size());
  SHA256_Update(&ctx, "", 1);  // the NUL between the parts
  SHA256_Update(&ctx, ref_a.data(), ref_a.size());
  SHA256_Update(&ctx, "", 1);
  SHA256_Update(&ctx, ref_b.data(), ref_b.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(name.size() + 33);
  id.append(name).push_back('-');
  for (int i = 0; i < 16; ++i) {
    id.push_back(kHex[digest[i] >> 4]);
    id.push_back(kHex[digest[i] & 0xf]);
  }
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

// The reason sentence is built by appending to one string: it is written for every alert.
void put_day(std::string& out, Micros t) {
  char buf[kTimestampMax];
  out.append(buf, std::min<std::size_t>(10, format_timestamp(t, buf)));
}

// A start or end in a sentence: a day alone where the instant is a day's boundary as the works
// write them (contract bare dates are UTC days; Street Manager's are UK days, a UK midnight being
// 23:00Z in summer time, so "2027-06-09T23:00:00Z" starts 10 June), else the UTC time too
// ("2026-03-16 07:00 UTC"), so that no reader takes a day that is not the work's.
void put_time_of(std::string& out, Micros t) {
  char buf[kTimestampMax];
  const std::size_t n = format_timestamp(t, buf);  // 2026-03-16T07:00:05Z
  out.append(buf, std::min<std::size_t>(10, n));
  out += ' ';
  out.append(buf + 11, time_of_day(t) % (60 * kMicrosPerSecond) == 0 ? 5 : 8);
  out += " UTC";
}
// The day a start or an end stands for, when the instant is such a boundary (days since
// 1970-01-01), else nullopt.
std::optional<std::int64_t> start_day(Micros t) {
  if (time_of_day(t) == 0) return floor_div(t, kMicrosPerDay);
  if (is_uk_midnight(t)) return floor_div(t + kMicrosPerHour, kMicrosPerDay);
  return std::nullopt;
}
std::optional<std::int64_t> end_day(Micros t) {
  // The last second of a day (contract bare-date ends are 23:59:59Z; Street Manager's, the
  // second before a UK midnight), with any fraction of it.
  const Micros next = (floor_div(t, kMicrosPerSecond) + 1) * kMicrosPerSecond;
  if (time_of_day(next) == 0 || is_uk_midnight(next)) return floor_div(t, kMicrosPerDay);
  return std::nullopt;
}
void put_start(std::string& out, Micros t) {
  if (auto d = start_day(t)) return put_day(out, *d * kMicrosPerDay);
  put_time_of(out, t);
}
void put_end(std::string& out, Micros t) {
  if (auto d = end_day(t)) return put_day(out, *d * kMicrosPerDay);
  put_time_of(out, t);
}

void put_fixed(std::string& out, double v, int decimals) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  out.append(buf, r.ec == std::errc() ? r.ptr : buf);
}

void put_metres(std::string& out, double d) {
  put_fixed(out, d, d < 10 ? 1 : 0);
  out += " m";
}

// How long after `end` `start` is, as a person counts it: between two days as the works write
// them (put_end, put_start), the whole days free between ("right after" for consecutive days,
// whatever the clocks did between); else "right after" (a second or less), "less than a minute
// later", whole minutes, hours or days to one decimal, each in the largest unit it rounds to.
void put_later(std::string& out, Micros end, Micros start) {
  const auto e = end_day(end), s = start_day(start);
  if (e && s && *s > *e) {
    const std::int64_t free = *s - *e - 1;
    if (free == 0) {
      out += "right after";
    } else {
      put_fixed(out, static_cast<double>(free), 0);
      out += free == 1 ? " day later" : " days later";
    }
    return;
  }
  const Micros t = start - end;
  if (t <= kMicrosPerSecond) {
    out += "right after";
    return;
  }
  if (t < 60 * kMicrosPerSecond) {
    out += "less than a minute later";
    return;
  }
  auto put = [&](double v, const char* one, const char* many) {
    const double tenths = std::round(v * 10) / 10;
    const bool whole = tenths == std::round(tenths);
    put_fixed(out, tenths, whole ? 0 : 1);
    out += whole && tenths == 1 ? one : many;
    out += " later";
  };
  const double minutes = static_cast<double>(t) / static_cast<double>(60 * kMicrosPerSecond);
  if (std::round(minutes) < 60) return put(std::round(minutes), " minute", " minutes");
  const double hours = static_cast<double>(t) / static_cast<double>(kMicrosPerHour);
  if (std::round(hours * 10) / 10 < 24) return put(hours, " hour", " hours");
  put(static_cast<double>(t) / static_cast<double>(kMicrosPerDay), " day", " days");
}

void put_who(std::string& out, const WorkSummary& w) {
  out += w.promoter;
  out += "'s ";
  out += category_name(w.category);
  out += " work ";
  out += w.ref;
}

void put_where(std::string& out, const Alert& a) {
  const auto& s1 = a.a.street;
  const auto& s2 = a.b.street;
  if (!s1.empty() && (s1 == s2 || s2.empty())) {
    out += " on ";
    out += s1;
  } else if (s1.empty() && !s2.empty()) {
    out += " on ";
    out += s2;
  } else if (!s1.empty()) {
    out += " (";
    out += s1;
    out += " / ";
    out += s2;
    out += ')';
  }
}

void put_apart(std::string& out, double d) {
  if (d <= 0) {
    out += "meet on the ground";
    return;
  }
  out += "are ";
  put_metres(out, d);
  out += " apart";
}

}  // namespace

std::string describe(const Alert& a) {
  std::string out;
  out.reserve(256);
  switch (a.kind) {
    case AlertKind::Clash: {
      Micros from = std::max(a.a.start, a.b.start), to = std::min(a.a.end, a.b.end);
      out += "Clash: ";
      put_who(out, a.a);
      out += " and ";
      put_who(out, a.b);
      out += ' ';
      put_apart(out, a.distance_m);
      put_where(out, a);
      out += " and both occupy the street from ";
      // The overlap's ends come from two works that may write days differently (a Street
      // Manager start at a UK midnight, 23:00Z in summer, is the next day; a contract bare-date
      // end is a UTC day): where their days would read backwards ("from 2026-06-11 to
      // 2026-06-10"), both are given as UTC times.
      const std::int64_t from_day = start_day(from).value_or(floor_div(from, kMicrosPerDay));
      const std::int64_t to_day = end_day(to).value_or(floor_div(to, kMicrosPerDay));
      if (from_day > to_day) {
        put_time_of(out, from);
        out += " to ";
        put_time_of(out, to);
      } else {
        put_start(out, from);
        out += " to ";
        put_end(out, to);
      }
      out += ": agree an order with each other or share one closure.";
      break;
    }
    case AlertKind::Collaboration: {
      const auto& first = a.a.end <= a.b.end ? a.a : a.b;
      const auto& second = &first == &a.a ? a.b : a.a;
      out += "Collaboration opportunity: ";
      put_who(out, first);
      out += " ends ";
      put_end(out, first.end);
      out += " and ";
      put_who(out, second);
      out += " starts ";
      put_start(out, second.start);
      out += ", ";
      put_later(out, first.end, second.start);
      out += ", and they ";
      put_apart(out, a.distance_m);
      put_where(out, a);
      out += ": dig once, share one trench and one closure.";
      break;
    }
    case AlertKind::Restriction: {
      const auto& r = a.a.kind == WorkKind::Restriction ? a.a : a.b;
      const auto& w = &r == &a.a ? a.b : a.a;
      out += "Restriction: ";
      put_who(out, w);
      out += " starts ";
      put_start(out, w.start);
      out += ' ';
      if (a.distance_m <= 0) {
        out += "inside";
      } else {
        put_metres(out, a.distance_m);
        out += " from";
      }
      out += " Section 58 restriction ";
      out += r.ref;
      put_where(out, a);
      if (w.end < r.start) {
        // The contract's rule (starting before the restriction ends) holds a work planned to be
        // done before it starts too: the notice period is for just that, so say so.
        out += ", which starts ";
        put_start(out, r.start);
        out += " and lasts until ";
        put_end(out, r.end);
        out += ": the work is planned to end ";
        put_end(out, w.end);
        out += ", before it; any overrun needs the highway authority's consent.";
      } else {
        out += ", which runs from ";
        put_start(out, r.start);
        out += " until ";
        put_end(out, r.end);
        out += ": only immediate works may dig there; ask the highway authority.";
      }
      break;
    }
  }
  return out;
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
    case CloseCause::Immediate:
      return "Closed: work " + ref +
             " is now immediate (urgent or emergency), and immediate works may go ahead inside a "
             "Section 58 restriction.";
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
    // Six decimals (a tenth of a second), except that a gap above 0 never shows as 0: a
    // collaboration's gap is more than 0 (contract section 2), however little more.
    const double gap_days = static_cast<double>(a.gap) / static_cast<double>(kMicrosPerDay);
    o.fixed("gap_days", a.gap > 0 ? std::max(gap_days, 1e-6) : gap_days, 6);
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
