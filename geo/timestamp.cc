#include "geo/timestamp.h"

#include <algorithm>
#include <cstdio>

namespace digonce::geo {

// http://howardhinnant.github.io/date_algorithms.html#days_from_civil
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// http://howardhinnant.github.io/date_algorithms.html#civil_from_days
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

namespace {

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool digits(int n, int& out) {
    out = 0;
    for (int i = 0; i < n; ++i) {
      if (at_ >= s_.size() || s_[at_] < '0' || s_[at_] > '9') return false;
      out = out * 10 + (s_[at_++] - '0');
    }
    return true;
  }
  bool take(char c) {
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool done() const { return at_ == s_.size(); }
  char peek() const { return at_ < s_.size() ? s_[at_] : '\0'; }
  void skip() { ++at_; }

 private:
  std::string_view s_;
  std::size_t at_ = 0;
};

}  // namespace

Result<Micros> parse_timestamp(std::string_view text, DateEnd bare_date) {
  auto bad = [&](const std::string& why) {
    std::string shown(text.substr(0, 40));
    return error("\"" + shown + (text.size() > 40 ? "..." : "") + "\" is not an RFC 3339 " +
                 "timestamp or a YYYY-MM-DD date (" + why + ")");
  };
  Cursor c(text);
  int year = 0, month = 0, day = 0;
  if (!c.digits(4, year) || !c.take('-') || !c.digits(2, month) || !c.take('-') ||
      !c.digits(2, day))
    return bad("expected YYYY-MM-DD");
  if (year < 1) return bad("year out of range");
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)))
    return bad("day out of range");
  Micros t = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
             kMicrosPerDay;
  if (c.done()) {
    return bare_date == DateEnd::Start ? t : t + kMicrosPerDay - kMicrosPerSecond;
  }
  if (!(c.take('T') || c.take('t') || c.take(' '))) return bad("expected 'T' after the date");
  int hour = 0, minute = 0, second = 0;
  if (!c.digits(2, hour) || !c.take(':') || !c.digits(2, minute) || !c.take(':') ||
      !c.digits(2, second))
    return bad("expected hh:mm:ss");
  if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");
  if (second == 60) second = 59;  // a leap second: POSIX time has none
  Micros fraction = 0;
  if (c.take('.')) {
    int n = 0;
    Micros scale = 100'000;
    while (c.peek() >= '0' && c.peek() <= '9') {
      if (scale > 0) fraction += (c.peek() - '0') * scale;
      scale /= 10;
      c.skip();
      ++n;
    }
    if (n == 0) return bad("expected digits after '.'");
  }
  Micros offset = 0;
  if (c.take('Z') || c.take('z')) {
  } else if (c.peek() == '+' || c.peek() == '-') {
    bool minus = c.peek() == '-';
    c.skip();
    int oh = 0, om = 0;
    if (!c.digits(2, oh) || !c.take(':') || !c.digits(2, om) || oh > 23 || om > 59)
      return bad("bad UTC offset");
    offset = (oh * 3600 + om * 60) * kMicrosPerSecond * (minus ? -1 : 1);
  } else {
    return bad("missing time zone ('Z' or +hh:mm)");
  }
  if (!c.done()) return bad("unexpected text after the time zone");
  return t + (hour * 3600 + minute * 60 + second) * kMicrosPerSecond + fraction - offset;
}

namespace {

// Writes v as exactly `width` digits (v < 10^width).
char* put_digits(char* at, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return at + width;
}

}  // namespace

std::size_t format_timestamp(Micros t, char* out) {
  std::int64_t days = t >= 0 ? t / kMicrosPerDay : -((-t + kMicrosPerDay - 1) / kMicrosPerDay);
  Micros in_day = t - days * kMicrosPerDay;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  auto secs = in_day / kMicrosPerSecond;
  auto frac = in_day % kMicrosPerSecond;
  if (y < 0 || y > 9999) {  // outside RFC 3339's years: printf's form
    int n =
        frac == 0
            ? std::snprintf(out, kTimestampMax, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                            static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                            static_cast<long long>(secs / 60 % 60),
                            static_cast<long long>(secs % 60))
            : std::snprintf(out, kTimestampMax, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                            static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                            static_cast<long long>(secs / 60 % 60),
                            static_cast<long long>(secs % 60), static_cast<long long>(frac));
    return static_cast<std::size_t>(std::clamp(n, 0, kTimestampMax - 1));
  }
  char* at = put_digits(out, static_cast<std::uint64_t>(y), 4);
  *at++ = '-';
  at = put_digits(at, m, 2);
  *at++ = '-';
  at = put_digits(at, d, 2);
  *at++ = 'T';
  at = put_digits(at, static_cast<std::uint64_t>(secs / 3600), 2);
  *at++ = ':';
  at = put_digits(at, static_cast<std::uint64_t>(secs / 60 % 60), 2);
  *at++ = ':';
  at = put_digits(at, static_cast<std::uint64_t>(secs % 60), 2);
  if (frac != 0) {
    *at++ = '.';
    at = put_digits(at, static_cast<std::uint64_t>(frac), 6);
  }
  *at++ = 'Z';
  return static_cast<std::size_t>(at - out);
}

std::string format_timestamp(Micros t) {
  char buf[kTimestampMax];
  return std::string(buf, format_timestamp(t, buf));
}

bool uk_summer_time(Micros t) {
  std::int64_t year = 0;
  unsigned month = 0, day = 0;
  civil_from_days(floor_div(t, kMicrosPerDay), year, month, day);
  auto last_sunday = [&](unsigned m) {  // days since 1970-01-01 (a Thursday)
    const std::int64_t last = days_from_civil(year, m, 31);
    const std::int64_t weekday = ((last + 4) % 7 + 7) % 7;  // 0 = Sunday
    return last - weekday;
  };
  return t >= last_sunday(3) * kMicrosPerDay + kMicrosPerHour &&
         t < last_sunday(10) * kMicrosPerDay + kMicrosPerHour;
}

bool is_uk_midnight(Micros t) {
  const Micros in_day = time_of_day(t);
  return (in_day == 0 && !uk_summer_time(t)) ||
         (in_day == 23 * kMicrosPerHour && uk_summer_time(t));
}

}  // namespace digonce::geo
