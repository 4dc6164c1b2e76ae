// Street Manager open-data notifications (DfT event notifier; the schema and samples are in
// shared/data/streetmanager/) mapped onto work events, as the contract's section 1 lays out.
//
// A notification arrives in an Amazon SNS envelope ({"Type":"Notification","Message":"<the
// notification as a JSON string>"}) or bare. It carries one object (object_type PERMIT, ACTIVITY
// or SECTION_58) in object_data, in full, with its geometry as WKT in EPSG:27700, and an
// event_reference that increases from event to event: it becomes the work's version, so that a
// replayed older notification is stale. (The notification's "version" is the schema's version.)
#include <array>

#include "base/ascii.h"
#include "geo/parse_internal.h"

namespace digonce::geo::detail {
namespace {

// Street Manager writes a date as the UK midnight that starts it, in UTC:
// "2020-06-27T23:00:00.000Z" is 28 June in summer time. Some producers write a UTC midnight
// whatever the season (00:00:00Z in summer is 01:00 in the UK): that is a date too. 23:00:00Z in
// winter is a time of day.
bool is_date_value(Micros t) {
  return time_of_day(t) == 0 || is_uk_midnight(t);
}

// The last second of the day a date value starts: the second before the next UK midnight (23,
// 24 or 25 hours later, as the clocks change), or, for a UTC midnight in summer time, of that
// UTC day.
Micros end_of_day(Micros date) {
  Micros next = date + kMicrosPerDay;
  if (is_uk_midnight(date)) {
    for (Micros hours : {23, 24, 25}) {
      if (is_uk_midnight(date + hours * kMicrosPerHour)) {
        next = date + hours * kMicrosPerHour;
        break;
      }
    }
  }
  return std::min(next - kMicrosPerSecond, json::kMaxTime);
}

// The end a date field gives: a date lasts to the end of that day; a value with a time of day is
// taken as it is.
Micros end_of_date_field(Micros t) {
  return is_date_value(t) ? end_of_day(t) : t;
}

// What an event does to the work.
enum class Effect { Upsert, Cancel, Planned, InProgress, Completed };

struct EventRule {
  std::string_view event_type;
  std::string_view object_type;
  Effect effect;
};

constexpr std::array<EventRule, 19> kEvents = {{
    {"PERMIT_SUBMITTED", "PERMIT", Effect::Upsert},
    {"PERMIT_GRANTED", "PERMIT", Effect::Upsert},
    {"PERMIT_ALTERATION_GRANTED", "PERMIT", Effect::Upsert},
    {"PERMIT_CANCELLED", "PERMIT", Effect::Cancel},
    {"PERMIT_REVOKED", "PERMIT", Effect::Cancel},
    {"PERMIT_REFUSED", "PERMIT", Effect::Cancel},
    {"WORK_START", "PERMIT", Effect::InProgress},
    {"WORK_STOP", "PERMIT", Effect::Completed},
    {"WORK_START_REVERTED", "PERMIT", Effect::Planned},
    {"WORK_STOP_REVERTED", "PERMIT", Effect::InProgress},
    {"CURRENT_TRAFFIC_MANAGEMENT_TYPE_UPDATED", "PERMIT", Effect::Upsert},
    {"ACTIVITY_CREATED", "ACTIVITY", Effect::Upsert},
    {"ACTIVITY_UPDATED", "ACTIVITY", Effect::Upsert},
    {"ACTIVITY_CANCELLED", "ACTIVITY", Effect::Cancel},
    {"SECTION_58_CREATED", "SECTION_58", Effect::Upsert},
    {"SECTION_58_UPDATED", "SECTION_58", Effect::Upsert},
    {"SECTION_58_IN_FORCE", "SECTION_58", Effect::InProgress},
    {"SECTION_58_CANCELLED", "SECTION_58", Effect::Cancel},
    {"SECTION_58_CLOSED", "SECTION_58", Effect::Cancel},
}};

// Street Manager spells event types both "PERMIT_GRANTED" and "work-start"; a relay may write
// "Permit granted" or leave a space at an end (which, unknown, would make a cancel an upsert).
std::string normalize_name(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  std::string out(s.substr(0, 64));
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == '-' || blank(c)) c = '_';
  }
  return out;
}

// The work's identity, which every object type has under its own member names.
struct Names {
  std::string_view ref;
  std::string_view promoter;
};

// An SWA code is four digits (or letters) written as a string; a relay that turned it into a
// number means the same code, leading zeros included (16 is "0016").
Result<std::optional<std::string>> swa_code(const json::Fields& f, std::string_view key) {
  DIGONCE_PARSE_ASSIGN(code, f.optional_string_or_integer(key));
  if (code && code->size() < 4 && !f.get(key)->is_string()) code->insert(0, 4 - code->size(), '0');
  return code;
}

Result<WorkEvent> identity(const json::Fields& f, const Names& names) {
  WorkEvent w;
  DIGONCE_PARSE_ASSIGN(ref, f.required_string(names.ref));
  if (auto why = check_work_ref(ref)) return Error{std::string(names.ref), *why};
  w.work_ref.assign(ref);
  DIGONCE_PARSE_ASSIGN(promoter, swa_code(f, names.promoter));
  if (!promoter) return Error{std::string(names.promoter), "is required"};
  if (auto why = check_promoter(*promoter)) return Error{std::string(names.promoter), *why};
  w.promoter = std::move(*promoter);
  return w;
}

// Street Manager's optional times are null when not known; an empty string, or the text
// "null", from a relay that writes null so, means the same.
Result<std::optional<Micros>> optional_time(const json::Fields& f, std::string_view key,
                                            DateEnd bare) {
  auto text = f.optional_string(key);
  if (text && *text && ((*text)->empty() || ascii_iequals(**text, "null")))
    return std::optional<Micros>{};
  return f.optional_timestamp(key, bare);
}

Status geometry(const json::Fields& f, std::string_view key, const ParseLimits& limits,
                WorkEvent& w) {
  DIGONCE_PARSE_ASSIGN(text, f.required_text(key));
  auto g = parse_ewkt(text, limits);
  if (!g) return std::move(g).error().within(std::string(key));
  w.geometry = std::move(g->shape);
  // Street Manager's coordinates are British National Grid; an EWKT SRID would say otherwise.
  w.crs = g->srid ? "EPSG:" + std::to_string(*g->srid) : "EPSG:27700";
  return {};
}

// The timestamp of the first of `keys` present; each present one must be a good timestamp.
Result<std::optional<Micros>> first_time(const json::Fields& f,
                                         std::initializer_list<std::string_view> keys) {
  std::optional<Micros> found;
  for (auto key : keys) {
    DIGONCE_PARSE_ASSIGN(t, optional_time(f, key, DateEnd::Start));
    if (t && !found) found = t;
  }
  return found;
}

Status ends_after_start(const WorkEvent& w, std::string_view end_key) {
  if (w.end >= w.start) return {};
  return Error{std::string(end_key), "is before the start (" + format_timestamp(w.end) + " < " +
                                         format_timestamp(w.start) + ")"};
}

Status descriptive_fields(const json::Fields& f, WorkEvent& w) {
  DIGONCE_TRY(f.copy_string("street_name", w.street_name));
  DIGONCE_PARSE_ASSIGN(authority, swa_code(f, "highway_authority_swa_code"));
  if (authority) w.highway_authority = std::move(*authority);
  DIGONCE_PARSE_ASSIGN(usrn, f.optional_string_or_integer("usrn"));
  if (usrn) w.usrn = std::move(*usrn);
  return {};
}

// work_category_ref, else the text of work_category, else the contract's default (standard): a
// value neither names, from a newer Street Manager, leaves the work standard rather than lost.
Result<Category> permit_category(const json::Fields& f) {
  DIGONCE_PARSE_ASSIGN(ref, f.optional_string("work_category_ref"));
  if (ref)
    if (auto c = parse_category(*ref)) return *c;
  DIGONCE_PARSE_ASSIGN(text, f.optional_string("work_category"));
  if (!text) return Category::Standard;
  static constexpr std::pair<std::string_view, Category> kText[] = {
      {"Minor", Category::Minor},
      {"Standard", Category::Standard},
      {"Major", Category::Major},
      {"Major (PAA)", Category::Paa},
      {"Major(PAA)", Category::Paa},
      {"Immediate - urgent", Category::ImmediateUrgent},
      {"Immediate - emergency", Category::ImmediateEmergency},
      {"HS2 (Highway)", Category::Hs2Highway},
  };
  for (const auto& [name, c] : kText)
    if (ascii_iequals(name, *text)) return c;
  if (auto c = parse_category(*text)) return *c;  // a ref's spelling in the text member
  return Category::Standard;
}

// Street Manager has eight work statuses; the ones that are not the contract's four are either
// over (historical) or still a work in the street (unattributable, non-notifiable, section 81).
Result<WorkStatus> permit_status(const json::Fields& f) {
  DIGONCE_PARSE_ASSIGN(ref, f.optional_string("work_status_ref"));
  if (ref) {
    if (*ref == "historical") return WorkStatus::Completed;
    return parse_status(*ref).value_or(WorkStatus::Planned);
  }
  DIGONCE_PARSE_ASSIGN(text, f.optional_string("work_status"));
  if (!text) return WorkStatus::Planned;
  if (ascii_iequals(*text, "Works in progress")) return WorkStatus::InProgress;
  if (ascii_iequals(*text, "Works completed") || ascii_iequals(*text, "Historical works"))
    return WorkStatus::Completed;
  if (ascii_iequals(*text, "Works cancelled")) return WorkStatus::Cancelled;
  return WorkStatus::Planned;
}

Result<WorkEvent> permit(const json::Fields& f, Effect effect, const ParseLimits& limits,
                         bool known_event) {
  DIGONCE_PARSE_ASSIGN(w, identity(f, {"work_reference_number", "promoter_swa_code"}));
  // An event type digonce does not list: the permit's own status says whether it ended (a
  // cancel spelt otherwise must not leave the work live).
  if (!known_event) {
    DIGONCE_PARSE_ASSIGN(permit_status, f.optional_string("permit_status"));
    if (permit_status &&
        (ascii_iequals(*permit_status, "cancelled") || ascii_iequals(*permit_status, "revoked") ||
         ascii_iequals(*permit_status, "refused")))
      effect = Effect::Cancel;
    else if (permit_status && ascii_iequals(*permit_status, "closed"))
      effect = Effect::Completed;
  }
  if (effect == Effect::Cancel) {
    w.event = EventType::Cancel;
    return w;
  }
  DIGONCE_TRY(geometry(f, "works_location_coordinates", limits, w));
  DIGONCE_PARSE_ASSIGN(planned_start,
                       first_time(f, {"proposed_start_time", "proposed_start_date"}));
  DIGONCE_PARSE_ASSIGN(planned_end_time, optional_time(f, "proposed_end_time", DateEnd::Start));
  DIGONCE_PARSE_ASSIGN(planned_end_date, optional_time(f, "proposed_end_date", DateEnd::Start));
  DIGONCE_PARSE_ASSIGN(actual_start, optional_time(f, "actual_start_date_time", DateEnd::Start));
  DIGONCE_PARSE_ASSIGN(actual_end, optional_time(f, "actual_end_date_time", DateEnd::End));
  std::optional<Micros> planned_end = planned_end_time;
  if (!planned_end && planned_end_date) planned_end = end_of_date_field(*planned_end_date);
  if (!planned_start && !actual_start) return Error{"proposed_start_date", "is required"};
  if (!planned_end && !actual_end) return Error{"proposed_end_date", "is required"};
  w.start = actual_start ? *actual_start : *planned_start;
  w.end = actual_end ? *actual_end : *planned_end;
  if (!actual_start && !actual_end)
    DIGONCE_TRY(ends_after_start(w, planned_end_time ? "proposed_end_time" : "proposed_end_date"));
  if (actual_start && actual_end) DIGONCE_TRY(ends_after_start(w, "actual_end_date_time"));
  // Once known, what happened replaces what was planned, and a work can start after its planned
  // end (a late start on a permit still open). Its end is not known yet: the work is taken to
  // last as long as planned from its actual start (or, with no planned start, to end when it
  // starts), until a later event (WORK_STOP, a variation) says more. (Ending it at its start
  // made a work in progress an instant, and a clash with it a collaboration.)
  if (w.end < w.start) {
    w.end = w.start;
    if (planned_start && planned_end && *planned_end >= *planned_start)
      w.end = std::min(w.start + (*planned_end - *planned_start), json::kMaxTime);
  }

  DIGONCE_PARSE_ASSIGN(category, permit_category(f));
  w.category = category;
  DIGONCE_PARSE_ASSIGN(status, permit_status(f));
  w.status = status;
  if (effect == Effect::Planned) w.status = WorkStatus::Planned;
  if (effect == Effect::InProgress) w.status = WorkStatus::InProgress;
  if (effect == Effect::Completed) w.status = WorkStatus::Completed;
  DIGONCE_TRY(descriptive_fields(f, w));
  DIGONCE_TRY(f.copy_string("promoter_organisation", w.promoter_name));
  DIGONCE_TRY(f.copy_string("traffic_management_type_ref", w.traffic_management));
  DIGONCE_TRY(f.copy_string("activity_type", w.description));
  return w;
}

// An activity (a street event, skips, scaffolding...) occupies the street like a work; the
// highway authority that licenses it stands as its promoter.
Result<WorkEvent> activity(const json::Fields& f, Effect effect, const ParseLimits& limits) {
  DIGONCE_PARSE_ASSIGN(w, identity(f, {"activity_reference_number", "highway_authority_swa_code"}));
  DIGONCE_PARSE_ASSIGN(cancelled, f.optional_string("cancelled"));
  if (effect == Effect::Cancel || (cancelled && ascii_iequals(*cancelled, "Yes"))) {
    w.event = EventType::Cancel;
    return w;
  }
  DIGONCE_TRY(geometry(f, "activity_coordinates", limits, w));
  DIGONCE_PARSE_ASSIGN(start, first_time(f, {"start_time", "start_date"}));
  if (!start) return Error{"start_date", "is required"};
  w.start = *start;
  DIGONCE_PARSE_ASSIGN(end_time, optional_time(f, "end_time", DateEnd::Start));
  DIGONCE_PARSE_ASSIGN(end_date, optional_time(f, "end_date", DateEnd::Start));
  if (end_time) {
    w.end = *end_time;
  } else if (end_date) {
    w.end = end_of_date_field(*end_date);
  } else {
    return Error{"end_date", "is required"};
  }
  DIGONCE_TRY(ends_after_start(w, end_time ? "end_time" : "end_date"));
  DIGONCE_TRY(descriptive_fields(f, w));
  DIGONCE_TRY(f.copy_string("highway_authority", w.promoter_name));
  DIGONCE_TRY(f.copy_string("activity_name", w.description));
  // Street Manager records some Section 58 restrictions as activities (activity_type
  // "section58", as the DfT schema lists it): they restrict the street like a SECTION_58 object.
  DIGONCE_PARSE_ASSIGN(activity_type, f.optional_string("activity_type"));
  if (activity_type && ascii_iequals(*activity_type, "section58")) w.kind = WorkKind::Restriction;
  DIGONCE_TRY(f.copy_string("traffic_management_type", w.traffic_management));
  return w;
}

// A Section 58 restriction bars new works from a street just resurfaced, from start to end.
Result<WorkEvent> section58(const json::Fields& f, Effect effect, const ParseLimits& limits) {
  DIGONCE_PARSE_ASSIGN(w,
                       identity(f, {"section_58_reference_number", "highway_authority_swa_code"}));
  w.kind = WorkKind::Restriction;
  DIGONCE_PARSE_ASSIGN(status, f.optional_string("section_58_status"));
  if (effect == Effect::Cancel ||
      (status && (ascii_iequals(*status, "closed") || ascii_iequals(*status, "cancelled")))) {
    w.event = EventType::Cancel;
    return w;
  }
  if (effect == Effect::InProgress || (status && ascii_iequals(*status, "in_force")))
    w.status = WorkStatus::InProgress;
  DIGONCE_TRY(geometry(f, "section_58_coordinates", limits, w));
  DIGONCE_PARSE_ASSIGN(start, optional_time(f, "start_date", DateEnd::Start));
  if (!start) return Error{"start_date", "is required"};
  DIGONCE_PARSE_ASSIGN(end, optional_time(f, "end_date", DateEnd::Start));
  if (!end) return Error{"end_date", "is required"};
  w.start = *start;
  w.end = end_of_date_field(*end);
  DIGONCE_TRY(ends_after_start(w, "end_date"));
  DIGONCE_TRY(descriptive_fields(f, w));
  DIGONCE_TRY(f.copy_string("highway_authority", w.promoter_name));
  return w;
}

// The notification's object_type, normalised ("" when it has none that is a string).
std::string object_type_of(const json::object& message) {
  std::string_view type;
  auto member = json::member(message, "object_type");
  if (!member || member->get_string().get(type) != simdjson::SUCCESS) return {};
  return normalize_name(type);
}

}  // namespace

Result<WorkEvent> parse_notification(const json::object& message, const ParseLimits& limits) {
  json::Fields f(message, limits);
  DIGONCE_PARSE_ASSIGN(object_type_text, f.required_string("object_type"));
  std::string object_type = normalize_name(object_type_text);
  if (object_type != "PERMIT" && object_type != "ACTIVITY" && object_type != "SECTION_58")
    return Error{"object_type", "must be one of PERMIT, ACTIVITY, SECTION_58"};
  DIGONCE_PARSE_ASSIGN(event_type_text, f.required_string("event_type"));
  std::string event_type = normalize_name(event_type_text);
  if (event_type.empty()) return Error{"event_type", "must not be empty"};
  const EventRule* rule = nullptr;
  for (const auto& r : kEvents)
    if (r.event_type == event_type) rule = &r;
  // Each notification carries its object whole, and DfT extends the event types without notice
  // (its open-data page says so): one digonce does not know is an upsert of the object as it now
  // stands, its status from its own members, rather than a work lost.
  const Effect effect = rule ? rule->effect : Effect::Upsert;
  if (rule && rule->object_type != object_type) {
    return Error{"event_type", event_type + " does not apply to object_type " + object_type};
  }
  DIGONCE_PARSE_ASSIGN(version, f.required_count("event_reference"));
  DIGONCE_PARSE_ASSIGN(data, f.required_object("object_data"));
  json::Fields d(data, limits);
  auto w = object_type == "PERMIT"     ? permit(d, effect, limits, rule != nullptr)
           : object_type == "ACTIVITY" ? activity(d, effect, limits)
                                       : section58(d, effect, limits);
  if (!w) return std::move(w).error().within("object_data");
  w->version = version;
  return w;
}

void parse_streetmanager(const json::object& root, json::JsonReader& reader,
                         const ParseLimits& limits, Parsed& out) {
  json::Fields f(root, limits);
  auto fail = [&](Error e) { out.errors.push_back(std::move(e)); };
  if (!f.has("Type")) {  // a bare notification
    if (auto bad = reader.bad_number_in("", kNotificationNumbers)) return fail(std::move(*bad));
    auto w = parse_notification(root, limits);
    if (!w) return fail(std::move(w).error());
    out.object_type = object_type_of(root);
    return out.works.push_back(std::move(*w));
  }

  // The SNS envelope (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html)
  auto type = f.required_string("Type");
  if (!type) return fail(std::move(type).error());
  if (*type == "SubscriptionConfirmation") {
    // SNS sends it once, when the endpoint subscribes: someone has to visit the URL.
    auto url = f.optional_string("SubscribeURL");
    std::string where = url && *url ? " (" + std::string(**url) + ")" : "";
    return fail(Error{"Type",
                      "this is an SNS subscription confirmation, not a work: confirm the "
                      "subscription by visiting its SubscribeURL" +
                          where});
  }
  if (*type == "UnsubscribeConfirmation")
    return fail(Error{"Type", "this is an SNS unsubscribe confirmation, not a work"});
  if (*type != "Notification") return fail(Error{"Type", "must be \"Notification\""});
  auto text = f.required_text("Message");
  if (!text) return fail(std::move(text).error());
  std::string message(*text);  // parsing it reuses the reader: `root` dies here
  auto inner = reader.parse(message);
  if (!inner) return fail(std::move(inner).error().within("Message"));
  json::object o;
  if (inner->get_object().get(o) != simdjson::SUCCESS)
    return fail(json::wrong_type("Message", "a Street Manager notification object", *inner));
  if (auto bad = reader.bad_number_in("", kNotificationNumbers))
    return fail(std::move(*bad).within("Message"));
  auto w = parse_notification(o, limits);
  if (!w) return fail(std::move(w).error().within("Message"));
  out.notification_prefix = "Message.";
  out.object_type = object_type_of(o);
  out.works.push_back(std::move(*w));
}

}  // namespace digonce::geo::detail
