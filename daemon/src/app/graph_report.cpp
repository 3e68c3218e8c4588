#include "app/graph_report.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/report_text.hpp"
#include "util/format.hpp"

namespace imagegc::app {

namespace {

std::int64_t layer_bytes(const std::vector<graph::Layer>& layers, std::size_t from = 0) {
  std::int64_t total = 0;
  for (std::size_t i = from; i < layers.size(); ++i) {
    total += layers[i].size;
  }
  return total;
}

// Bytes an image adds on top of its parent's layers.
std::int64_t added_bytes(const graph::ImageGraph& graph, const graph::Image& image) {
  const graph::Image* parent = image.parent.empty() ? nullptr : graph.find_image(image.parent);
  const std::vector<graph::Layer> layers = graph.layers(image);
  const std::size_t inherited = parent ? std::min(graph.layers(*parent).size(), layers.size()) : 0;
  return layer_bytes(layers, inherited);
}

std::string containers_note(const graph::ImageGraph& graph, const graph::Image& image) {
  const auto total = graph.containers_using(image.id);
  if (total == 0) {
    return {};
  }
  const auto running = graph.running_containers_using(image.id);
  return "  [" + std::to_string(total) + " container" + (total == 1 ? "" : "s") +
         (running > 0 ? ", " + std::to_string(running) + " running" : "") + "]";
}

std::string totals_text(const graph::ImageGraph& graph) {
  std::ostringstream out;
  out << graph.image_count() << " images, layers " << util::human_bytes(graph.layers_bytes())
      << "; reclaimable: dangling " << util::human_bytes(graph.dangling_reclaimable_bytes())
      << " (docker image prune), unused " << util::human_bytes(graph.unused_reclaimable_bytes())
      << " (docker image prune -a)\n";
  return out.str();
}

} // namespace

std::string engine_header(const EngineSummary& engine) {
  return "engine: API " + engine.api_version.to_string() + ", " +
         std::string(engine::to_string(engine.image_store)) + " image store (" +
         (engine.storage_driver.empty() ? std::string("unknown driver") : engine.storage_driver) +
         ")\n";
}

std::string render_table(const graph::ImageGraph& graph,
                         const std::optional<EngineSummary>& engine) {
  std::ostringstream out;
  if (engine) {
    out << engine_header(*engine) << '\n';
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-12s  %-12s  %10s  %10s  %-20s  %s\n", "IMAGE ID", "STATE",
                "SIZE", "UNIQUE", "CREATED", "TAGS");
  out << line;
  auto ids = graph.image_ids();
  std::vector<const graph::Image*> images;
  images.reserve(ids.size());
  for (const auto& id : ids) {
    images.push_back(graph.find_image(id));
  }
  std::stable_sort(images.begin(), images.end(),
                   [](const auto* a, const auto* b) { return a->created > b->created; });
  for (const graph::Image* image : images) {
    std::snprintf(line, sizeof line, "%-12s  %-12s  %10s  %10s  %-20s  ",
                  short_id(image->id).c_str(),
                  std::string(graph::to_string(graph.state(image->id))).c_str(),
                  util::human_bytes(layer_bytes(graph.layers(*image))).c_str(),
                  util::human_bytes(graph.unique_bytes(image->id)).c_str(),
                  util::iso8601_utc(image->created).c_str());
    out << line << tags_text(image->tags) << containers_note(graph, *image) << '\n';
  }
  out << '\n' << totals_text(graph);
  return out.str();
}

std::string render_json(const graph::ImageGraph& graph, const EngineSummary& engine) {
  nlohmann::ordered_json images = nlohmann::ordered_json::array();
  for (const auto& id : graph.image_ids()) {
    const graph::Image& image = *graph.find_image(id);
    nlohmann::ordered_json item;
    item["id"] = image.id;
    item["parent"] = image.parent;
    item["tags"] = image.tags;
    item["digests"] = image.digests;
    item["created"] = image.created;
    item["state"] = graph::to_string(graph.state(id));
    item["containers"] = graph.containers_using(id);
    const std::vector<graph::Layer> layers = graph.layers(image);
    item["size_bytes"] = layer_bytes(layers);
    item["unique_bytes"] = graph.unique_bytes(id);
    item["layers"] = layers.size();
    images.push_back(std::move(item));
  }
  nlohmann::ordered_json document;
  document["engine"] = {{"api_version", engine.api_version.to_string()},
                        {"storage_driver", engine.storage_driver},
                        {"image_store", engine::to_string(engine.image_store)}};
  document["images"] = std::move(images);
  document["totals"] = {{"images", graph.image_count()},
                        {"containers", graph.container_count()},
                        {"layers_bytes", graph.layers_bytes()},
                        {"reclaimable_bytes",
                         {{"dangling", graph.dangling_reclaimable_bytes()},
                          {"unused", graph.unused_reclaimable_bytes()}}}};
  return document.dump(2) + "\n";
}

std::string render_tree(const graph::ImageGraph& graph,
                        const std::optional<EngineSummary>& engine) {
  std::ostringstream out;
  if (engine) {
    out << engine_header(*engine) << '\n';
  }
  std::vector<std::string> roots;
  for (const auto& id : graph.image_ids()) {
    const graph::Image& image = *graph.find_image(id);
    if (image.parent.empty() || graph.find_image(image.parent) == nullptr) {
      roots.push_back(id);
    }
  }
  const std::function<void(const std::string&, const std::string&, const std::string&)> draw =
      [&](const std::string& id, const std::string& own_prefix, const std::string& child_prefix) {
        const graph::Image& image = *graph.find_image(id);
        out << own_prefix << short_id(id) << "  " << graph::to_string(graph.state(id)) << "  +"
            << util::human_bytes(added_bytes(graph, image)) << " (unique "
            << util::human_bytes(graph.unique_bytes(id)) << ")  " << tags_text(image.tags)
            << containers_note(graph, image) << '\n';
        const auto children = graph.children(id);
        for (std::size_t i = 0; i < children.size(); ++i) {
          const bool last = i + 1 == children.size();
          draw(children[i], child_prefix + (last ? "└── " : "├── "),
               child_prefix + (last ? "    " : "│   "));
        }
      };
  for (const auto& root : roots) {
    draw(root, "", "");
  }
  out << '\n' << totals_text(graph);
  return out.str();
}

} // namespace imagegc::app
