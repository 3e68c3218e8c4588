#pragma once
// Small text pieces shared by the reports a person reads (graph, plan).

#include <string>
#include <string_view>
#include <vector>

namespace imagegc::app {

// The 12 hex digits the docker CLI shows for an image ID.
std::string short_id(std::string_view id);
// "a:1, b:2", or "<none>" for an image without tags.
std::string tags_text(const std::vector<std::string_view>& tags);
std::string tags_text(const std::vector<std::string>& tags);

} // namespace imagegc::app
