#include "synthetic_host.hpp"

#include <map>
#include <memory>

#include "support/fake_engine.hpp"

namespace imagegc::bench {

const SyntheticHost& synthetic_host(std::size_t count) {
  static std::map<std::size_t, std::unique_ptr<SyntheticHost>> made;
  auto& host = made[count];
  if (host) {
    return *host;
  }
  host = std::make_unique<SyntheticHost>();
  test::FakeEngine fake;
  const auto order = fake.add_synthetic_images(count, 7);
  std::map<std::string, graph::ImageWithLayers> by_id;
  for (const auto& image : fake.images()) {
    graph::ImageWithLayers converted;
    converted.id = image.id;
    converted.parent = image.parent;
    converted.tags = image.tags;
    converted.digests = image.digests;
    converted.created = image.created;
    converted.labels = image.labels;
    for (const auto& layer : image.layers) {
      converted.layers.push_back({layer.diff_id, layer.size});
    }
    by_id.emplace(image.id, std::move(converted));
  }
  for (const auto& id : order) {
    host->images.push_back(std::move(by_id.at(id)));
  }
  for (const auto& container : fake.containers()) {
    host->containers.push_back({container.id, container.image_id, container.running});
  }
  return *host;
}

graph::ImageGraph build_graph(const SyntheticHost& host) {
  graph::ImageGraph graph;
  for (const auto& image : host.images) {
    graph.upsert_image(image);
  }
  for (const auto& container : host.containers) {
    graph.upsert_container(container);
  }
  return graph;
}

} // namespace imagegc::bench
