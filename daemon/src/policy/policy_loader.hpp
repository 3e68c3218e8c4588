#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"
#include "util/expected.hpp"

namespace imagegc::policy {

struct PolicyError {
  SourceLocation location;
  std::string message; // what was wrong and what was expected

  // "policy.yaml:12:5: rules[0].older_than: expected a duration like 90s, 24h or 7d, got \"soon\""
  [[nodiscard]] std::string to_string() const;
};

using PolicyResult = util::Expected<Policy, std::vector<PolicyError>>;

// Parses and validates a policy document. `file_name` is used in locations only.
PolicyResult parse_policy(std::string_view yaml_text, std::string_view file_name);
// Reads and parses a file; an unreadable file is one error at line 0.
PolicyResult load_policy_file(const std::string& path);

} // namespace imagegc::policy
