#include "policy/policy_loader.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "policy/units.hpp"

namespace imagegc::policy {
namespace {

// A policy is a page of settings; anything bigger is a mistake or an attack.
constexpr std::size_t k_max_policy_bytes = 1 << 20;
// yaml-cpp parses recursively; the schema needs six levels, so this leaves room for mistakes
// while stopping "[[[[..." long before the stack is at risk.
constexpr int k_max_nesting = 64;
constexpr int k_format_version = 1;

constexpr auto k_duration_expected = "a duration like 90s, 24h or 7d";
constexpr auto k_size_expected = "a size like 512MiB, 10GB or 4096 (bytes)";
constexpr auto k_percent_expected = "a percentage like 85%";

// A value in the document with the path that names it in messages ("rules[1].older_than") and
// the place to point at: the value itself, or its key when the value is empty (yaml-cpp marks an
// empty value where the next token starts, often on the following line).
// yaml-cpp's Node assignment may throw, so this one's may too: it is never relied on not to.
struct Value { // NOLINT(bugprone-exception-escape)
  YAML::Node node;
  YAML::Mark mark;
  std::string path;

  [[nodiscard]] bool is_null() const { return !node.IsDefined() || node.IsNull(); }
};

// The entries of one mapping, looked up by key.
class Fields {
public:
  void add(std::string key, Value value) {
    m_entries.emplace_back(std::move(key), std::move(value));
  }

  [[nodiscard]] const Value* find(std::string_view key) const {
    for (const auto& [name, value] : m_entries) {
      if (name == key) {
        return &value;
      }
    }
    return nullptr;
  }

private:
  std::vector<std::pair<std::string, Value>> m_entries;
};

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// Quoted, escaped and shortened, for "got ..." in messages.
std::string quote(std::string_view text) {
  constexpr std::size_t k_max_shown = 60;
  bool shortened = false;
  if (text.size() > k_max_shown) {
    std::size_t cut = k_max_shown;
    // Back up to the start of a UTF-8 sequence so the message stays valid text.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    text = text.substr(0, cut);
    shortened = true;
  }
  std::string result = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      result += '\\';
      result += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr std::array<char, 17> k_hex = {"0123456789abcdef"};
      result += "\\x";
      result += k_hex[static_cast<unsigned char>(c) >> 4];
      result += k_hex[static_cast<unsigned char>(c) & 0xF];
    } else {
      result += c;
    }
  }
  result += shortened ? "...\"" : "\"";
  return result;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) {
    return "nothing";
  }
  if (node.IsSequence()) {
    return node.size() == 0 ? "an empty list" : "a list";
  }
  if (node.IsMap()) {
    return node.size() == 0 ? "an empty mapping" : "a mapping";
  }
  return quote(node.Scalar());
}

// Edits between two keys, a swap of neighbours counting as one (optimal string alignment).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The known key an unknown one most likely meant: same spelling up to case and '-' for '_', or a
// typo or two away.
std::optional<std::string_view> suggestion(std::string_view key,
                                           std::initializer_list<std::string_view> known) {
  if (key.size() > 64) {
    return std::nullopt;
  }
  std::string normalized(key);
  for (char& c : normalized) {
    c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::optional<std::string_view> best;
  std::size_t best_distance = normalized.size() < 5 ? 1 : 2;
  for (const std::string_view candidate : known) {
    const std::size_t distance = edit_distance(normalized, candidate);
    if (distance <= best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string join_keys(std::initializer_list<std::string_view> keys) {
  std::string result;
  for (const std::string_view key : keys) {
    result += result.empty() ? "" : ", ";
    result += key;
  }
  return result;
}

std::optional<int> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 10) {
    return std::nullopt;
  }
  long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  if (value > INT_MAX) {
    return std::nullopt;
  }
  return static_cast<int>(value);
}

std::optional<LabelMatcher> parse_label(std::string_view text) {
  LabelMatcher matcher;
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    matcher.op = LabelMatcher::Op::exists;
    matcher.key = std::string(text);
  } else if (equals > 0 && text[equals - 1] == '!') {
    matcher.op = LabelMatcher::Op::not_equals;
    matcher.key = std::string(text.substr(0, equals - 1));
    matcher.value = std::string(text.substr(equals + 1));
  } else {
    matcher.op = LabelMatcher::Op::equals;
    matcher.key = std::string(text.substr(0, equals));
    matcher.value = std::string(text.substr(equals + 1));
  }
  // Spaces around a key are a typo ("env = prod"), never part of a real label key.
  if (matcher.key.empty() || matcher.key.front() == ' ' || matcher.key.back() == ' ') {
    return std::nullopt;
  }
  return matcher;
}

struct Position {
  int line = 1;
  int column = 1;
};

// Checks the raw text before yaml-cpp sees it: it must be UTF-8 text without control
// characters (binary input is rejected here instead of being half-parsed), and flow collections
// ("[[[[...") must not nest deeper than k_max_nesting. Block nesting is bounded by yaml-cpp's
// own recursion guard, reported below.
std::optional<std::pair<Position, std::string>> check_text(std::string_view text) {
  Position position;
  int depth = 0;
  enum class State { plain, single_quoted, double_quoted, comment };
  State state = State::plain;
  char previous = '\n';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x80) {
      std::size_t length = 0;
      std::uint32_t code_point = 0;
      if ((byte & 0xE0) == 0xC0) {
        length = 2;
        code_point = byte & 0x1FU;
      } else if ((byte & 0xF0) == 0xE0) {
        length = 3;
        code_point = byte & 0x0FU;
      } else if ((byte & 0xF8) == 0xF0) {
        length = 4;
        code_point = byte & 0x07U;
      }
      bool valid = length != 0 && i + length <= text.size();
      for (std::size_t k = 1; valid && k < length; ++k) {
        const auto next = static_cast<unsigned char>(text[i + k]);
        valid = (next & 0xC0) == 0x80;
        code_point = (code_point << 6) | (next & 0x3FU);
      }
      static constexpr std::array<std::uint32_t, 5> k_min_code_point = {0, 0, 0x80, 0x800, 0x10000};
      if (!valid || code_point < k_min_code_point[length] || code_point > 0x10FFFF ||
          (code_point >= 0xD800 && code_point <= 0xDFFF)) {
        return std::pair{position, std::string("the file is not UTF-8 text")};
      }
      i += length - 1;
      ++position.column;
      previous = 'x';
      continue;
    }
    if ((byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", byte);
      return std::pair{position,
                       std::string("control character ") + hex + " is not allowed in a policy"};
    }
    const char c = text[i];
    const bool token_start =
        previous == '\n' || previous == ' ' || previous == '\t' ||
        (depth > 0 && (previous == '[' || previous == '{' || previous == ',' || previous == ':'));
    switch (state) {
    case State::comment:
      if (c == '\n') {
        state = State::plain;
      }
      break;
    case State::single_quoted:
      if (c == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i; // '' is an escaped quote
        ++position.column;
      } else if (c == '\'') {
        state = State::plain;
      }
      break;
    case State::double_quoted:
      if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
        ++i;
        ++position.column;
      } else if (c == '"') {
        state = State::plain;
      }
      break;
    case State::plain:
      if (c == '#' && token_start) {
        state = State::comment;
      } else if (c == '\'' && token_start) {
        state = State::single_quoted;
      } else if (c == '"' && token_start) {
        state = State::double_quoted;
      } else if ((c == '[' || c == '{') && (depth > 0 || token_start)) {
        if (++depth > k_max_nesting) {
          return std::pair{position,
                           "nesting is deeper than " + std::to_string(k_max_nesting) + " levels"};
        }
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
      break;
    }
    previous = c;
    if (c == '\n') {
      ++position.line;
      position.column = 1;
    } else {
      ++position.column;
    }
  }
  return std::nullopt;
}

// Records where documents start and ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
public:
  void OnDocumentStart(const YAML::Mark& mark) override { m_starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  std::vector<YAML::Mark> m_starts;
};

// Where the first two documents start (a policy has one). Parsing stops after the second, which
// also bounds yaml-cpp 0.7's endless loop on some malformed input (see Loader::load).
std::vector<YAML::Mark> document_starts(std::string_view text) {
  std::istringstream input{std::string(text)};
  YAML::Parser parser(input);
  DocumentStarts handler;
  while (handler.m_starts.size() < 2 && parser.HandleNextDocument(handler)) {
  }
  return std::move(handler.m_starts);
}

class Loader {
public:
  explicit Loader(std::string_view file_name) : m_file(file_name) {}

  PolicyResult load(std::string_view text) {
    Policy policy;
    policy.source = m_file;
    if (text.size() > k_max_policy_bytes) {
      add_error(YAML::Mark::null_mark(),
                "the policy is larger than " + std::to_string(k_max_policy_bytes >> 20) + " MiB");
      return finish(std::move(policy));
    }
    if (const auto problem = check_text(text)) {
      m_errors.push_back({{m_file, problem->first.line, problem->first.column}, problem->second});
      return finish(std::move(policy));
    }

    YAML::Node document;
    try {
      const std::vector<YAML::Mark> starts = document_starts(text);
      if (starts.size() > 1 && starts[1].pos == starts[0].pos) {
        // yaml-cpp 0.7 stops making progress on a stray token such as a top-level ","
        // (jbeder/yaml-cpp#1040); LoadAll would then collect empty documents forever.
        const auto at = static_cast<std::size_t>(starts[1].pos);
        const char c = at < text.size() ? text[at] : '\0';
        add_error(starts[1], c > ' ' && c < 0x7F ? "invalid YAML: unexpected " + quote({&c, 1})
                                                 : std::string("invalid YAML: unexpected token"));
        return finish(std::move(policy));
      }
      if (starts.size() > 1) {
        add_error(starts[1], "expected a single YAML document; a second one starts here");
      }
      document = YAML::Load(std::string(text)); // the first document only
    } catch (const YAML::DeepRecursion& error) {
      // Block nesting ("- - - ..." or ever deeper indentation) that yaml-cpp's own guard stopped.
      add_error(error.mark, "nesting is too deep");
      return finish(std::move(policy));
    } catch (const YAML::Exception& error) {
      add_error(error.mark, "invalid YAML: " + error.msg);
      return finish(std::move(policy));
    }

    try {
      read_policy({document, document.Mark(), ""}, policy);
    } catch (const YAML::Exception& error) {
      // The walk only inspects nodes it has type-checked; this is a safety net.
      add_error(error.mark, "invalid YAML: " + error.msg);
    }
    if (!policy.schedule.cron && !policy.schedule.interval) {
      policy.schedule.interval = std::chrono::hours{1};
    }
    return finish(std::move(policy));
  }

private:
  PolicyResult finish(Policy policy) {
    if (m_errors.empty()) {
      return policy;
    }
    std::stable_sort(m_errors.begin(), m_errors.end(), [](const auto& a, const auto& b) {
      return std::pair{a.location.line, a.location.column} <
             std::pair{b.location.line, b.location.column};
    });
    return util::unexpected(std::move(m_errors));
  }

  SourceLocation location(const YAML::Mark& mark) const {
    if (mark.line < 0) {
      return {m_file, 0, 0};
    }
    return {m_file, mark.line + 1, mark.column + 1};
  }

  void add_error(const YAML::Mark& mark, std::string message) {
    m_errors.push_back({location(mark), std::move(message)});
  }

  void fail(const Value& value, const std::string& message) {
    add_error(value.mark, value.path.empty() ? message : value.path + ": " + message);
  }

  void expected(const Value& value, std::string_view what) {
    fail(value, "expected " + std::string(what) + ", got " + describe(value.node));
  }

  static Value value_of(const YAML::Node& node, const YAML::Mark& fallback, std::string path) {
    const bool empty = !node.IsDefined() || node.IsNull() || node.Mark().line < 0;
    return {node, empty ? fallback : node.Mark(), std::move(path)};
  }

  // The entries of a mapping, with unknown and repeated keys reported. An empty value counts as
  // an empty mapping, so "protect:" with nothing under it is fine.
  std::optional<Fields> mapping(const Value& value, std::initializer_list<std::string_view> known) {
    if (value.is_null()) {
      return Fields{};
    }
    if (!value.node.IsMap()) {
      expected(value, "a mapping with keys " + join_keys(known));
      return std::nullopt;
    }
    Fields fields;
    // yaml-cpp keeps every entry of a mapping, repeats included; the last would silently win.
    std::map<std::string, YAML::Mark, std::less<>> seen;
    for (auto it = value.node.begin(); it != value.node.end(); ++it) {
      // Copies: `it->` hands out a temporary proxy, so a reference would dangle.
      const YAML::Node key_node = it->first;
      const YAML::Node value_node = it->second;
      if (!key_node.IsScalar()) {
        expected(value_of(key_node, value.mark, value.path), "a key name");
        continue;
      }
      const std::string& key = key_node.Scalar();
      const std::string path = child_path(value.path, key);
      const YAML::Mark key_mark = key_node.Mark();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string message = "unknown key " + quote(key);
        if (const auto meant = suggestion(key, known)) {
          message += " (did you mean \"" + std::string(*meant) + "\"?)";
        } else {
          message += "; expected one of " + join_keys(known);
        }
        add_error(key_mark, value.path.empty() ? message : value.path + ": " + message);
        continue;
      }
      if (const auto first = seen.find(key); first != seen.end()) {
        const SourceLocation at = location(first->second);
        add_error(key_mark, path + ": duplicate key, first set at line " + std::to_string(at.line) +
                                ", column " + std::to_string(at.column));
        continue;
      }
      seen.emplace(key, key_mark);
      fields.add(key, value_of(value_node, key_mark, path));
    }
    return fields;
  }

  // "name: x" or "name: [x, y]": calls `each` for every item. An empty list is reported unless
  // `allow_empty`.
  template <class Each>
  void one_or_list(const Value& value, std::string_view what, bool allow_empty, Each each) {
    if (value.node.IsSequence()) {
      if (value.node.size() == 0 && !allow_empty) {
        expected(value, "at least one " + std::string(what));
        return;
      }
      std::size_t index = 0;
      for (auto it = value.node.begin(); it != value.node.end(); ++it, ++index) {
        each(value_of(*it, value.mark, index_path(value.path, index)));
      }
      return;
    }
    each(value);
  }

  std::optional<std::string> scalar(const Value& value, std::string_view what) {
    if (!value.node.IsScalar()) {
      expected(value, what);
      return std::nullopt;
    }
    return value.node.Scalar();
  }

  std::optional<Seconds> duration(const Value& value) {
    const auto text = scalar(value, k_duration_expected);
    if (!text) {
      return std::nullopt;
    }
    const auto parsed = parse_duration(*text);
    if (!parsed) {
      expected(value, k_duration_expected);
    }
    return parsed;
  }

  std::optional<std::int64_t> size(const Value& value) {
    const auto text = scalar(value, k_size_expected);
    if (!text) {
      return std::nullopt;
    }
    const auto parsed = parse_size(*text);
    if (!parsed) {
      expected(value, k_size_expected);
    }
    return parsed;
  }

  std::optional<double> percent(const Value& value) {
    const auto text = scalar(value, k_percent_expected);
    if (!text) {
      return std::nullopt;
    }
    const auto parsed = parse_percent(*text);
    if (!parsed) {
      expected(value, k_percent_expected);
    }
    return parsed;
  }

  std::optional<int> count(const Value& value, int minimum) {
    const std::string what = "a whole number, " + std::to_string(minimum) + " or more";
    const auto text = scalar(value, what);
    if (!text) {
      return std::nullopt;
    }
    const auto parsed = parse_count(*text);
    if (!parsed || *parsed < minimum) {
      expected(value, what);
      return std::nullopt;
    }
    return parsed;
  }

  std::optional<bool> boolean(const Value& value) {
    const auto text = scalar(value, "true or false");
    if (!text) {
      return std::nullopt;
    }
    if (*text == "true") {
      return true;
    }
    if (*text == "false") {
      return false;
    }
    expected(value, "true or false");
    return std::nullopt;
  }

  std::optional<Pattern> pattern(const Value& value) {
    static constexpr auto k_what = "a glob, \"re:<regex>\" or {regex: <regex>}";
    std::string error;
    std::optional<Pattern> result;
    if (value.node.IsMap()) {
      const std::size_t errors_before = m_errors.size();
      const auto fields = mapping(value, {"glob", "regex"});
      if (!fields || m_errors.size() != errors_before) {
        return std::nullopt;
      }
      const Value* glob_text = fields->find("glob");
      const Value* regex_text = fields->find("regex");
      if ((glob_text == nullptr) == (regex_text == nullptr)) {
        fail(value, "expected exactly one of glob or regex");
        return std::nullopt;
      }
      const Value& inner = glob_text != nullptr ? *glob_text : *regex_text;
      const auto text = scalar(inner, "a pattern string");
      if (!text) {
        return std::nullopt;
      }
      result = glob_text != nullptr ? Pattern::glob(*text, error) : Pattern::regex(*text, error);
      if (!result) {
        fail(inner, std::string(glob_text != nullptr ? "invalid glob " : "invalid regex ") +
                        quote(*text) + ": " + error);
      }
      return result;
    }
    const auto text = scalar(value, k_what);
    if (!text) {
      return std::nullopt;
    }
    const bool is_regex = text->starts_with("re:");
    result = is_regex ? Pattern::regex(std::string_view(*text).substr(3), error)
                      : Pattern::glob(*text, error);
    if (!result) {
      fail(value, std::string(is_regex ? "invalid regex " : "invalid glob ") + quote(*text) + ": " +
                      error);
    }
    return result;
  }

  void patterns(const Value& value, bool allow_empty, std::vector<Pattern>& out) {
    one_or_list(value, "pattern", allow_empty, [&](const Value& item) {
      if (auto compiled = pattern(item)) {
        out.push_back(std::move(*compiled));
      }
    });
  }

  void labels(const Value& value, bool allow_empty, std::vector<LabelMatcher>& out) {
    static constexpr auto k_what = "a label like key, key=value or key!=value";
    one_or_list(value, "label", allow_empty, [&](const Value& item) {
      const auto text = scalar(item, k_what);
      if (!text) {
        return;
      }
      if (auto matcher = parse_label(*text)) {
        out.push_back(std::move(*matcher));
      } else {
        expected(item, k_what);
      }
    });
  }

  void states(const Value& value, std::vector<StateFilter>& out) {
    static constexpr auto k_what = "dangling, intermediate, unused or tagged";
    static constexpr std::array<std::pair<std::string_view, StateFilter>, 4> k_states = {{
        {"dangling", StateFilter::dangling},
        {"intermediate", StateFilter::intermediate},
        {"unused", StateFilter::unused},
        {"tagged", StateFilter::tagged},
    }};
    one_or_list(value, "state", false, [&](const Value& item) {
      const auto text = scalar(item, k_what);
      if (!text) {
        return;
      }
      const auto* const found =
          std::find_if(k_states.begin(), k_states.end(),
                       [&](const auto& state) { return state.first == *text; });
      if (found == k_states.end()) {
        expected(item, k_what);
      } else if (std::find(out.begin(), out.end(), found->second) == out.end()) {
        out.push_back(found->second);
      }
    });
  }

  void read_policy(const Value& document, Policy& policy) {
    if (document.is_null()) {
      return; // an empty file: every default
    }
    if (!document.node.IsMap()) {
      expected(document, "a mapping of policy settings (mode, schedule, rules, ...)");
      return;
    }
    const auto fields = mapping(document, {"version", "mode", "schedule", "protect", "rules",
                                           "disk_pressure", "limits", "build_cache"});
    if (!fields) {
      return;
    }
    if (const Value* version = fields->find("version")) {
      const auto number = count(*version, 1);
      if (number && *number != k_format_version) {
        fail(*version, "unsupported format version " + std::to_string(*number) +
                           "; this imagegc reads version " + std::to_string(k_format_version));
      }
    }
    if (const Value* mode = fields->find("mode")) {
      if (const auto text = scalar(*mode, "dry-run or enforce")) {
        if (*text == "dry-run") {
          policy.mode = Mode::dry_run;
        } else if (*text == "enforce") {
          policy.mode = Mode::enforce;
        } else {
          expected(*mode, "dry-run or enforce");
        }
      }
    }
    if (const Value* schedule = fields->find("schedule")) {
      read_schedule(*schedule, policy.schedule);
    }
    if (const Value* protect = fields->find("protect")) {
      read_protections(*protect, policy.protect);
    }
    if (const Value* rules = fields->find("rules")) {
      read_rules(*rules, policy.rules);
    }
    if (const Value* pressure = fields->find("disk_pressure")) {
      read_disk_pressure(*pressure, policy.pressure);
    }
    if (const Value* limits = fields->find("limits")) {
      read_limits(*limits, policy.limits);
    }
    if (const Value* build_cache = fields->find("build_cache")) {
      read_build_cache(*build_cache, policy.build_cache);
    }
  }

  void read_schedule(const Value& value, Schedule& schedule) {
    const auto fields = mapping(value, {"interval", "jitter", "cron"});
    if (!fields) {
      return;
    }
    const Value* interval = fields->find("interval");
    const Value* jitter = fields->find("jitter");
    const Value* cron = fields->find("cron");
    if (interval != nullptr && cron != nullptr) {
      fail(*cron, "set either interval or cron, not both");
      return;
    }
    if (interval != nullptr) {
      schedule.interval = duration(*interval);
      if (schedule.interval && schedule.interval->count() == 0) {
        fail(*interval, "must be longer than 0s");
        schedule.interval.reset();
      }
    }
    if (cron != nullptr) {
      if (const auto text = scalar(*cron, "a 5-field cron expression like \"30 3 * * *\"")) {
        std::string error;
        schedule.cron = CronExpression::parse(*text, error);
        if (!schedule.cron) {
          fail(*cron, "invalid cron expression " + quote(*text) + ": " + error);
        }
      }
    }
    if (jitter != nullptr) {
      if (cron != nullptr) {
        fail(*jitter, "jitter applies to interval only, not to cron");
        return;
      }
      if (const auto parsed = duration(*jitter)) {
        const Seconds limit = schedule.interval.value_or(std::chrono::hours{1});
        if (*parsed > limit) {
          fail(*jitter,
               "must not be longer than the interval (" + std::to_string(limit.count()) + "s)");
        } else {
          schedule.jitter = *parsed;
        }
      }
    }
  }

  void read_protections(const Value& value, Protections& protect) {
    const auto fields =
        mapping(value, {"references", "labels", "newest_per_repository", "min_age"});
    if (!fields) {
      return;
    }
    if (const Value* references = fields->find("references")) {
      patterns(*references, true, protect.references);
    }
    if (const Value* matchers = fields->find("labels")) {
      labels(*matchers, true, protect.labels);
    }
    if (const Value* newest = fields->find("newest_per_repository")) {
      protect.newest_per_repository = count(*newest, 0);
    }
    if (const Value* min_age = fields->find("min_age")) {
      protect.min_age = duration(*min_age);
    }
  }

  void read_rules(const Value& value, std::vector<Rule>& rules) {
    if (value.is_null()) {
      return;
    }
    if (!value.node.IsSequence()) {
      expected(value, "a list of rules");
      return;
    }
    std::size_t index = 0;
    for (auto it = value.node.begin(); it != value.node.end(); ++it, ++index) {
      const Value item = value_of(*it, value.mark, index_path(value.path, index));
      Rule rule;
      if (read_rule(item, rule)) {
        rules.push_back(std::move(rule));
      }
    }
  }

  bool read_rule(const Value& value, Rule& rule) {
    if (!value.node.IsMap()) {
      expected(value, "a rule (a mapping with name, select and conditions)");
      return false;
    }
    const auto fields =
        mapping(value, {"name", "select", "older_than", "unused_for", "keep_newest"});
    if (!fields) {
      return false;
    }
    rule.location = location(value.mark);
    const std::size_t errors_before = m_errors.size();

    if (const Value* name = fields->find("name")) {
      if (const auto text = scalar(*name, "a rule name")) {
        if (text->empty()) {
          expected(*name, "a rule name");
        } else if (const auto first = m_rule_names.find(*text); first != m_rule_names.end()) {
          fail(*name, "duplicate rule name " + quote(*text) + ", first used at line " +
                          std::to_string(first->second.line) + ", column " +
                          std::to_string(first->second.column));
        } else {
          m_rule_names.emplace(*text, location(name->mark));
          rule.name = *text;
        }
      }
    } else {
      fail(value, "missing required key \"name\"");
    }
    if (const Value* select = fields->find("select")) {
      read_selector(*select, rule.select);
    } else {
      fail(value, "missing required key \"select\" (select: {} selects every image)");
    }
    if (const Value* older_than = fields->find("older_than")) {
      rule.older_than = duration(*older_than);
    }
    if (const Value* unused_for = fields->find("unused_for")) {
      rule.unused_for = duration(*unused_for);
    }
    if (const Value* keep_newest = fields->find("keep_newest")) {
      rule.keep_newest = count(*keep_newest, 0);
    }
    return m_errors.size() == errors_before;
  }

  void read_selector(const Value& value, Selector& select) {
    const auto fields = mapping(value, {"repository", "tag", "labels", "state"});
    if (!fields) {
      return;
    }
    // An empty list here would widen the rule to every image: reject it as a likely slip.
    if (const Value* repository = fields->find("repository")) {
      patterns(*repository, false, select.repositories);
    }
    if (const Value* tag = fields->find("tag")) {
      patterns(*tag, false, select.tags);
    }
    if (const Value* matchers = fields->find("labels")) {
      labels(*matchers, false, select.labels);
    }
    if (const Value* state = fields->find("state")) {
      states(*state, select.states);
    }
  }

  struct WatermarkMarks { // NOLINT(bugprone-exception-escape): holds yaml-cpp nodes, as Value
    std::optional<Value> used;
    std::optional<Value> free;
  };

  WatermarkMarks read_watermark(const Value& value, Watermark& watermark) {
    WatermarkMarks marks;
    // "high: 85%" is short for "high: {used: 85%}".
    if (value.node.IsScalar()) {
      watermark.used_percent = percent(value);
      marks.used = value;
      return marks;
    }
    if (!value.node.IsMap()) {
      expected(value, "a percentage like 85% or a mapping with used and/or free");
      return marks;
    }
    const auto fields = mapping(value, {"used", "free"});
    if (!fields) {
      return marks;
    }
    const Value* used = fields->find("used");
    const Value* free = fields->find("free");
    if (used == nullptr && free == nullptr) {
      fail(value, "expected used (a percentage) and/or free (a size)");
    }
    if (used != nullptr) {
      watermark.used_percent = percent(*used);
      marks.used = *used;
    }
    if (free != nullptr) {
      watermark.free_bytes = size(*free);
      marks.free = *free;
    }
    return marks;
  }

  void read_disk_pressure(const Value& value, DiskPressure& pressure) {
    const auto fields = mapping(value, {"enabled", "high", "low", "rules"});
    if (!fields || value.is_null()) {
      return;
    }
    pressure.enabled = true;
    if (const Value* enabled = fields->find("enabled")) {
      pressure.enabled = boolean(*enabled).value_or(true);
    }
    const Value* high = fields->find("high");
    const Value* low = fields->find("low");
    if (pressure.enabled && high == nullptr) {
      fail(value, "missing required key \"high\" (e.g. high: {used: 85%})");
    }
    if (pressure.enabled && low == nullptr) {
      fail(value, "missing required key \"low\" (e.g. low: {used: 70%})");
    }
    WatermarkMarks high_marks;
    WatermarkMarks low_marks;
    if (high != nullptr) {
      high_marks = read_watermark(*high, pressure.high);
    }
    if (low != nullptr) {
      low_marks = read_watermark(*low, pressure.low);
    }
    // Deleting stops once low is reached, so low must be further from trouble than high.
    if (pressure.high.used_percent && pressure.low.used_percent &&
        *pressure.low.used_percent >= *pressure.high.used_percent && low_marks.used) {
      fail(*low_marks.used, "must be below the high watermark's used (" +
                                quote(high_marks.used->node.Scalar()) + ")");
    }
    if (pressure.high.free_bytes && pressure.low.free_bytes &&
        *pressure.low.free_bytes <= *pressure.high.free_bytes && low_marks.free) {
      fail(*low_marks.free, "must be above the high watermark's free (" +
                                quote(high_marks.free->node.Scalar()) + ")");
    }
    if (const Value* rules = fields->find("rules")) {
      read_rules(*rules, pressure.rules);
    }
  }

  void read_limits(const Value& value, Limits& limits) {
    const auto fields = mapping(value, {"max_deletions", "max_bytes", "max_duration"});
    if (!fields) {
      return;
    }
    // A zero limit would stop every run before it starts; dry-run is the way to pause.
    if (const Value* deletions = fields->find("max_deletions")) {
      limits.max_deletions = count(*deletions, 1);
    }
    if (const Value* bytes = fields->find("max_bytes")) {
      limits.max_bytes = size(*bytes);
      if (limits.max_bytes == 0) {
        fail(*bytes, "must be more than 0");
        limits.max_bytes.reset();
      }
    }
    if (const Value* max_duration = fields->find("max_duration")) {
      limits.max_duration = duration(*max_duration);
      if (limits.max_duration && limits.max_duration->count() == 0) {
        fail(*max_duration, "must be longer than 0s");
        limits.max_duration.reset();
      }
    }
  }

  void read_build_cache(const Value& value, BuildCachePolicy& cache) {
    const auto fields = mapping(value, {"enabled", "all", "older_than", "keep_storage",
                                        "reserved_space", "max_used_space", "min_free_space"});
    if (!fields || value.is_null()) {
      return;
    }
    cache.enabled = true;
    if (const Value* enabled = fields->find("enabled")) {
      cache.enabled = boolean(*enabled).value_or(true);
    }
    if (const Value* all = fields->find("all")) {
      cache.all = boolean(*all).value_or(false);
    }
    if (const Value* older_than = fields->find("older_than")) {
      cache.older_than = duration(*older_than);
    }
    const std::array<std::pair<std::string_view, std::optional<std::int64_t>*>, 4> k_sizes = {{
        {"keep_storage", &cache.keep_storage},
        {"reserved_space", &cache.reserved_space},
        {"max_used_space", &cache.max_used_space},
        {"min_free_space", &cache.min_free_space},
    }};
    for (const auto& [key, target] : k_sizes) {
      if (const Value* field = fields->find(key)) {
        *target = size(*field);
      }
    }
  }

  std::string m_file;
  std::vector<PolicyError> m_errors;
  std::map<std::string, SourceLocation, std::less<>> m_rule_names; // across rules and pressure
};

} // namespace

std::string PolicyError::to_string() const {
  std::string result = location.file;
  if (location.line > 0) {
    result += ":" + std::to_string(location.line) + ":" + std::to_string(location.column);
  }
  return result.empty() ? message : result + ": " + message;
}

PolicyResult parse_policy(std::string_view yaml_text, std::string_view file_name) {
  return Loader(file_name).load(yaml_text);
}

PolicyResult load_policy_file(const std::string& path) {
  const auto failure = [&](std::string message) -> PolicyResult {
    return util::unexpected(std::vector<PolicyError>{{{path, 0, 0}, std::move(message)}});
  };
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return failure("cannot read the policy: it is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return failure("cannot read the policy: " + std::generic_category().message(errno));
  }
  // Read at most one byte past the limit: enough to tell a file is too big without reading
  // all of it (or forever, from a device).
  std::string text(k_max_policy_bytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (file.bad()) {
    return failure("cannot read the policy: " + std::generic_category().message(errno));
  }
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > k_max_policy_bytes) {
    return failure("the policy is larger than " + std::to_string(k_max_policy_bytes >> 20) +
                   " MiB");
  }
  return parse_policy(text, path);
}

} // namespace imagegc::policy
