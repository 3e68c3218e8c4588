#include "engine/json_ingest.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include <simdjson.h>

namespace imagegc::engine {

namespace {

// Where Podman's fully qualified Docker Hub names start (familiar_reference).
constexpr std::string_view k_docker_hub_prefix = "docker.io/";

using JsonElement = simdjson::dom::element;
using JsonObject = simdjson::dom::object;
using JsonArray = simdjson::dom::array;
using JsonType = simdjson::dom::element_type;

// Go's zero time and anything as early: the engine's way of saying "never".
constexpr int k_last_zero_year = 1;

// moby's default minimum API version before Engine 25 raised it; used when /version omits it.
constexpr ApiVersion k_default_min_api_version{1, 12};

constexpr std::string_view k_untagged_placeholder = "<none>:<none>";
constexpr std::string_view k_undigested_placeholder = "<none>@<none>";

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian calendar.
constexpr std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

constexpr bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

constexpr int days_in_month(int year, int month) {
  constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : k_days[month - 1];
}

// A cursor over an RFC 3339 string.
class TimeScanner {
public:
  explicit TimeScanner(std::string_view text) : m_text(text) {}

  // Exactly `count` decimal digits.
  std::optional<int> digits(std::size_t count) {
    if (m_text.size() - m_pos < count) {
      return std::nullopt;
    }
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = m_text[m_pos + i];
      if (!is_digit(c)) {
        return std::nullopt;
      }
      value = value * 10 + (c - '0');
    }
    m_pos += count;
    return value;
  }

  bool accept(char c) {
    if (m_pos < m_text.size() && m_text[m_pos] == c) {
      ++m_pos;
      return true;
    }
    return false;
  }

  void skip_digits() {
    while (m_pos < m_text.size() && is_digit(m_text[m_pos])) {
      ++m_pos;
    }
  }

  [[nodiscard]] std::size_t position() const { return m_pos; }
  [[nodiscard]] bool at_end() const { return m_pos == m_text.size(); }

private:
  std::string_view m_text;
  std::size_t m_pos = 0;
};

// A syntactically valid RFC 3339 time, before the zero-time rule is applied.
struct ScannedTime {
  int year = 0;
  std::int64_t unix_seconds = 0;
};

std::optional<ScannedTime> scan_rfc3339(std::string_view text) {
  TimeScanner scan(text);
  const auto year = scan.digits(4);
  if (!year || !scan.accept('-')) {
    return std::nullopt;
  }
  const auto month = scan.digits(2);
  if (!month || *month < 1 || *month > 12 || !scan.accept('-')) {
    return std::nullopt;
  }
  const auto day = scan.digits(2);
  if (!day || *day < 1 || *day > days_in_month(*year, *month)) {
    return std::nullopt;
  }
  if (!scan.accept('T') && !scan.accept('t')) {
    return std::nullopt;
  }
  const auto hour = scan.digits(2);
  if (!hour || *hour > 23 || !scan.accept(':')) {
    return std::nullopt;
  }
  const auto minute = scan.digits(2);
  if (!minute || *minute > 59 || !scan.accept(':')) {
    return std::nullopt;
  }
  // 60 is a leap second, which RFC 3339 allows.
  const auto second = scan.digits(2);
  if (!second || *second > 60) {
    return std::nullopt;
  }
  if (scan.accept('.')) {
    // Any number of fraction digits (Go trims trailing zeros); they do not change the second.
    const auto start = scan.position();
    scan.skip_digits();
    if (scan.position() == start) {
      return std::nullopt;
    }
  }
  int offset_seconds = 0;
  if (!scan.accept('Z') && !scan.accept('z')) {
    int sign = 0;
    if (scan.accept('+')) {
      sign = 1;
    } else if (scan.accept('-')) {
      sign = -1;
    } else {
      return std::nullopt;
    }
    const auto offset_hours = scan.digits(2);
    if (!offset_hours || *offset_hours > 23 || !scan.accept(':')) {
      return std::nullopt;
    }
    const auto offset_minutes = scan.digits(2);
    if (!offset_minutes || *offset_minutes > 59) {
      return std::nullopt;
    }
    offset_seconds = sign * (*offset_hours * 3600 + *offset_minutes * 60);
  }
  if (!scan.at_end()) {
    return std::nullopt;
  }
  const std::int64_t days =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  return ScannedTime{*year, days * 86400 + std::int64_t{*hour} * 3600 + std::int64_t{*minute} * 60 +
                                *second - offset_seconds};
}

// The first problem met while reading a body. Readers keep going after a problem and return
// defaults, so each parser reads every field and checks once at the end.
class Status {
public:
  void fail(std::string message) {
    if (!m_problem) {
      m_problem = std::move(message);
    }
  }
  [[nodiscard]] bool failed() const { return m_problem.has_value(); }
  [[nodiscard]] std::string problem() const { return m_problem.value_or("unknown problem"); }
  [[nodiscard]] util::Unexpected<Error> error(std::string_view what) const {
    return malformed(std::string(what) + ": " + m_problem.value_or("unknown problem"));
  }

private:
  std::optional<std::string> m_problem;
};

std::string_view type_name(JsonType type) {
  switch (type) {
  case JsonType::ARRAY:
    return "an array";
  case JsonType::OBJECT:
    return "an object";
  case JsonType::INT64:
  case JsonType::UINT64:
  case JsonType::DOUBLE:
    return "a number";
  case JsonType::STRING:
    return "a string";
  case JsonType::BOOL:
    return "a boolean";
  case JsonType::NULL_VALUE:
    return "null";
  }
  return "an unknown JSON value";
}

std::string join_path(std::string_view path, std::string_view key) {
  if (path.empty()) {
    return std::string(key);
  }
  std::string joined(path);
  joined += '.';
  joined += key;
  return joined;
}

std::string index_path(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

// Engines send sizes as Go int64 or uint64, and a few encoders write integral doubles ("1e3",
// "12.0"): any JSON number with an integral value that fits is accepted.
std::optional<std::int64_t> to_int64(JsonElement value) {
  switch (value.type()) {
  case JsonType::INT64: {
    std::int64_t number = 0;
    if (value.get_int64().get(number) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    return number;
  }
  case JsonType::DOUBLE: {
    double number = 0;
    if (value.get_double().get(number) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    constexpr double k_limit = 9223372036854775808.0;
    if (!std::isfinite(number) || std::trunc(number) != number || number < -k_limit ||
        number >= k_limit) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(number);
  }
  default:
    // UINT64 is only used for values above INT64_MAX.
    return std::nullopt;
  }
}

std::vector<std::string> without(std::vector<std::string> values, std::string_view placeholder) {
  std::erase(values, placeholder);
  return values;
}

// Names that are no reference to an image: the containerd image store's record of an untagged
// image ("moby-dangling@sha256:…", moby daemon/containerd/soft_delete.go, danglingImageName),
// which its listing and inspect leave out but which must never count as a tag; and a bare
// digest without a repository, which its listing gives as the only RepoDigests entry of an image
// whose platform content is missing (daemon/containerd/image_list.go, imageSummary).
bool is_no_reference(std::string_view name) {
  return is_dangling_record_name(name) || name.starts_with("sha256:") || is_hold_reference(name);
}

// RepoTags or RepoDigests as Docker reports them: placeholders dropped, Podman's fully qualified
// Docker Hub names in their familiar form.
std::vector<std::string> references(std::vector<std::string> values, std::string_view placeholder) {
  values = without(std::move(values), placeholder);
  std::erase_if(values, [](const std::string& value) { return is_no_reference(value); });
  for (std::string& value : values) {
    if (value.starts_with(k_docker_hub_prefix)) { // most are left as they are, without a copy
      value = familiar_reference(value);
    }
  }
  return values;
}

// Reads the fields of one JSON object, recording problems in a shared Status under the
// object's path ("[3].RootFS.Layers"). The path is spelled out only for a problem: a reader
// knows the reader it came from, the key it was found at and its index in an array, and readers
// nest in each other's scopes. (A path string built for every object cost more than reading it.)
class ObjectReader {
public:
  static constexpr std::size_t k_no_index = static_cast<std::size_t>(-1);

  // `key` names a key of the parent's object: a literal of the code that reads it.
  ObjectReader(JsonObject object, const ObjectReader* parent, std::string_view key,
               std::size_t index, Status& status)
      : m_object(object), m_parent(parent), m_key(key), m_index(index), m_status(&status) {}

  // The value of `key`, or nullopt when it is missing or null: Go encodes nil slices, maps and
  // pointers as null, so null means "absent" for every field we read.
  [[nodiscard]] std::optional<JsonElement> find(std::string_view key) const {
    JsonElement value;
    if (m_object.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
      return std::nullopt;
    }
    return value;
  }

  [[nodiscard]] bool has(std::string_view key) const { return find(key).has_value(); }

  [[nodiscard]] std::string path() const {
    std::string own = join_path(m_parent != nullptr ? m_parent->path() : std::string{}, m_key);
    return m_index == k_no_index ? own : index_path(own, m_index);
  }

  [[nodiscard]] std::string field_path(std::string_view key) const {
    return join_path(path(), key);
  }

  void fail(std::string_view key, std::string_view problem) {
    m_status->fail(field_path(key) + " " + std::string(problem));
  }

  void fail_type(std::string_view key, JsonElement value, std::string_view expected) {
    fail(key, "is " + std::string(type_name(value.type())) + ", expected " + std::string(expected));
  }

  std::string required_string(std::string_view key) {
    if (!has(key)) {
      fail(key, "is missing");
      return {};
    }
    return string(key);
  }

  // Calls visit(key, value) for each member whose value is not null, in the object's order: one
  // pass, for a reader that takes most of an object's members, where find() scans the object
  // again for each key. (A key given twice is visited twice; the last one wins, as in Go.)
  template <class Visit> void each_member(Visit&& visit) const {
    for (const auto member : m_object) {
      if (!member.value.is_null()) {
        visit(member.key, member.value);
      }
    }
  }

  std::string string(std::string_view key) {
    const auto value = find(key);
    return value ? string(key, *value) : std::string{};
  }

  // The string `value`, found at `key`.
  std::string string(std::string_view key, JsonElement value) {
    return std::string(string_view(key, value));
  }

  // The same, valid while the parsed document is: for a string that is made into another.
  std::string_view string_view(std::string_view key, JsonElement value) {
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      fail_type(key, value, "a string");
      return {};
    }
    return text;
  }

  std::int64_t int64(std::string_view key, std::int64_t fallback = 0) {
    const auto value = find(key);
    return value ? int64(key, *value, fallback) : fallback;
  }

  // The integer `value`, found at `key`.
  std::int64_t int64(std::string_view key, JsonElement value, std::int64_t fallback) {
    const auto number = to_int64(value);
    if (!number) {
      if (value.is_number()) {
        fail(key, "is not an integer in the int64 range");
      } else {
        fail_type(key, value, "an integer");
      }
      return fallback;
    }
    return *number;
  }

  bool boolean(std::string_view key) {
    const auto value = find(key);
    if (!value) {
      return false;
    }
    bool flag = false;
    if (value->get_bool().get(flag) != simdjson::SUCCESS) {
      fail_type(key, *value, "a boolean");
      return false;
    }
    return flag;
  }

  // The array of strings `value`, found at `key`, each made into a `Text`.
  template <typename Text> std::vector<Text> texts(std::string_view key, JsonElement value) {
    std::vector<Text> result;
    JsonArray items;
    if (value.get_array().get(items) != simdjson::SUCCESS) {
      fail_type(key, value, "an array");
      return result;
    }
    result.reserve(items.size());
    std::size_t index = 0;
    for (const JsonElement item : items) {
      std::string_view text;
      if (item.get_string().get(text) != simdjson::SUCCESS) {
        fail_type(index_path(key, index), item, "a string");
        return {};
      }
      result.emplace_back(text);
      ++index;
    }
    return result;
  }

  std::vector<std::string> strings(std::string_view key) {
    const auto value = find(key);
    return value ? strings(key, *value) : std::vector<std::string>{};
  }

  // The array of strings `value`, found at `key`.
  std::vector<std::string> strings(std::string_view key, JsonElement value) {
    return texts<std::string>(key, value);
  }

  // The array of diff IDs at `key`, each made from its text where it lies in the answer: a
  // large host's images name millions of them.
  std::vector<graph::DiffId> diff_ids(std::string_view key) {
    const auto value = find(key);
    return value ? texts<graph::DiffId>(key, *value) : std::vector<graph::DiffId>{};
  }

  Labels string_map(std::string_view key) {
    const auto value = find(key);
    return value ? string_map(key, *value) : Labels{};
  }

  // The object of strings `value`, found at `key`.
  Labels string_map(std::string_view key, JsonElement value) {
    Labels result;
    JsonObject map;
    if (value.get_object().get(map) != simdjson::SUCCESS) {
      fail_type(key, value, "an object");
      return result;
    }
    for (const auto field : map) {
      std::string_view text;
      if (field.value.get_string().get(text) != simdjson::SUCCESS) {
        fail_type(join_path(key, field.key), field.value, "a string");
        return {};
      }
      // insert_or_assign: with duplicate keys the last one wins, as in Go's decoder.
      result.insert_or_assign(std::string(field.key), std::string(text));
    }
    return result;
  }

  std::optional<JsonArray> array(std::string_view key) {
    const auto value = find(key);
    if (!value) {
      return std::nullopt;
    }
    JsonArray items;
    if (value->get_array().get(items) != simdjson::SUCCESS) {
      fail_type(key, *value, "an array");
      return std::nullopt;
    }
    return items;
  }

  std::optional<ObjectReader> object(std::string_view key) {
    const auto value = find(key);
    return value ? object(key, *value) : std::nullopt;
  }

  // The object `value`, found at `key`.
  std::optional<ObjectReader> object(std::string_view key, JsonElement value) {
    JsonObject nested;
    if (value.get_object().get(nested) != simdjson::SUCCESS) {
      fail_type(key, value, "an object");
      return std::nullopt;
    }
    return ObjectReader(nested, this, key, k_no_index, *m_status);
  }

  // Calls read(ObjectReader&) for each element of the array at `key`; missing or null is empty.
  template <class Read> void each_object(std::string_view key, Read&& read) {
    const auto items = array(key);
    if (!items) {
      return;
    }
    std::size_t index = 0;
    for (const JsonElement item : *items) {
      JsonObject element;
      if (item.get_object().get(element) != simdjson::SUCCESS) {
        fail_type(index_path(key, index), item, "an object");
        return;
      }
      ObjectReader reader(element, this, key, index, *m_status);
      read(reader);
      ++index;
    }
  }

  // An RFC 3339 time. Missing, null, "" and Go's zero time are nullopt; anything else that is
  // not a time is a problem.
  std::optional<std::int64_t> time(std::string_view key) {
    const auto value = find(key);
    return value ? time(key, *value) : std::nullopt;
  }

  // The time `value`, found at `key`.
  std::optional<std::int64_t> time(std::string_view key, JsonElement value) {
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      fail_type(key, value, "an RFC 3339 time string");
      return std::nullopt;
    }
    if (text.empty()) {
      return std::nullopt;
    }
    const auto time = scan_rfc3339(text);
    if (!time) {
      fail(key, "is not an RFC 3339 time: \"" + std::string(text) + "\"");
      return std::nullopt;
    }
    if (time->year <= k_last_zero_year) {
      return std::nullopt;
    }
    return time->unix_seconds;
  }

private:
  JsonObject m_object;
  const ObjectReader* m_parent;
  std::string_view m_key;
  std::size_t m_index;
  Status* m_status;
};

// Arrays this large are parsed an element at a time (each_root_object).
constexpr std::size_t k_split_array_bytes = std::size_t{256} * 1024;

// Parses a whole body into a DOM. The parser keeps its buffers between calls; there is one
// per thread because the DOM it returns is valid only until its next parse, and every public
// function here finishes reading before it returns. Its buffers grow to about 14 bytes per byte
// of the largest document it has parsed, which is why large arrays are parsed an element at a
// time (each_root_object).
std::optional<JsonElement> parse_json(std::string_view body, Status& status) {
  thread_local simdjson::dom::parser parser;
  // simdjson reads a little past the end of its input: a copy into a buffer kept with that
  // padding costs a memcpy, where letting the parser pad it costs an allocation every call.
  thread_local std::string padded;
  if (body.empty()) {
    status.fail("empty body");
    return std::nullopt;
  }
  padded.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(body);
  JsonElement root;
  const auto error = parser.parse(padded.data(), padded.size(), false).get(root);
  // The DOM holds copies of the strings: the input may go. A large one is not kept.
  if (padded.capacity() > k_split_array_bytes) {
    std::string().swap(padded);
  }
  if (error != simdjson::SUCCESS) {
    status.fail(std::string("invalid JSON: ") + simdjson::error_message(error));
    return std::nullopt;
  }
  return root;
}

std::string_view trim_json_space(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// The closing quote of the string whose opening quote is at `open`, or npos. Strings are most of
// a listing's bytes: the quotes are found with memchr, and a quote after an odd number of
// backslashes is escaped.
std::size_t closing_quote(std::string_view text, std::size_t open) {
  for (std::size_t from = open + 1;;) {
    const std::size_t quote = text.find('"', from);
    if (quote == std::string_view::npos) {
      return quote;
    }
    std::size_t backslashes = 0;
    while (quote - backslashes > open + 1 && text[quote - backslashes - 1] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) {
      return quote;
    }
    from = quote + 1;
  }
}

// The texts of the members of a JSON array (`open` '[') or object ('{') at its top level, found
// by tracking strings and nesting only; each is left to the parser. nullopt when `body` is not
// such a value with non-empty members, for the whole-body parse to say what is wrong.
std::optional<std::vector<std::string_view>> split_top_level(std::string_view body, char open,
                                                             char close) {
  const std::string_view whole = trim_json_space(body);
  if (whole.size() < 2 || whole.front() != open || whole.back() != close) {
    return std::nullopt;
  }
  const std::string_view inside = whole.substr(1, whole.size() - 2);
  std::vector<std::string_view> members;
  if (trim_json_space(inside).empty()) {
    return members;
  }
  std::size_t start = 0;
  std::size_t depth = 0;
  for (std::size_t at = 0; at <= inside.size(); ++at) {
    const char c = at < inside.size() ? inside[at] : ',';
    if (c == '"') {
      at = closing_quote(inside, at);
      if (at == std::string_view::npos) {
        return std::nullopt;
      }
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) {
        return std::nullopt;
      }
      --depth;
    } else if (c == ',' && depth == 0) {
      const std::string_view member = trim_json_space(inside.substr(start, at - start));
      if (member.empty()) {
        return std::nullopt;
      }
      members.push_back(member);
      start = at + 1;
    }
  }
  if (depth != 0) {
    return std::nullopt;
  }
  return members;
}

// The texts of the elements of a JSON array (split_top_level).
std::optional<std::vector<std::string_view>> split_array(std::string_view body) {
  return split_top_level(body, '[', ']');
}

// The members of a JSON object as (key as written, value text) pairs (split_top_level). A key
// with escapes is kept as written, so it matches no plain name.
std::optional<std::vector<std::pair<std::string_view, std::string_view>>>
split_object(std::string_view body) {
  const auto members = split_top_level(body, '{', '}');
  if (!members) {
    return std::nullopt;
  }
  std::vector<std::pair<std::string_view, std::string_view>> split;
  split.reserve(members->size());
  for (const std::string_view member : *members) {
    const std::size_t end =
        member.front() == '"' ? closing_quote(member, 0) : std::string_view::npos;
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view rest = trim_json_space(member.substr(end + 1));
    if (rest.size() < 2 || rest.front() != ':') {
      return std::nullopt;
    }
    split.emplace_back(member.substr(1, end - 1), trim_json_space(rest.substr(1)));
  }
  return split;
}

std::optional<ObjectReader> root_object(std::string_view body, Status& status) {
  const auto root = parse_json(body, status);
  if (!root) {
    return std::nullopt;
  }
  JsonObject object;
  if (root->get_object().get(object) != simdjson::SUCCESS) {
    status.fail("body is " + std::string(type_name(root->type())) + ", expected an object");
    return std::nullopt;
  }
  return ObjectReader(object, nullptr, "", ObjectReader::k_no_index, status);
}

// Calls read(ObjectReader&) for each object of a top-level array. A null body counts as an
// empty array: it is how Go encodes a nil slice. A large array (a host's image listing) is
// parsed an element at a time, so the parser's buffers stay the size of one element, not of
// the whole body.
// `expect` is told the number of elements before the first is read, so that the caller can make
// room for them.
template <class Expect, class Read>
void each_root_object(std::string_view body, Status& status, Expect&& expect, Read&& read) {
  const auto read_element = [&](JsonElement item, std::size_t index) {
    JsonObject object;
    if (item.get_object().get(object) != simdjson::SUCCESS) {
      status.fail(index_path("", index) + " is " + std::string(type_name(item.type())) +
                  ", expected an object");
      return;
    }
    ObjectReader reader(object, nullptr, "", index, status);
    read(reader);
  };
  if (body.size() >= k_split_array_bytes) {
    if (const auto elements = split_array(body)) {
      expect(elements->size());
      for (std::size_t index = 0; index < elements->size() && !status.failed(); ++index) {
        Status element_status;
        if (const auto item = parse_json((*elements)[index], element_status)) {
          read_element(*item, index);
        } else {
          status.fail(index_path("", index) + " " + element_status.problem());
        }
      }
      return;
    }
  }
  const auto root = parse_json(body, status);
  if (!root || root->is_null()) {
    return;
  }
  JsonArray items;
  if (root->get_array().get(items) != simdjson::SUCCESS) {
    status.fail("body is " + std::string(type_name(root->type())) + ", expected an array");
    return;
  }
  expect(items.size());
  std::size_t index = 0;
  for (const JsonElement item : items) {
    read_element(item, index);
    if (status.failed()) {
      return;
    }
    ++index;
  }
}

template <class Read> void each_root_object(std::string_view body, Status& status, Read&& read) {
  each_root_object(
      body, status, [](std::size_t) {}, std::forward<Read>(read));
}

// One pass over the summary's members: a large host lists 100k of them.
ImageSummary read_image_summary(ObjectReader& fields) {
  ImageSummary image;
  bool has_id = false;
  fields.each_member([&](std::string_view key, JsonElement value) {
    if (key == "Id") {
      has_id = true;
      image.id = normalize_image_id(fields.string_view(key, value));
    } else if (key == "ParentId") {
      image.parent_id = normalize_image_id(fields.string_view(key, value));
    } else if (key == "RepoTags") {
      image.repo_tags = references(fields.strings(key, value), k_untagged_placeholder);
    } else if (key == "RepoDigests") {
      image.repo_digests = references(fields.strings(key, value), k_undigested_placeholder);
    } else if (key == "Created") {
      image.created = fields.int64(key, value, 0);
    } else if (key == "Size") {
      image.size = fields.int64(key, value, 0);
    } else if (key == "SharedSize") {
      image.shared_size = fields.int64(key, value, -1);
    } else if (key == "Containers") {
      image.containers = fields.int64(key, value, -1);
    } else if (key == "Labels") {
      image.labels = fields.string_map(key, value);
    }
  });
  if (!has_id) {
    fields.fail("Id", "is missing");
  }
  return image;
}

} // namespace

Result<std::vector<ImageSummary>> parse_image_list(std::string_view body) {
  Status status;
  std::vector<ImageSummary> images;
  each_root_object(
      body, status, [&](std::size_t count) { images.reserve(count); },
      [&](ObjectReader& fields) { images.push_back(read_image_summary(fields)); });
  if (status.failed()) {
    return status.error("image list");
  }
  return images;
}

Result<ImageDetails> parse_image_details(std::string_view body) {
  Status status;
  ImageDetails image;
  // A cold start inspects nearly every image: one pass over the members of each.
  if (auto fields = root_object(body, status)) {
    bool has_id = false;
    fields->each_member([&](std::string_view key, JsonElement value) {
      if (key == "Id") {
        has_id = true;
        image.id = normalize_image_id(fields->string_view(key, value));
      } else if (key == "Parent") {
        // Omitted from API 1.52 and "" for images without one.
        image.parent = normalize_image_id(fields->string_view(key, value));
      } else if (key == "RepoTags") {
        image.repo_tags = references(fields->strings(key, value), k_untagged_placeholder);
      } else if (key == "RepoDigests") {
        image.repo_digests = references(fields->strings(key, value), k_undigested_placeholder);
      } else if (key == "Created") {
        image.created = fields->time(key, value).value_or(0);
      } else if (key == "Size") {
        image.size = fields->int64(key, value, 0);
      } else if (key == "RootFS") {
        if (auto root_fs = fields->object(key, value)) {
          image.diff_ids = root_fs->diff_ids("Layers");
        }
      } else if (key == "Metadata") {
        if (auto metadata = fields->object(key, value)) {
          image.last_tag_time = metadata->time("LastTagTime");
        }
      } else if (key == "Config") {
        if (auto config = fields->object(key, value)) {
          image.labels = config->string_map("Labels");
        }
      }
    });
    if (!has_id) {
      fields->fail("Id", "is missing");
    }
  }
  if (status.failed()) {
    return status.error("image inspect");
  }
  return image;
}

Result<std::vector<HistoryEntry>> parse_image_history(std::string_view body) {
  Status status;
  std::vector<HistoryEntry> history;
  // A cold start reads the history of nearly every image, a dozen entries each: one pass over
  // each entry's members.
  each_root_object(
      body, status, [&](std::size_t count) { history.reserve(count); },
      [&](ObjectReader& fields) {
        HistoryEntry& entry = history.emplace_back();
        fields.each_member([&](std::string_view key, JsonElement value) {
          if (key == "Id") {
            entry.id = normalize_image_id(fields.string_view(key, value));
          } else if (key == "Created") {
            entry.created = fields.int64(key, value, 0);
          } else if (key == "CreatedBy") {
            entry.created_by = fields.string(key, value);
          } else if (key == "Comment") {
            entry.comment = fields.string(key, value);
          } else if (key == "Size") {
            entry.size = fields.int64(key, value, 0);
          }
        });
      });
  if (status.failed()) {
    return status.error("image history");
  }
  return history;
}

Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body) {
  Status status;
  std::vector<ContainerSummary> containers;
  each_root_object(body, status, [&](ObjectReader& fields) {
    ContainerSummary container;
    container.id = fields.required_string("Id");
    container.image = fields.string("Image");
    container.image_id = normalize_image_id(fields.string("ImageID"));
    container.state = fields.string("State");
    container.names = fields.strings("Names");
    container.created = fields.int64("Created");
    containers.push_back(std::move(container));
  });
  if (status.failed()) {
    return status.error("container list");
  }
  return containers;
}

Result<ContainerDetails> parse_container_details(std::string_view body) {
  Status status;
  ContainerDetails container;
  if (auto fields = root_object(body, status)) {
    container.id = fields->required_string("Id");
    // In inspect, .Image is the resolved image ID, unlike the list's .Image.
    container.image_id = normalize_image_id(fields->string("Image"));
    container.name = fields->string("Name");
    container.created = fields->time("Created").value_or(0);
    if (auto state = fields->object("State")) {
      container.running = state->boolean("Running");
      container.started_at = state->time("StartedAt");
      container.finished_at = state->time("FinishedAt");
    }
  }
  if (status.failed()) {
    return status.error("container inspect");
  }
  return container;
}

Result<Event> parse_event(std::string_view line) {
  Status status;
  Event event;
  if (auto fields = root_object(line, status)) {
    const bool has_type = fields->has("Type");
    const bool has_action = fields->has("Action");
    if (!has_type && !has_action && fields->has("status")) {
      // The pre-1.22 form: only container events, as {status, id, from, time}.
      event.type = "container";
      event.action = fields->string("status");
      event.actor_id = fields->string("id");
      if (fields->has("from")) {
        event.attributes.emplace("image", fields->string("from"));
      }
    } else {
      if (!has_type) {
        fields->fail("Type", "is missing");
      }
      if (!has_action) {
        fields->fail("Action", "is missing");
      }
      event.type = fields->string("Type");
      event.action = fields->string("Action");
      if (auto actor = fields->object("Actor")) {
        event.actor_id = actor->string("ID");
        event.attributes = actor->string_map("Attributes");
      } else {
        event.actor_id = fields->string("id");
      }
    }
    event.scope = fields->string("scope");
    if (fields->has("timeNano")) {
      event.time_nano = fields->int64("timeNano");
    } else if (fields->has("time")) {
      constexpr std::int64_t k_nanos_per_second = 1'000'000'000;
      const std::int64_t seconds = fields->int64("time");
      if (seconds > std::numeric_limits<std::int64_t>::max() / k_nanos_per_second ||
          seconds < std::numeric_limits<std::int64_t>::min() / k_nanos_per_second) {
        fields->fail("time", "is out of range");
      } else {
        event.time_nano = seconds * k_nanos_per_second;
      }
    }
    // Podman names images by bare hex; the graph keys them by "sha256:<hex>". Container IDs
    // are also 64 hex digits, so only image events are touched. Podman's build and pull events
    // leave Actor.ID empty and name the image (its ID, or the reference pulled) in
    // Attributes.name.
    if (event.type == "image") {
      if (event.actor_id.empty()) {
        if (const auto name = event.attributes.find("name"); name != event.attributes.end()) {
          event.actor_id = name->second;
        }
      }
      event.actor_id = normalize_image_id(event.actor_id);
    }
  }
  if (status.failed()) {
    return status.error("event");
  }
  return event;
}

Result<DeleteResponse> parse_delete_response(std::string_view body) {
  Status status;
  DeleteResponse response;
  each_root_object(body, status, [&](ObjectReader& fields) {
    if (fields.has("Untagged")) {
      response.untagged.push_back(familiar_reference(fields.string("Untagged")));
    }
    if (fields.has("Deleted")) {
      response.deleted.push_back(normalize_image_id(fields.string("Deleted")));
    }
  });
  if (status.failed()) {
    return status.error("image delete response");
  }
  return response;
}

namespace {

void read_build_cache(ObjectReader& fields, DiskUsage& usage) {
  fields.each_object("BuildCache", [&](ObjectReader& cache_fields) {
    BuildCacheRecord record;
    record.id = cache_fields.required_string("ID");
    record.type = cache_fields.string("Type");
    record.in_use = cache_fields.boolean("InUse");
    record.shared = cache_fields.boolean("Shared");
    record.size = cache_fields.int64("Size");
    record.last_used_at = cache_fields.time("LastUsedAt");
    record.usage_count = cache_fields.int64("UsageCount");
    usage.build_cache.push_back(std::move(record));
  });
}

} // namespace

Result<DiskUsage> parse_disk_usage(std::string_view body) {
  Status status;
  DiskUsage usage;
  if (auto fields = root_object(body, status)) {
    usage.layers_size = fields->int64("LayersSize");
    fields->each_object("Images", [&](ObjectReader& image_fields) {
      DiskUsageImage image;
      image.id = normalize_image_id(image_fields.required_string("Id"));
      image.size = image_fields.int64("Size");
      image.shared_size = image_fields.int64("SharedSize", -1);
      image.containers = image_fields.int64("Containers", -1);
      usage.images.push_back(std::move(image));
    });
    read_build_cache(*fields, usage);
  }
  if (status.failed()) {
    return status.error("system df");
  }
  return usage;
}

Result<DiskUsage> parse_build_cache_usage(std::string_view body) {
  // Before API 1.42 the answer cannot be narrowed to the build cache: it lists every image,
  // container and volume too, tens of megabytes on a large host, for which the DOM parser would
  // size its buffers (about 14 bytes a byte). Of a large answer only the members read are parsed.
  std::string kept;
  if (body.size() >= k_split_array_bytes) {
    if (const auto members = split_object(body)) {
      kept = "{";
      for (const auto& [key, value] : *members) {
        if (key == "LayersSize" || key == "BuildCache") {
          kept += kept.size() > 1 ? ",\"" : "\"";
          kept.append(key).append("\":").append(value);
        }
      }
      kept += '}';
      body = kept;
    }
  }
  Status status;
  DiskUsage usage;
  if (auto fields = root_object(body, status)) {
    usage.layers_size = fields->int64("LayersSize");
    read_build_cache(*fields, usage);
  }
  if (status.failed()) {
    return status.error("system df");
  }
  return usage;
}

Result<BuildPruneResponse> parse_build_prune_response(std::string_view body) {
  Status status;
  BuildPruneResponse response;
  if (auto fields = root_object(body, status)) {
    response.caches_deleted = fields->strings("CachesDeleted");
    response.space_reclaimed = fields->int64("SpaceReclaimed");
  }
  if (status.failed()) {
    return status.error("build prune response");
  }
  return response;
}

Result<VersionInfo> parse_version(std::string_view body) {
  Status status;
  VersionInfo version;
  if (auto fields = root_object(body, status)) {
    version.version = fields->string("Version");
    const std::string api = fields->required_string("ApiVersion");
    if (const auto parsed = parse_api_version(api)) {
      version.api_version = *parsed;
    } else if (!status.failed()) {
      fields->fail("ApiVersion", "is not an API version: \"" + api + "\"");
    }
    version.min_api_version = k_default_min_api_version;
    if (fields->has("MinAPIVersion")) {
      const std::string min_api = fields->string("MinAPIVersion");
      if (const auto parsed = parse_api_version(min_api)) {
        version.min_api_version = *parsed;
      } else if (!status.failed()) {
        fields->fail("MinAPIVersion", "is not an API version: \"" + min_api + "\"");
      }
    }
    fields->each_object("Components", [&](ObjectReader& component) {
      if (component.string("Name") == "Podman Engine") {
        version.is_podman = true;
      }
    });
  }
  if (status.failed()) {
    return status.error("version");
  }
  return version;
}

Result<EngineInfo> parse_info(std::string_view body) {
  Status status;
  EngineInfo info;
  if (auto fields = root_object(body, status)) {
    info.server_version = fields->string("ServerVersion");
    info.storage_driver = fields->string("Driver");
    info.docker_root_dir = fields->string("DockerRootDir");
    // DriverStatus is a list of [key, value] pairs, e.g. ["driver-type",
    // "io.containerd.snapshotter.v1"] when images live in containerd.
    if (const auto pairs = fields->array("DriverStatus")) {
      std::size_t index = 0;
      for (const JsonElement pair : *pairs) {
        JsonArray items;
        if (pair.get_array().get(items) != simdjson::SUCCESS) {
          fields->fail_type(index_path("DriverStatus", index), pair, "a [key, value] array");
          break;
        }
        std::string_view key;
        std::string_view value;
        if (items.size() == 2 && items.at(0).get_string().get(key) == simdjson::SUCCESS &&
            items.at(1).get_string().get(value) == simdjson::SUCCESS && key == "driver-type" &&
            value == "io.containerd.snapshotter.v1") {
          info.containerd_snapshotter = true;
        }
        ++index;
      }
    }
  }
  if (status.failed()) {
    return status.error("info");
  }
  return info;
}

std::string parse_error_message(std::string_view body) {
  Status status;
  if (auto fields = root_object(body, status)) {
    std::string message = fields->string("message");
    if (!status.failed() && !message.empty()) {
      return message;
    }
  }
  constexpr std::string_view k_space = " \t\r\n";
  const auto first = body.find_first_not_of(k_space);
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = body.find_last_not_of(k_space);
  return std::string(body.substr(first, last - first + 1));
}

std::optional<ApiVersion> parse_api_version(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return std::nullopt;
  }
  // Only plain digits: from_chars alone would also take a sign.
  const auto number = [](std::string_view part) -> std::optional<int> {
    if (part.empty() || part.size() > 6 || !std::all_of(part.begin(), part.end(), is_digit)) {
      return std::nullopt;
    }
    int value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (error != std::errc{} || end != part.data() + part.size()) {
      return std::nullopt;
    }
    return value;
  };
  const auto major = number(text.substr(0, dot));
  const auto minor = number(text.substr(dot + 1));
  if (!major || !minor) {
    return std::nullopt;
  }
  return ApiVersion{*major, *minor};
}

std::string familiar_reference(std::string_view reference) {
  constexpr std::string_view k_official = "library/";
  if (!reference.starts_with(k_docker_hub_prefix)) {
    return std::string(reference);
  }
  std::string_view familiar = reference.substr(k_docker_hub_prefix.size());
  if (familiar.starts_with(k_official)) {
    const std::string_view name = familiar.substr(k_official.size());
    // Only a one-segment repository is an official image: "library/a/b" stays as it is.
    if (name.substr(0, name.find_first_of(":@")).find('/') == std::string_view::npos) {
      familiar = name;
    }
  }
  return std::string(familiar);
}

bool is_dangling_record_name(std::string_view name) {
  return name.starts_with(k_dangling_record_prefix);
}

std::string normalize_image_id(std::string_view id) {
  // A containerd-store record name for an untagged image names that image's ID.
  if (is_dangling_record_name(id)) {
    id.remove_prefix(k_dangling_record_prefix.size());
  }
  constexpr std::size_t k_hex_digits = 64;
  if (id.size() == k_hex_digits && std::all_of(id.begin(), id.end(), is_lower_hex)) {
    return "sha256:" + std::string(id);
  }
  return std::string(id);
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  const auto time = scan_rfc3339(text);
  if (!time || time->year <= k_last_zero_year) {
    return std::nullopt;
  }
  return time->unix_seconds;
}

} // namespace imagegc::engine
