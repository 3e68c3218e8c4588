#include "app/report_text.hpp"

namespace imagegc::app {

std::string short_id(std::string_view id) {
  if (id.starts_with("sha256:")) {
    id.remove_prefix(7);
  }
  return std::string(id.substr(0, 12));
}

std::string tags_text(const std::vector<std::string_view>& tags) {
  if (tags.empty()) {
    return "<none>";
  }
  std::string text;
  for (const std::string_view tag : tags) {
    text += text.empty() ? "" : ", ";
    text += tag;
  }
  return text;
}

std::string tags_text(const std::vector<std::string>& tags) {
  return tags_text(std::vector<std::string_view>(tags.begin(), tags.end()));
}

} // namespace imagegc::app
