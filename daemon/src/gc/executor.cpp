#include "gc/executor.hpp"

#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
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
  const graph::Image* image = live.find_image(deletion.image.id());
  if (image == nullptr) {
    return "already gone";
  }
  if (const auto containers = live.containers_using(deletion.image.id()); containers > 0) {
    return "a container uses it now (" + std::to_string(containers) + ")";
  }
  const std::vector<std::string_view> planned_tags = deletion.image.tags();
  for (const std::string& tag : image->tags) {
    if (std::find(planned_tags.begin(), planned_tags.end(), tag) == planned_tags.end()) {
      return "it gained the tag " + tag + " since planning";
    }
  }
  // A tag that left the image (a rebuild moved it) must not be deleted by name: it now names
  // the new image. The next pass plans the old one again under what it is now.
  for (const std::string_view tag : planned_tags) {
    if (std::find(image->tags.begin(), image->tags.end(), tag) == image->tags.end()) {
      return "its tag " + std::string(tag) + " moved or was removed since planning";
    }
  }
  return std::nullopt;
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

} // namespace

namespace {

// An image whose tags phase one released, waiting for phase two to delete it.
struct Pending {
  std::size_t outcome; // its index in the report
  const policy::PlannedDeletion* deletion;
  std::string name;                  // what deletes it: the hold reference, or the ID
  std::vector<std::string> released; // its tags, removed in phase one
};

// One pass's deletions against the engine. Docker does not order a container's creation against
// an image's deletion: a `docker create app:1` that has resolved the tag when the delete arrives
// registers its container after the engine has deleted the image (measured: 6 in 30 tight
// races). So a tagged image is deleted in two phases: first it gets a hold reference of
// imagegc's own and loses its tags, so that no new container can find it by name; after a grace
// period in which creations already under way register (and reach the live graph), the hold
// reference goes, and with it the image unless a container now uses it.
class Execution {
public:
  Execution(engine::EngineClient& client, const graph::ImageGraph& live, ExecutionOptions options)
      : m_client(client), m_live(live), m_options(options) {}

  asio::awaitable<ExecutionReport> run(const policy::Plan& plan) {
    const auto started = Clock::now();
    for (const policy::PlannedDeletion& deletion : plan.deletions) {
      Outcome outcome{std::string(deletion.image.id()),
                      deletion.rule,
                      Outcome::Kind::deleted,
                      {},
                      deletion.bytes};
      if (!m_report.stopped_early && m_options.max_duration &&
          Clock::now() - started >= *m_options.max_duration) {
        m_report.stopped_early = true;
        m_report.stop_reason = "limits.max_duration reached";
      }
      if (m_report.stopped_early) {
        outcome.kind = Outcome::Kind::not_reached;
      } else if (const auto change = changed_since_planning(m_live, deletion); change) {
        keep(outcome, Outcome::Kind::skipped, *change);
      } else if (m_options.mode == policy::Mode::dry_run) {
        outcome.kind = Outcome::Kind::would_delete;
        m_report.reclaimed_bytes += deletion.bytes;
        spdlog::info("dry-run: would delete {} [{}] ({} bytes) by rule {}: {}", deletion.image.id(),
                     fmt::join(deletion.image.tags(), ", "), deletion.bytes, deletion.rule,
                     deletion.reason());
      } else {
        m_report.outcomes.push_back(std::move(outcome));
        co_await release(deletion);
        continue;
      }
      m_report.outcomes.push_back(std::move(outcome));
    }

    const bool any_released =
        std::any_of(m_pending.begin(), m_pending.end(),
                    [](const Pending& each) { return !each.released.empty(); });
    if (any_released && !m_report.stopped_early && m_options.hold_grace.count() > 0) {
      asio::steady_timer grace(co_await asio::this_coro::executor, m_options.hold_grace);
      co_await grace.async_wait(asio::use_awaitable);
    }
    for (Pending& pending : m_pending) {
      co_await finish(pending);
    }
    co_return std::move(m_report);
  }

private:
  // Phase one: the hold reference, then the planned tags, each checked with the engine first.
  asio::awaitable<void> release(const policy::PlannedDeletion& deletion) {
    const std::size_t index = m_report.outcomes.size() - 1;
    const std::string image_id(deletion.image.id());
    Pending pending{index, &deletion, image_id, {}};
    if (deletion.image.tag_count() == 0) {
      m_pending.push_back(std::move(pending));
      co_return;
    }
    const auto hold = engine::hold_reference(image_id);
    if (auto held = co_await m_client.tag_image(image_id, hold); !held) {
      stop(index, "holding", image_id, held.error());
      co_return;
    }
    pending.name = hold;
    for (const std::string_view planned_tag : deletion.image.tags()) {
      const std::string tag(planned_tag);
      // The live graph follows the events with a lag: the engine says where the tag points
      // now, immediately before the untag, which leaves a window of one request.
      const auto target = co_await m_client.inspect_image(tag);
      if (!target) {
        stop(index, "reading", tag, target.error());
        co_return; // the hold stays: the next pass sees the image untagged and plans it again
      }
      if (!*target || (*target)->id != image_id) {
        keep(m_report.outcomes[index], Outcome::Kind::skipped,
             *target ? "its tag " + tag + " now names " + (*target)->id
                     : "its tag " + tag + " is gone");
        co_await restore(pending);
        co_return;
      }
      const auto result = co_await m_client.delete_image(tag);
      if (!result) {
        stop(index, "untagging", tag, result.error());
        co_return;
      }
      if (result->kind != engine::DeleteOutcome::Kind::deleted) {
        keep(m_report.outcomes[index], Outcome::Kind::conflict,
             "the engine refused to untag " + tag + ": " + result->message);
        co_await restore(pending);
        co_return;
      }
      m_report.untagged.insert(m_report.untagged.end(), result->response.untagged.begin(),
                               result->response.untagged.end());
      pending.released.push_back(tag);
    }
    m_pending.push_back(std::move(pending));
  }

  // Phase two: the delete, unless a container appeared meanwhile.
  asio::awaitable<void> finish(Pending& pending) {
    Outcome& outcome = m_report.outcomes[pending.outcome];
    const policy::PlannedDeletion& deletion = *pending.deletion;
    if (m_report.stopped_early) {
      outcome.kind = Outcome::Kind::not_reached;
      co_return; // an engine that failed gets no more requests; held images are planned again
    }
    if (m_live.find_image(deletion.image.id()) == nullptr && pending.released.empty()) {
      // The events already showed it removed with a child (an untagged parent).
      record_deleted(outcome, deletion);
      co_return;
    }
    if (const auto containers = m_live.containers_using(deletion.image.id()); containers > 0) {
      keep(outcome, Outcome::Kind::skipped,
           "a container uses it now (" + std::to_string(containers) + ")");
      co_await restore(pending);
      co_return;
    }
    const auto result = co_await m_client.delete_image(pending.name);
    if (!result) {
      stop(pending.outcome, "deleting", pending.name, result.error());
      co_return;
    }
    switch (result->kind) {
    case engine::DeleteOutcome::Kind::deleted:
      if (contains(result->response.deleted, deletion.image.id())) {
        record_deleted(outcome, deletion);
      } else {
        keep(outcome, Outcome::Kind::skipped, "still present after its references were removed");
      }
      break;
    case engine::DeleteOutcome::Kind::not_found:
      // Someone else removed it: nothing this pass reclaimed.
      keep(outcome, Outcome::Kind::skipped, "already gone");
      break;
    case engine::DeleteOutcome::Kind::conflict:
      keep(outcome, Outcome::Kind::conflict, "the engine refused: " + result->message);
      co_await restore(pending);
      break;
    }
  }

  // Gives a kept image its tags back (those no other image took meanwhile), then drops the hold.
  asio::awaitable<void> restore(const Pending& pending) {
    const std::string id(pending.deletion->image.id());
    for (const std::string& tag : pending.released) {
      const auto now = co_await m_client.inspect_image(tag);
      if (now && !*now) {
        if (auto tagged = co_await m_client.tag_image(id, tag); !tagged) {
          spdlog::warn("could not give {} its tag {} back: {}", id, tag, tagged.error().message);
        }
      } else {
        spdlog::warn("{} keeps no tag {}: it names another image now", id, tag);
      }
    }
    if (pending.name == id) {
      co_return;
    }
    // Deleting the hold reference of an image with no other name would delete the image: it
    // goes only once the image has a tag again. Otherwise it stays, hidden from imagegc's own
    // view, and the image counts as untagged until a later pass deletes it.
    const auto now = co_await m_client.inspect_image(id);
    if (now && *now && !(*now)->repo_tags.empty()) {
      if (auto dropped = co_await m_client.delete_image(pending.name); !dropped) {
        spdlog::warn("could not remove {} from {}: {}", pending.name, id, dropped.error().message);
      }
    } else {
      spdlog::info("{} keeps the reference {}: it has no other name now", id, pending.name);
    }
  }

  void keep(Outcome& outcome, Outcome::Kind kind, std::string why) {
    outcome.kind = kind;
    outcome.detail = std::move(why);
    spdlog::info("kept {} ({}): {}", outcome.image_id, outcome.rule, outcome.detail);
  }

  void record_deleted(Outcome& outcome, const policy::PlannedDeletion& deletion) {
    outcome.kind = Outcome::Kind::deleted;
    m_report.reclaimed_bytes += deletion.bytes;
    spdlog::info("deleted {} [{}] ({} bytes) by rule {}: {}", deletion.image.id(),
                 fmt::join(deletion.image.tags(), ", "), deletion.bytes, deletion.rule,
                 deletion.reason());
  }

  // An engine that does not answer may have done anything: nothing more this pass.
  void stop(std::size_t index, std::string_view doing, const std::string& name,
            const engine::Error& error) {
    Outcome& outcome = m_report.outcomes[index];
    outcome.kind = Outcome::Kind::failed;
    outcome.detail = error.message;
    m_report.stopped_early = true;
    m_report.stop_reason = "the engine failed: " + error.message;
    spdlog::error("{} {} failed, stopping this pass: {}", doing, name, error.message);
  }

  engine::EngineClient& m_client;
  const graph::ImageGraph& m_live;
  ExecutionOptions m_options;
  ExecutionReport m_report;
  std::vector<Pending> m_pending;
};

} // namespace

asio::awaitable<ExecutionReport> execute_plan(engine::EngineClient& client,
                                              const graph::ImageGraph& live,
                                              const policy::Plan& plan, ExecutionOptions options) {
  Execution execution(client, live, options);
  co_return co_await execution.run(plan);
}

} // namespace imagegc::gc
