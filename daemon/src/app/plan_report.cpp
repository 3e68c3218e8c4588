#include "app/plan_report.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "app/report_text.hpp"
#include "util/format.hpp"

namespace imagegc::app {

std::string render_plan_table(const policy::Plan& plan) {
  std::ostringstream out;
  out << "DELETE (" << plan.deletions.size() << ", in this order)\n";
  for (const auto& deletion : plan.deletions) {
    out << "  " << short_id(deletion.image.id()) << "  " << util::human_bytes(deletion.bytes)
        << "  " << tags_text(deletion.image.tags()) << "  [" << deletion.rule << "] "
        << deletion.reason();
    if (!deletion.orphaned_parents.empty()) {
      out << "; takes " << deletion.orphaned_parents.size() << " untagged parent"
          << (deletion.orphaned_parents.size() == 1 ? "" : "s");
    }
    out << '\n';
  }
  out << "KEEP (" << plan.kept.size() << ")\n";
  for (const auto& kept : plan.kept) {
    out << "  " << short_id(kept.image.id()) << "  " << tags_text(kept.image.tags()) << "  "
        << kept.reason << '\n';
  }
  out << "\nreclaims " << util::human_bytes(plan.reclaim_bytes);
  if (plan.pressure) {
    out << "; disk pressure: " << util::human_bytes(plan.pressure_goal_bytes)
        << " needed to reach the low watermark";
  }
  if (plan.limited) {
    out << "; limits left some deletions for the next run";
  }
  out << '\n';
  if (plan.build_cache.requested) {
    out << "build cache: " << plan.build_cache.note << '\n';
  }
  return out.str();
}

std::string render_plan_json(const policy::Plan& plan) {
  nlohmann::ordered_json deletions = nlohmann::ordered_json::array();
  for (const auto& deletion : plan.deletions) {
    deletions.push_back({{"id", deletion.image.id()},
                         {"tags", deletion.image.tags()},
                         {"rule", deletion.rule},
                         {"reason", deletion.reason()},
                         {"bytes", deletion.bytes},
                         {"pressure", deletion.pressure},
                         {"orphaned_parents", deletion.orphaned_parents}});
  }
  nlohmann::ordered_json kept = nlohmann::ordered_json::array();
  for (const auto& image : plan.kept) {
    kept.push_back({{"id", image.image.id()},
                    {"tags", image.image.tags()},
                    {"reason", image.reason},
                    {"why", policy::to_string(image.why)}});
  }
  nlohmann::ordered_json document;
  document["deletions"] = std::move(deletions);
  document["kept"] = std::move(kept);
  document["reclaim_bytes"] = plan.reclaim_bytes;
  document["pressure"] = plan.pressure;
  document["limited"] = plan.limited;
  document["build_cache"] = {{"requested", plan.build_cache.requested},
                             {"available", plan.build_cache.available},
                             {"note", plan.build_cache.note}};
  return document.dump(2) + "\n";
}

} // namespace imagegc::app
