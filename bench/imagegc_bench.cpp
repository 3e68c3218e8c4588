// In-process benchmarks (Google Benchmark) over the synthetic host of the fake engine: building
// the graph, events through the parser into the graph, the reclaimable figures after one event,
// a plan with the ten-rule policy of bench/policy-10-rules.yaml, and a /metrics body.
// scripts/bench.sh runs them and quotes medians; run by hand with --benchmark_filter=REGEX.

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <malloc.h>

#include "engine/json_ingest.hpp"
#include "metrics/metrics.hpp"
#include "policy/planner.hpp"
#include "policy/policy_loader.hpp"
#include "sync/event_applier.hpp"
#include "synthetic_host.hpp"

namespace imagegc::bench {
namespace {

constexpr std::int64_t k_now = 1'700'000'000; // after every synthetic image was created

void sizes(benchmark::internal::Benchmark* benchmark) {
  benchmark->Arg(1'000)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
}

const policy::Policy& bench_policy() {
  static const policy::Policy loaded = [] {
    const std::string path = IMAGEGC_BENCH_DIR "/policy-10-rules.yaml";
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    auto parsed = policy::parse_policy(text.str(), path);
    if (!parsed) {
      throw std::runtime_error(parsed.error().front().to_string());
    }
    return std::move(*parsed);
  }();
  return loaded;
}

// Bytes the allocator has handed out and not taken back: small blocks from the heap arenas and
// large ones mapped on their own (vectors and hash tables of a large graph).
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

void BM_GraphBuild(benchmark::State& state) {
  const SyntheticHost& host = synthetic_host(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    graph::ImageGraph graph = build_graph(host);
    benchmark::DoNotOptimize(graph.unused_reclaimable_bytes());
  }
  state.counters["images"] = static_cast<double>(host.images.size());
  // What the graph holds once built, outside the timed loop: the heap before and after.
  const std::size_t before = heap_in_use();
  const graph::ImageGraph graph = build_graph(host);
  const std::size_t after = heap_in_use();
  state.counters["graph_heap_MB"] = static_cast<double>(after - before) / 1e6;
}
BENCHMARK(BM_GraphBuild)->Apply(sizes);

// Docker 20.10's event lines: container create/start/die/destroy on images of the host, and a
// tag moved between images and taken away again.
std::vector<std::string> event_lines(const SyntheticHost& host, std::size_t count) {
  std::vector<std::string> lines;
  lines.reserve(count);
  std::int64_t time = k_now * 1'000'000'000;
  const auto line = [&](std::string_view type, std::string_view action, const std::string& id,
                        const std::string& attributes) {
    ++time;
    lines.push_back(R"({"status":")" + std::string(action) + R"(","id":")" + id + R"(","Type":")" +
                    std::string(type) + R"(","Action":")" + std::string(action) +
                    R"(","Actor":{"ID":")" + id + R"(","Attributes":{)" + attributes +
                    R"(}},"scope":"local","time":)" + std::to_string(time / 1'000'000'000) +
                    R"(,"timeNano":)" + std::to_string(time) + "}");
  };
  for (std::size_t i = 0; lines.size() < count; ++i) {
    const graph::Image& image = host.images[(i * 7919) % host.images.size()];
    const std::string container = "bench" + std::to_string(i % 512);
    const std::string attributes =
        R"("image":")" + image.id + R"(","name":"job)" + std::to_string(i % 512) + R"(")";
    line("container", "create", container, attributes);
    line("container", "start", container, attributes);
    line("container", "die", container, attributes + R"(,"exitCode":"0")");
    line("container", "destroy", container, attributes);
    line("image", "tag", image.id, R"("name":"bench/moving:latest")");
    line("image", "untag", image.id, R"("name":")" + image.id + R"(")");
  }
  return lines;
}

// What re-reading the object an event names would find, applied to the graph: the benchmark has
// no engine to ask, so the event's own words stand in for the answer.
void apply(graph::ImageGraph& graph, const engine::Event& event) {
  const sync::EventEffect effect = sync::effect_of(event);
  switch (effect.kind) {
  case sync::EventEffect::Kind::none:
    break;
  case sync::EventEffect::Kind::forget_container:
    graph.remove_container(effect.subject);
    break;
  case sync::EventEffect::Kind::refresh_container:
    if (event.action == "create") {
      graph.upsert_container({event.actor_id, event.attributes.at("image"), false});
    } else {
      graph.set_container_running(effect.subject, event.action == "start");
    }
    break;
  case sync::EventEffect::Kind::refresh_image: {
    const graph::Image* image = graph.find_image(effect.subject);
    if (image == nullptr) {
      break;
    }
    std::vector<std::string> tags = image->tags;
    if (event.action == "tag") {
      tags.push_back(event.attributes.at("name"));
    } else {
      std::erase(tags, "bench/moving:latest");
    }
    graph.set_references(effect.subject, std::move(tags), image->digests);
    break;
  }
  }
}

void BM_EventsParseAndApply(benchmark::State& state) {
  const SyntheticHost& host = synthetic_host(static_cast<std::size_t>(state.range(0)));
  graph::ImageGraph graph = build_graph(host);
  const auto lines = event_lines(host, 60'000);
  std::size_t applied = 0;
  for (auto _ : state) {
    for (const std::string& text : lines) {
      auto event = engine::parse_event(text);
      if (!event) {
        state.SkipWithError("an event did not parse");
        return;
      }
      apply(graph, *event);
    }
    applied += lines.size();
  }
  state.counters["events_per_second"] =
      benchmark::Counter(static_cast<double>(applied), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EventsParseAndApply)->Apply(sizes);

// One event (a container on an image goes away, or comes back) and both prune figures read.
void BM_ReclaimableAfterOneEvent(benchmark::State& state) {
  const SyntheticHost& host = synthetic_host(static_cast<std::size_t>(state.range(0)));
  graph::ImageGraph graph = build_graph(host);
  const graph::ContainerRef container = host.containers.front();
  bool present = true;
  for (auto _ : state) {
    if (present) {
      graph.remove_container(container.id);
    } else {
      graph.upsert_container(container);
    }
    present = !present;
    benchmark::DoNotOptimize(graph.dangling_reclaimable_bytes() + graph.unused_reclaimable_bytes());
  }
  state.SetLabel("microseconds per event");
}
BENCHMARK(BM_ReclaimableAfterOneEvent)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);

void BM_Plan(benchmark::State& state) {
  const SyntheticHost& host = synthetic_host(static_cast<std::size_t>(state.range(0)));
  const graph::ImageGraph graph = build_graph(host);
  const policy::Policy& policy = bench_policy();
  std::size_t deletions = 0;
  for (auto _ : state) {
    const policy::Plan plan =
        policy::make_plan(policy::PlanInput{graph, policy, k_now, std::nullopt, {}});
    deletions = plan.deletions.size();
  }
  state.counters["deletions"] = static_cast<double>(deletions);
}
BENCHMARK(BM_Plan)->Apply(sizes);

// What a scrape does: the graph's figures into the registry, and the text format.
void BM_MetricsScrape(benchmark::State& state) {
  const SyntheticHost& host = synthetic_host(static_cast<std::size_t>(state.range(0)));
  const graph::ImageGraph graph = build_graph(host);
  const policy::Policy& policy = bench_policy();
  metrics::Metrics metrics("bench");
  std::vector<std::string> rules;
  for (const auto& rule : policy.rules) {
    rules.push_back(rule.name);
  }
  metrics.update_plan(policy::make_plan(policy::PlanInput{graph, policy, k_now, std::nullopt, {}}),
                      rules);
  std::size_t body_bytes = 0;
  for (auto _ : state) {
    metrics.update_graph(graph);
    body_bytes = metrics.serialize().size();
  }
  state.counters["body_bytes"] = static_cast<double>(body_bytes);
}
BENCHMARK(BM_MetricsScrape)->Apply(sizes);

void BM_UniqueBytesEveryImage(benchmark::State& state) {
  const SyntheticHost& host = synthetic_host(static_cast<std::size_t>(state.range(0)));
  const graph::ImageGraph graph = build_graph(host);
  for (auto _ : state) {
    std::int64_t total = 0;
    for (const auto& image : host.images) {
      total += graph.unique_bytes(image.id);
    }
    benchmark::DoNotOptimize(total);
  }
}
BENCHMARK(BM_UniqueBytesEveryImage)->Apply(sizes);

} // namespace
} // namespace imagegc::bench

BENCHMARK_MAIN();
