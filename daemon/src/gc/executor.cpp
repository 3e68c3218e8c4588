#include "gc/executor.hpp"

#include <algorithm>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace imagegc::gc {

namespace asio = boost::asio;
using Outcome = ExecutionReport::Outcome;
using Clock = std::chrono::steady_clock;

std::size_t ExecutionReport::count(Outcome::Kind kind) const {
  return static_cast<std::size_t>(
      std::count_if(outcomes.begin(), outcomes.end(),
                    [&](const Outcome& outcome) { return outcome.kind == kind; }));
}

namespace {

// Why the image must not be deleted on this plan any more, or nullopt when it still may.
std::optional<std::string> changed_since_planning(const graph::ImageGraph& live,
                                                  const policy::PlannedDeletion& deletion) {
  const graph::Image* image = live.find_image(deletion.image_id);
  if (image == nullptr) {
    return "already gone";
  }
  if (const auto containers = live.containers_using(deletion.image_id); containers > 0) {
    return "a container uses it now (" + std::to_string(containers) + ")";
  }
  for (const std::string& tag : image->tags) {
    if (std::find(deletion.tags.begin(), deletion.tags.end(), tag) == deletion.tags.end()) {
      return "it gained the tag " + tag + " since planning";
    }
  }
  // A tag that left the image (a rebuild moved it) must not be deleted by name: it now names
  // the new image. The next pass plans the old one again under what it is now.
  for (const std::string& tag : deletion.tags) {
    if (std::find(image->tags.begin(), image->tags.end(), tag) == image->tags.end()) {
      return "its tag " + tag + " moved or was removed since planning";
    }
  }
  return std::nullopt;
}

bool contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

} // namespace

asio::awaitable<ExecutionReport> execute_plan(engine::EngineClient& client,
                                              const graph::ImageGraph& live,
                                              const policy::Plan& plan, ExecutionOptions options) {
  ExecutionReport report;
  const auto started = Clock::now();
  const bool dry_run = options.mode == policy::Mode::dry_run;

  for (const policy::PlannedDeletion& deletion : plan.deletions) {
    Outcome outcome{deletion.image_id, deletion.rule, Outcome::Kind::deleted, {}, deletion.bytes};
    if (report.stopped_early) {
      outcome.kind = Outcome::Kind::not_reached;
      report.outcomes.push_back(std::move(outcome));
      continue;
    }
    if (options.max_duration && Clock::now() - started >= *options.max_duration) {
      report.stopped_early = true;
      report.stop_reason = "limits.max_duration reached";
      outcome.kind = Outcome::Kind::not_reached;
      report.outcomes.push_back(std::move(outcome));
      continue;
    }
    if (const auto change = changed_since_planning(live, deletion); change) {
      outcome.kind = Outcome::Kind::skipped;
      outcome.detail = *change;
      spdlog::info("kept {} ({}): {}", deletion.image_id, deletion.rule, *change);
      report.outcomes.push_back(std::move(outcome));
      continue;
    }
    if (dry_run) {
      outcome.kind = Outcome::Kind::would_delete;
      report.reclaimed_bytes += deletion.bytes;
      spdlog::info("dry-run: would delete {} [{}] ({} bytes) by rule {}: {}", deletion.image_id,
                   fmt::join(deletion.tags, ", "), deletion.bytes, deletion.rule, deletion.reason);
      report.outcomes.push_back(std::move(outcome));
      continue;
    }

    // By reference first (deleting by ID fails for an image in several repositories), then by
    // ID when the last reference did not take the image with it.
    std::vector<std::string> names = deletion.tags;
    names.push_back(deletion.image_id);
    bool gone = false;
    // An engine that does not answer may have done anything: nothing more this pass.
    const auto stop_pass = [&](std::string_view doing, const std::string& name,
                               const engine::Error& error) {
      outcome.kind = Outcome::Kind::failed;
      outcome.detail = error.message;
      report.stopped_early = true;
      report.stop_reason = "the engine failed: " + error.message;
      spdlog::error("{} {} failed, stopping this pass: {}", doing, name, error.message);
    };
    for (const std::string& name : names) {
      if (gone) {
        break;
      }
      if (name == deletion.image_id && live.find_image(deletion.image_id) == nullptr) {
        gone = true; // the events already showed it removed with its last tag
        break;
      }
      if (name != deletion.image_id) {
        // The live graph follows the events with a lag: the engine says where the tag points
        // now, immediately before the delete, which leaves a window of one request.
        const auto target = co_await client.inspect_image(name);
        if (!target) {
          stop_pass("reading", name, target.error());
          break;
        }
        if (!*target || (*target)->id != deletion.image_id) {
          outcome.kind = Outcome::Kind::skipped;
          outcome.detail = *target ? "its tag " + name + " now names " + (*target)->id
                                   : "its tag " + name + " is gone";
          spdlog::info("kept {} ({}): {}", deletion.image_id, deletion.rule, outcome.detail);
          break;
        }
      }
      const auto result = co_await client.delete_image(name);
      if (!result) {
        stop_pass("deleting", name, result.error());
        break;
      }
      switch (result->kind) {
      case engine::DeleteOutcome::Kind::deleted:
        report.untagged.insert(report.untagged.end(), result->response.untagged.begin(),
                               result->response.untagged.end());
        gone = contains(result->response.deleted, deletion.image_id);
        break;
      case engine::DeleteOutcome::Kind::not_found:
        if (name == deletion.image_id) {
          // Someone else removed it: nothing this pass reclaimed.
          outcome.kind = Outcome::Kind::skipped;
          outcome.detail = "already gone";
        }
        break;
      case engine::DeleteOutcome::Kind::conflict:
        outcome.kind = Outcome::Kind::conflict;
        outcome.detail = result->message;
        spdlog::info("kept {}: the engine refused ({})", name, result->message);
        break;
      }
      if (outcome.kind != Outcome::Kind::deleted) {
        break;
      }
    }
    if (outcome.kind == Outcome::Kind::deleted) {
      if (gone) {
        report.reclaimed_bytes += deletion.bytes;
        spdlog::info("deleted {} [{}] ({} bytes) by rule {}: {}", deletion.image_id,
                     fmt::join(deletion.tags, ", "), deletion.bytes, deletion.rule,
                     deletion.reason);
      } else {
        outcome.kind = Outcome::Kind::skipped;
        outcome.detail = "still present after its references were removed";
      }
    }
    report.outcomes.push_back(std::move(outcome));
  }
  co_return report;
}

} // namespace imagegc::gc
