#pragma once
// Reading `imagegc plan --format json` in tests.

#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace imagegc::test {

// The plan document in a command's output (log lines may come first).
inline nlohmann::json plan_document(const std::string& output) {
  return nlohmann::json::parse(output.substr(output.find('{')));
}

// Every image the plan removes: its deletions and the untagged parents they take along.
inline std::set<std::string> planned_removals(const nlohmann::json& plan) {
  std::set<std::string> removed;
  for (const auto& deletion : plan["deletions"]) {
    removed.insert(deletion["id"].get<std::string>());
    for (const auto& parent : deletion["orphaned_parents"]) {
      removed.insert(parent.get<std::string>());
    }
  }
  return removed;
}

} // namespace imagegc::test
