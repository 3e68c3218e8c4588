// ImageGraph::differences: what a re-list found that the event-fed graph had wrong. Only the
// public view of the two graphs is compared, so this needs nothing of the graph's internals.

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "graph/image_graph.hpp"

namespace imagegc::graph {
namespace {

std::string list_text(const std::vector<std::string>& values) {
  std::string text = "[";
  for (std::size_t index = 0; index < values.size(); ++index) {
    text += index == 0 ? "" : ", ";
    text += values[index];
  }
  return text + "]";
}

std::string labels_text(const std::map<std::string, std::string>& labels) {
  std::string text = "{";
  for (const auto& [key, value] : labels) {
    text += text.size() == 1 ? "" : ", ";
    text += key;
    text += '=';
    text += value;
  }
  return text + "}";
}

std::string optional_text(const std::optional<std::int64_t>& value) {
  return value ? std::to_string(*value) : std::string("none");
}

std::string quoted(const std::string& value) {
  return "\"" + value + "\"";
}

std::string layer_text(const std::vector<Layer>& layers, std::size_t index) {
  if (index >= layers.size()) {
    return "none";
  }
  return layers[index].diff_id.text() + " (" + std::to_string(layers[index].size) + " bytes)";
}

// Layer lists are long: name the first layer that differs rather than printing both lists.
std::string layers_text(const std::vector<Layer>& expected, const std::vector<Layer>& actual) {
  const auto [expected_it, actual_it] =
      std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end());
  const auto index = static_cast<std::size_t>(expected_it - expected.begin());
  return std::to_string(expected.size()) + " != " + std::to_string(actual.size()) +
         " layers, first difference at " + std::to_string(index) + ": " +
         layer_text(expected, index) + " != " + layer_text(actual, index);
}

void compare_images(const ImageGraph& expected_graph, const Image& expected,
                    const ImageGraph& actual_graph, const Image& actual,
                    std::vector<std::string>& lines) {
  const std::string prefix = "image " + expected.id + " ";
  if (expected.parent != actual.parent) {
    lines.push_back(prefix + "parent: " + quoted(expected.parent) + " != " + quoted(actual.parent));
  }
  if (expected.tags != actual.tags) {
    lines.push_back(prefix + "tags: " + list_text(expected.tags) + " != " + list_text(actual.tags));
  }
  if (expected.digests != actual.digests) {
    lines.push_back(prefix + "digests: " + list_text(expected.digests) +
                    " != " + list_text(actual.digests));
  }
  if (expected.created != actual.created) {
    lines.push_back(prefix + "created: " + std::to_string(expected.created) +
                    " != " + std::to_string(actual.created));
  }
  if (expected.last_tag_time != actual.last_tag_time) {
    lines.push_back(prefix + "last_tag_time: " + optional_text(expected.last_tag_time) +
                    " != " + optional_text(actual.last_tag_time));
  }
  if (expected.stored_at != actual.stored_at) {
    lines.push_back(prefix + "stored_at: " + optional_text(expected.stored_at) +
                    " != " + optional_text(actual.stored_at));
  }
  if (expected.labels != actual.labels) {
    lines.push_back(prefix + "labels: " + labels_text(expected.labels) +
                    " != " + labels_text(actual.labels));
  }
  const std::vector<Layer> expected_layers = expected_graph.layers(expected);
  const std::vector<Layer> actual_layers = actual_graph.layers(actual);
  if (expected_layers != actual_layers) {
    lines.push_back(prefix + "layers: " + layers_text(expected_layers, actual_layers));
  }
}

void compare_containers(const ContainerRef& expected, const ContainerRef& actual,
                        std::vector<std::string>& lines) {
  const std::string prefix = "container " + expected.id + " ";
  if (expected.image_id != actual.image_id) {
    lines.push_back(prefix + "image: " + quoted(expected.image_id) +
                    " != " + quoted(actual.image_id));
  }
  if (expected.running != actual.running) {
    lines.push_back(prefix + "running: " + (expected.running ? "true" : "false") +
                    " != " + (actual.running ? "true" : "false"));
  }
}

// Walks two ID-sorted lists together so the output follows ID order.
template <typename Item, typename Compare>
void merge_compare(const std::vector<Item>& expected, const std::vector<Item>& actual,
                   const std::string& kind, Compare compare, std::vector<std::string>& lines) {
  std::size_t e = 0;
  std::size_t a = 0;
  while (e < expected.size() || a < actual.size()) {
    if (a == actual.size() || (e < expected.size() && expected[e]->id < actual[a]->id)) {
      lines.push_back(kind + " " + expected[e]->id + " missing");
      ++e;
    } else if (e == expected.size() || actual[a]->id < expected[e]->id) {
      lines.push_back(kind + " " + actual[a]->id + " unexpected");
      ++a;
    } else {
      compare(*expected[e], *actual[a], lines);
      ++e;
      ++a;
    }
  }
}

std::vector<const Image*> sorted_images(const ImageGraph& graph) {
  std::vector<const Image*> images;
  for (const std::string& id : graph.image_ids()) {
    images.push_back(graph.find_image(id));
  }
  return images;
}

std::vector<const ContainerRef*> sorted_containers(const ImageGraph& graph) {
  std::vector<const ContainerRef*> containers;
  for (const ContainerRef& container : graph.containers()) {
    containers.push_back(graph.find_container(container.id));
  }
  return containers;
}

} // namespace

std::vector<std::string> ImageGraph::differences(const ImageGraph& expected,
                                                 const ImageGraph& actual) {
  std::vector<std::string> lines;
  merge_compare(
      sorted_images(expected), sorted_images(actual), "image",
      [&](const Image& expected_image, const Image& actual_image, std::vector<std::string>& out) {
        compare_images(expected, expected_image, actual, actual_image, out);
      },
      lines);
  merge_compare(sorted_containers(expected), sorted_containers(actual), "container",
                compare_containers, lines);
  return lines;
}

} // namespace imagegc::graph
