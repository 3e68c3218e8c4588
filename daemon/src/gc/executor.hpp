#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine_client.hpp"
#include "graph/image_graph.hpp"
#include "policy/planner.hpp"
#include "policy/policy.hpp"
#include "util/asio.hpp"

namespace imagegc::gc {

struct ExecutionOptions {
  policy::Mode mode = policy::Mode::dry_run;
  std::optional<std::chrono::seconds> max_duration;
  // How long a tagged image waits, its tags removed, before it is deleted: containers whose
  // creation had already found it by name register meanwhile (see executor.cpp).
  std::chrono::milliseconds hold_grace{2000};

  // Enforce mode, everything else as default.
  static ExecutionOptions enforcing() {
    ExecutionOptions options;
    options.mode = policy::Mode::enforce;
    return options;
  }
};

// What one pass did, image by image.
struct ExecutionReport {
  struct Outcome {
    enum class Kind {
      deleted,      // the engine confirmed the image gone
      would_delete, // dry-run
      skipped,      // changed since planning (a container, a new tag), or gone already
      conflict,     // the engine refused (409): kept
      failed,       // the engine failed to answer: the pass stopped
      not_reached,  // the pass stopped before it (time limit, engine lost)
    };
    std::string image_id;
    std::string rule;
    Kind kind = Kind::deleted;
    std::string detail;
    std::int64_t bytes = 0; // planned bytes of a deleted (or would-be deleted) image
  };

  std::vector<Outcome> outcomes;
  std::vector<std::string> untagged; // references the engine removed
  std::int64_t reclaimed_bytes = 0;  // planned bytes of the images deleted (or would be)
  bool stopped_early = false;
  std::string stop_reason;

  [[nodiscard]] std::size_t count(Outcome::Kind kind) const;
};

// Runs `plan` against the engine in order, without force. It checks the live graph (kept current
// by events while the pass runs) before each step: an image that gained a container or a tag, or
// lost one, since planning is skipped. Tagged images are held by a reference of imagegc's own
// while their tags go, and deleted after `hold_grace`. 409 means "kept", 404 "already gone";
// neither is an error. In dry-run mode it does everything but the engine calls. `live` and
// `plan` must outlive the awaitable (a plan of a large host is tens of megabytes: not copied).
boost::asio::awaitable<ExecutionReport> execute_plan(engine::EngineClient& client,
                                                     const graph::ImageGraph& live,
                                                     const policy::Plan& plan,
                                                     ExecutionOptions options);

} // namespace imagegc::gc
