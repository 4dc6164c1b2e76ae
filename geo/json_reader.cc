#include "geo/json_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace digonce::geo::json {

JsonReader::JsonReader() {
  // Fixes the parser's depth limit (later reallocations for bigger inputs keep it). Should this
  // allocation fail, parse() allocates on demand with simdjson's default depth limit (1024),
  // which is as safe, only more generous.
  if (parser_.allocate(4096, kMaxDepth) != simdjson::SUCCESS) parser_ = simdjson::dom::parser();
}

namespace {

// A number no double (or 64-bit integer) holds, as JSON allows: an integer literal is too large,
// anything else is not a finite number.
// The literal is shown up to 40 characters ("..." after), and read whole to tell which.
std::string out_of_range(std::string_view literal) {
  bool integer = literal.find_first_of(".eE") == std::string_view::npos;
  std::string shown(literal.substr(0, 40));
  if (literal.size() > 40) shown += "...";
  return integer ? "must be a number in range: " + shown + " is out of range (beyond 64 bits)"
                 : "must be a finite number: " + shown + " is out of range";
}

// The first object member whose name an earlier member of the same object has, as its path
// ("features[2].properties.work_ref"). JSON names should be unique (RFC 8259 4; I-JSON, RFC
// 7493, says must): readers disagree on which of two equal names counts (simdjson and this
// parser take the first, Python's json the last), so a record that says two things would be
// read one way here and another way by whoever reads the topic after.
struct NameCheck {
  struct Step {
    std::string_view name;  // a member's name, or
    std::size_t index;      // an array item's index (when `item`)
    bool item;
  };
  std::vector<Step> path;
  std::vector<std::string_view> names;  // reused per object
  std::optional<std::string> found;

  std::string where(std::string_view last) const {
    std::string out;
    for (const auto& step : path) {
      if (step.item) {
        out += "[" + std::to_string(step.index) + "]";
      } else {
        if (!out.empty()) out += '.';
        out += step.name;
      }
    }
    if (!out.empty()) out += '.';
    out += last;
    return out;
  }

  // Whether there can be an object at or under `e`: scalars and arrays of scalars (a position)
  // are passed over without a step on the path (a geometry is mostly positions).
  static bool holds_objects(const element& e) {
    array a;
    if (e.get_array().get(a) != simdjson::SUCCESS) return e.is_object();
    for (element item : a)
      if (item.is_object() || item.is_array()) return true;
    return false;
  }

  void walk(const element& e) {
    if (found) return;
    object o;
    array a;
    if (e.get_object().get(o) == simdjson::SUCCESS) {
      const std::size_t first = names.size();
      for (auto field : o) {
        const std::string_view key = field.key;
        for (std::size_t i = first; i < names.size(); ++i)
          if (names[i] == key) {
            found = where(key);
            names.resize(first);
            return;
          }
        names.push_back(key);
        if (names.size() - first > 64) break;  // beyond: sorted check below
      }
      if (names.size() - first > 64) {  // a large object: sort its names once
        std::vector<std::string_view> all;
        for (auto field : o) all.push_back(field.key);
        std::sort(all.begin(), all.end());
        if (auto d = std::adjacent_find(all.begin(), all.end()); d != all.end()) {
          found = where(*d);
          names.resize(first);
          return;
        }
      }
      names.resize(first);
      for (auto field : o) {
        if (!holds_objects(field.value)) continue;
        path.push_back({field.key, 0, false});
        walk(field.value);
        path.pop_back();
        if (found) return;
      }
    } else if (e.get_array().get(a) == simdjson::SUCCESS) {
      std::size_t i = 0;
      for (element item : a) {
        if (holds_objects(item)) {
          path.push_back({{}, i, true});
          walk(item);
          path.pop_back();
          if (found) return;
        }
        ++i;
      }
    }
  }
};

}  // namespace

Result<element> JsonReader::checked_names(element root) {
  thread_local NameCheck check;
  check.path.clear();
  check.names.clear();
  check.found.reset();
  check.walk(root);
  if (check.found)
    return Error{*check.found,
                 "is given twice in its object (JSON names must be unique: readers differ on "
                 "which one counts)"};
  return root;
}

Result<element> JsonReader::parse(std::string_view text) {
  bad_numbers_.clear();
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; the buffer keeps its capacity.
  buffer_.assign(text);
  buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
  element root;
  auto code = parser_.parse(buffer_.data(), text.size(), false).get(root);
  if (code == simdjson::SUCCESS) return checked_names(root);

  // simdjson says only what went wrong; the scanner says where.
  JsonScan scan = scan_json(text, kMaxDepth);
  if (code == simdjson::NUMBER_ERROR && !scan.syntax && scan.more_bad_numbers) {
    // So many that standing in for each is not worth it: the whole text is rejected.
    const auto& n = scan.bad_numbers.front();
    return Error{n.path, out_of_range(text.substr(n.offset, n.length)) + ", and so are at least " +
                             std::to_string(scan.bad_numbers.size()) + " other numbers"};
  }
  if (code == simdjson::NUMBER_ERROR && !scan.syntax && !scan.bad_numbers.empty()) {
    // Well-formed numbers out of simdjson's range: stand a 0 (padded with spaces, so offsets
    // hold) in for each, parse again, and remember where they were.
    for (const auto& n : scan.bad_numbers) {
      bad_numbers_.push_back(BadNumber{n.path, out_of_range(text.substr(n.offset, n.length))});
      buffer_[n.offset] = '0';
      std::memset(buffer_.data() + n.offset + 1, ' ', n.length - 1);
    }
    code = parser_.parse(buffer_.data(), text.size(), false).get(root);
    if (code == simdjson::SUCCESS) return checked_names(root);
    bad_numbers_.clear();
  }
  // The scanner's words where it found the fault (simdjson's own are generic: "The JSON document
  // has an improper structure: missing or superfluous commas, braces, missing keys, etc.").
  if (!scan.syntax) return error(std::string("invalid JSON: ") + simdjson::error_message(code));
  // The member the fault is in is the error's field, as for a bad value ("" at the top).
  const std::string& path = scan.syntax->path;
  return Error{
      path.size() > 120 ? path.substr(0, 120) + "..." : path,
      "invalid JSON at byte " + std::to_string(scan.syntax->offset) + ": " + scan.syntax->message};
}

std::optional<Error> JsonReader::bad_number_under(std::string_view path) const {
  for (const auto& n : bad_numbers_) {
    std::string_view p = n.path;
    bool under = path.empty() || p == path ||
                 (p.size() > path.size() && p.substr(0, path.size()) == path &&
                  (p[path.size()] == '.' || p[path.size()] == '['));
    if (under) return Error{n.path, n.message};
  }
  return std::nullopt;
}

std::optional<Error> JsonReader::bad_number_in(
    std::string_view prefix, std::initializer_list<std::string_view> members) const {
  if (bad_numbers_.empty()) return std::nullopt;
  // The scanner names members as written, escapes and all, where the parser reads them
  // unescaped ("\u0076ersion" is "version"): a bad number under an escaped name counts as read.
  for (const auto& n : bad_numbers_) {
    std::string_view p = n.path;
    if (p.substr(0, prefix.size()) == prefix &&
        p.find('\\', prefix.size()) != std::string_view::npos)
      return Error{n.path, n.message};
  }
  std::string path;
  for (auto m : members) {
    path.assign(prefix).append(m);
    if (auto bad = bad_number_under(path)) return bad;
  }
  return std::nullopt;
}

const char* type_name(const element& e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "an integer";
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

Error wrong_type(std::string field, std::string_view what, const element& e) {
  return Error{std::move(field), "must be " + std::string(what) + ", not " + type_name(e)};
}

std::optional<element> member(const object& o, std::string_view key) {
  element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

Result<std::string_view> Fields::check_string(std::string_view key, const element& e,
                                              bool limited) const {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS)
    return wrong_type(std::string(key), "a string", e);
  if (limited && s.size() > limits_.max_string) {
    return Error{std::string(key), "is " + std::to_string(s.size()) +
                                       " bytes long, more than the limit of " +
                                       std::to_string(limits_.max_string)};
  }
  return s;
}

Result<std::string_view> Fields::required_string(std::string_view key) const {
  auto e = get(key);
  if (!e) return Error{std::string(key), "is required"};
  return check_string(key, *e, true);
}

Result<std::string_view> Fields::required_text(std::string_view key) const {
  auto e = get(key);
  if (!e) return Error{std::string(key), "is required"};
  return check_string(key, *e, false);
}

Result<std::optional<std::string_view>> Fields::optional_string(std::string_view key) const {
  auto e = get(key);
  if (!e) return std::optional<std::string_view>{};
  auto s = check_string(key, *e, true);
  if (!s) return std::move(s).error();
  return std::optional<std::string_view>{*s};
}

Result<std::optional<std::string>> Fields::optional_string_or_integer(std::string_view key) const {
  auto e = get(key);
  if (!e) return std::optional<std::string>{};
  if (e->is_string()) {
    auto s = check_string(key, *e, true);
    if (!s) return std::move(s).error();
    return std::optional<std::string>{std::string(*s)};
  }
  std::int64_t i = 0;
  std::uint64_t u = 0;
  if (e->get_int64().get(i) == simdjson::SUCCESS && i >= 0)
    return std::optional<std::string>{std::to_string(i)};
  if (e->get_uint64().get(u) == simdjson::SUCCESS)
    return std::optional<std::string>{std::to_string(u)};
  if (e->get_int64().get(i) == simdjson::SUCCESS)
    return Error{std::string(key), "must be a string or an integer >= 0, not " + std::to_string(i)};
  return wrong_type(std::string(key), "a string or an integer >= 0", *e);
}

Result<std::optional<std::int64_t>> Fields::optional_count(std::string_view key) const {
  auto e = get(key);
  if (!e) return std::optional<std::int64_t>{};
  std::int64_t i = 0;
  if (e->type() == simdjson::dom::element_type::INT64 &&
      e->get_int64().get(i) == simdjson::SUCCESS) {
    if (i < 0) return Error{std::string(key), "must be an integer >= 0, not " + std::to_string(i)};
    return std::optional<std::int64_t>{i};
  }
  if (e->type() == simdjson::dom::element_type::UINT64)
    return Error{std::string(key), "must be an integer >= 0 and at most 9223372036854775807"};
  if (e->type() == simdjson::dom::element_type::DOUBLE) {
    // 1.0 and 1e3 are whole, but written as a fraction or an exponent: the contract's integer is
    // written in digits only (as most JSON readers tell integers from other numbers).
    double d = 0;
    const bool whole =
        e->get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && d == std::floor(d);
    return Error{std::string(key),
                 whole ? "must be an integer >= 0 written in digits only (1, not 1.0 or 1e0)"
                       : "must be an integer >= 0, not a fractional number"};
  }
  return wrong_type(std::string(key), "an integer >= 0", *e);
}

Result<std::int64_t> Fields::required_count(std::string_view key) const {
  auto v = optional_count(key);
  if (!v) return std::move(v).error();
  if (!*v) return Error{std::string(key), "is required"};
  return **v;
}

Result<object> Fields::required_object(std::string_view key) const {
  auto e = get(key);
  if (!e) return Error{std::string(key), "is required"};
  object o;
  if (e->get_object().get(o) != simdjson::SUCCESS)
    return wrong_type(std::string(key), "an object", *e);
  return o;
}

Result<std::optional<Micros>> Fields::optional_timestamp(std::string_view key, DateEnd bare) const {
  auto s = optional_string(key);
  if (!s) return std::move(s).error();
  if (!*s) return std::optional<Micros>{};
  auto t = parse_timestamp(**s, bare);
  if (!t) return std::move(t).error().within(std::string(key));
  // An offset can carry 0001-01-01 into year 0, which no RFC 3339 timestamp can write back.
  if (*t < kMinTime || *t > kMaxTime)
    return Error{std::string(key), "is out of range: years 0001 to 9999 in UTC"};
  return std::optional<Micros>{*t};
}

Status Fields::copy_string(std::string_view key, std::string& out) const {
  auto s = optional_string(key);
  if (!s) return std::move(s).error();
  if (*s) out.assign(**s);
  return {};
}

}  // namespace digonce::geo::json
