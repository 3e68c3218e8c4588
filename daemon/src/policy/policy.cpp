#include "policy/policy.hpp"

#include <algorithm>

#include <re2/re2.h>

namespace imagegc::policy {
namespace {

// RE2 runs in time linear in the input, so hostile patterns cannot hang a match; this bounds the
// memory one compiled pattern (and its matching cache) may take. Large counted repetitions
// ("(a{1000}){1000}") exceed it and fail to compile instead.
constexpr std::int64_t k_max_regex_memory = 1 << 20;

std::shared_ptr<const re2::RE2> compile(const std::string& regex, std::string& error) {
  re2::RE2::Options options;
  options.set_max_mem(k_max_regex_memory);
  options.set_log_errors(false); // errors are reported through `error`, not stderr
  auto compiled = std::make_shared<const re2::RE2>(regex, options);
  if (!compiled->ok()) {
    error = compiled->error();
    return nullptr;
  }
  return compiled;
}

} // namespace

std::optional<Pattern> Pattern::glob(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "empty pattern";
    return std::nullopt;
  }
  // Image references never contain these, so a glob holding one could never match; most likely
  // a character class or brace list was meant, which globs here do not have.
  if (const std::size_t bad = text.find_first_of("[]{}\\"); bad != std::string_view::npos) {
    error = std::string("'") + text[bad] +
            "' is not supported in a glob (only *, ** and ?); use a regex (re:...) instead";
    return std::nullopt;
  }
  if (text.find("***") != std::string_view::npos) {
    error = "\"***\" is ambiguous; use * within a path segment or ** across segments";
    return std::nullopt;
  }

  std::string regex;
  std::string literal;
  Pattern pattern;
  const auto flush_literal = [&] {
    if (literal.size() > pattern.m_needle.size()) {
      pattern.m_needle = literal;
    }
    regex += re2::RE2::QuoteMeta(literal);
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '*') {
      flush_literal();
      if (i + 1 < text.size() && text[i + 1] == '*') {
        regex += ".*";
        ++i;
      } else {
        regex += "[^/]*";
      }
    } else if (text[i] == '?') {
      flush_literal();
      regex += "[^/]";
    } else {
      literal += text[i];
    }
  }
  // What every match starts and ends with: the text up to the first and after the last wildcard.
  const std::size_t first_wildcard = text.find_first_of("*?");
  const std::size_t last_wildcard = text.find_last_of("*?");
  pattern.m_prefix = std::string(text.substr(0, first_wildcard));
  if (last_wildcard != std::string_view::npos) {
    pattern.m_suffix = std::string(text.substr(last_wildcard + 1));
  }
  flush_literal();

  pattern.m_kind = Kind::glob;
  pattern.m_text = std::string(text);
  pattern.m_compiled = compile(regex, error);
  if (!pattern.m_compiled) {
    return std::nullopt;
  }
  return pattern;
}

std::optional<Pattern> Pattern::regex(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "empty regex";
    return std::nullopt;
  }
  Pattern pattern;
  pattern.m_kind = Kind::regex;
  pattern.m_text = std::string(text);
  pattern.m_compiled = compile(pattern.m_text, error);
  if (!pattern.m_compiled) {
    return std::nullopt;
  }
  // Every text the regex fully matches sorts between these two (RE2's promise; false when it
  // cannot say, as for a leading ".*"): a cheap first test, like a glob's literal text.
  constexpr int k_range_length = 16;
  pattern.m_has_range = pattern.m_compiled->PossibleMatchRange(
      &pattern.m_range_min, &pattern.m_range_max, k_range_length);
  return pattern;
}

bool Pattern::matches(std::string_view text) const {
  // A glob's literal text appears as it is in every match: most texts are turned away by that
  // alone, for far less than a run of the regex.
  if (!text.starts_with(m_prefix) || !text.ends_with(m_suffix) ||
      (!m_needle.empty() && text.find(m_needle) == std::string_view::npos)) {
    return false;
  }
  if (m_has_range && (text < m_range_min || text > m_range_max)) {
    return false;
  }
  // FullMatch anchors at both ends: "app" never matches "myapp-old".
  return m_compiled && re2::RE2::FullMatch(text, *m_compiled);
}

bool Pattern::may_match_starting_with(std::string_view start) const {
  // Every match starts with the glob's literal prefix: where the two overlap they must agree.
  const std::size_t overlap = std::min(start.size(), m_prefix.size());
  if (start.substr(0, overlap) != std::string_view(m_prefix).substr(0, overlap)) {
    return false;
  }
  if (m_has_range) {
    // Every text starting with `start` sorts at or after it; all of them sort before
    // m_range_min when `start` does and is not a prefix of it.
    if (start > m_range_max) {
      return false;
    }
    if (start < m_range_min && !std::string_view(m_range_min).starts_with(start)) {
      return false;
    }
  }
  return true;
}

bool LabelMatcher::matches(const std::map<std::string, std::string>& labels) const {
  const auto found = labels.find(key);
  switch (op) {
  case Op::exists:
    return found != labels.end();
  case Op::equals:
    return found != labels.end() && found->second == value;
  case Op::not_equals:
    return found == labels.end() || found->second != value;
  }
  return false;
}

namespace {

// A reference without its digest: "app:1.0@sha256:..." → "app:1.0".
std::string_view without_digest(std::string_view reference) {
  return reference.substr(0, reference.find('@'));
}

// Where the tag's ':' is, or npos: a ':' with a '/' after it belongs to a registry port. Only
// the text after the last ':' is searched for the '/', which is the short tag when there is one.
std::size_t tag_colon(std::string_view name) {
  const std::size_t colon = name.rfind(':');
  if (colon == std::string_view::npos) {
    return colon;
  }
  return name.find('/', colon + 1) != std::string_view::npos ? std::string_view::npos : colon;
}

} // namespace

std::string_view repository_of(std::string_view reference) {
  const std::string_view name = without_digest(reference);
  return name.substr(0, tag_colon(name));
}

std::string_view tag_of(std::string_view reference) {
  const std::string_view name = without_digest(reference);
  const std::size_t colon = tag_colon(name);
  return colon == std::string_view::npos ? std::string_view{} : name.substr(colon + 1);
}

} // namespace imagegc::policy
