#pragma once
// `imagegc plan` output: every deletion with its rule and reason, every kept image with why.

#include <string>

#include "graph/image_graph.hpp"
#include "policy/planner.hpp"

namespace imagegc::app {

std::string render_plan_table(const policy::Plan& plan);
// {"deletions": [{id, tags, rule, reason, bytes, pressure, orphaned_parents}],
//  "kept": [{id, tags, reason, why}], "reclaim_bytes", "pressure", "limited",
//  "build_cache": {requested, available, note}}
std::string render_plan_json(const policy::Plan& plan);

} // namespace imagegc::app
