#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/records.hpp"

namespace imagegc::engine {

// Per-layer sizes for an image's RootFS.Layers from its history. The history endpoint lists
// every build step (newest first) and gives 0 for steps that made no layer, so which entries
// are layers must be inferred: see the definition for the rules. Returns one size per layer
// (`layer_count`: how many diff IDs the image has), base layer first. `total_size` (the image's
// Size) is used to check the result.
struct LayerSizes {
  std::vector<std::int64_t> sizes;
  bool consistent = true; // false when the sizes do not add up to total_size
};

// What an engine's image Size counts. Docker's is the sum of the image's layers. Podman's adds
// the image's own metadata (its config and manifest, about a kilobyte), which no layer holds, so
// there the layers can only be checked not to exceed it. The containerd image store's inspect Size
// is the packed (compressed) content of one platform (moby daemon/containerd/image_inspect.go,
// ImageService.size) while its history gives each layer's unpacked snapshot: nothing to check.
enum class ImageSizeMeaning { layers, layers_and_metadata, packed_content };

LayerSizes layer_sizes_from_history(std::size_t layer_count,
                                    const std::vector<HistoryEntry>& history_newest_first,
                                    std::int64_t total_size,
                                    ImageSizeMeaning meaning = ImageSizeMeaning::layers);

} // namespace imagegc::engine
