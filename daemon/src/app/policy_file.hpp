#pragma once

#include <optional>
#include <string>

#include "policy/policy.hpp"

namespace imagegc::app {

inline constexpr const char* k_default_policy_path = "/etc/imagegc/policy.yaml";
inline constexpr const char* k_default_state_dir = "/var/lib/imagegc";

// Loads and validates the policy, logging every error with its file:line:column. A policy file
// anyone may write is refused: it decides what gets deleted. nullopt when it cannot be used.
std::optional<policy::Policy> load_policy_or_log(const std::string& path);

} // namespace imagegc::app
