#pragma once
// A fake Docker engine for tests: a Beast HTTP/1.1 server on a Unix socket, on an io_context
// thread of its own, that answers the Docker Engine API (API 1.41 shapes by default) from
// scripted state, streams events as the test changes that state, and misbehaves on command.
//
// Thread-safety: every public member may be called from any thread but the fake's own; each
// call runs on the fake's thread and returns once done. Never call from a callback the fake runs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/endpoint.hpp"
#include "engine/records.hpp"

namespace imagegc::test {

struct FakeLayer {
  std::string diff_id; // "sha256:<hex>"
  std::int64_t size = 0;
};

struct FakeImage {
  std::string id;                // "sha256:<hex>"
  std::string parent;            // "" when none; the parent's layers must be a prefix of this one's
  std::vector<std::string> tags; // "repo:tag"
  std::vector<std::string> digests; // "repo@sha256:<hex>"
  std::int64_t created = 0;         // unix seconds
  std::map<std::string, std::string> labels;
  std::vector<FakeLayer> layers; // the whole chain, base first
  // The containerd image store only (FakeEngineOptions::containerd_store):
  std::int64_t stored_at = 0;             // its records' latest local time; 0: when added
  std::int64_t packed_bytes = 0;          // the host platform's manifest, config, packed layers
  std::int64_t other_platforms_bytes = 0; // every other platform's content and snapshots
};

struct FakeContainer {
  std::string id;       // 64 hex digits
  std::string image_id; // "sha256:<hex>"
  std::string image;    // what the user typed; the image ID when empty
  std::string name;     // without the leading '/'
  bool running = false;
  std::int64_t created = 0;
};

// One way of answering requests badly. It applies to requests whose method matches (any when
// empty) and whose path, without the /v1.NN prefix or the query, contains `path_contains`.
struct RequestFault {
  std::string method;
  std::string path_contains;
  int status = 0;                         // answer this status with an engine error body
  std::chrono::milliseconds stall{0};     // wait this long before answering
  std::chrono::milliseconds trickle{0};   // send the answer one byte per interval
  std::uint64_t oversized_body_bytes = 0; // a 200 announcing and streaming this many bytes
  bool close_without_answer = false;
  int times = -1;      // how many requests it spoils; -1: all
  std::string message; // the error body's message for `status`; a generic one when empty
};

// A fault answering `status` to `times` requests (-1: all) matching `method` and `path_contains`.
inline RequestFault status_fault(std::string method, std::string path_contains, int status,
                                 int times) {
  RequestFault fault;
  fault.method = std::move(method);
  fault.path_contains = std::move(path_contains);
  fault.status = status;
  fault.times = times;
  return fault;
}

// `times` matching requests answered only after `stall` (a slow engine).
inline RequestFault stall_fault(std::string method, std::string path_contains,
                                std::chrono::milliseconds stall, int times) {
  RequestFault fault;
  fault.method = std::move(method);
  fault.path_contains = std::move(path_contains);
  fault.stall = stall;
  fault.times = times;
  return fault;
}

struct FaultPlan {
  std::vector<RequestFault> requests; // the first that matches applies
};

struct FakeEngineOptions {
  engine::ApiVersion api_version{1, 41};
  std::string server_version = "20.10.24+dfsg1";
  // Where the socket goes; a fresh directory under the system temp dir when empty.
  std::string directory;
  std::size_t event_ring_size = 256;
  // Answer as an engine with the containerd image store does (moby daemon/containerd/): /info
  // says driver-type io.containerd.snapshotter.v1; an image ID is the digest its records point
  // at; the parent is the record label org.mobyproject.image.parent (FakeImage::parent), never
  // checked on delete; RepoDigests are repo@<ID> for each tagged repository (scripted digests are
  // not served); the listing's Size adds packed content and other platforms to the snapshots;
  // inspect's Size is the packed content and Metadata.LastTagTime the records' local time; an
  // untag event names the image ID and the reference; a delete follows image_delete.go (an untagged
  // parent goes with any child, siblings or not).
  bool containerd_store = false;
  // List an image once per tag, each entry with that one tag in RepoTags, as the containerd store
  // of Engines 24 and 25 did (one entry per image record).
  bool list_per_tag = false;
};

// A DELETE /images/{name} answer, as the engine gives it.
struct FakeDeleteResult {
  int status = 200;
  std::vector<std::string> untagged;
  std::vector<std::string> deleted;
  std::string message; // the error message for 404 / 409
};

struct FakeEngineStats {
  std::uint64_t requests = 0;
  std::uint64_t connections_accepted = 0;
  std::uint64_t subscriptions = 0; // GET /events answered
  std::size_t open_connections = 0;
  std::size_t subscribers = 0; // events streams open now
  std::uint64_t events_emitted = 0;
  std::unordered_map<std::string, std::uint64_t> requests_by_path; // "GET /images/json"
};

class FakeEngine {
public:
  explicit FakeEngine(FakeEngineOptions options = {});
  // Stops the server and removes the socket and its directory when the fake made it.
  ~FakeEngine(); // NOLINT(bugprone-exception-escape): see the definition
  FakeEngine(const FakeEngine&) = delete;
  FakeEngine& operator=(const FakeEngine&) = delete;

  [[nodiscard]] engine::Endpoint endpoint() const;
  [[nodiscard]] std::string socket_path() const;
  [[nodiscard]] std::string url() const; // "unix:///..."
  [[nodiscard]] std::string directory() const;

  // --- state; each change sends the events the engine would ---------------------------------

  // Adds an image (its parent first). Sends `load` (`create` from API 1.46) and a `tag` per tag
  // when `announce`; otherwise the engine changed without a word, as legacy builds can.
  void add_image(FakeImage image, bool announce = true);
  // Points `reference` at `image_id`, taking it from any other image without an untag (as a
  // rebuild does). Sends `tag`.
  void tag(const std::string& image_id, const std::string& reference);
  // Removes a reference without deleting anything. Sends `untag`.
  void untag(const std::string& reference);
  // DELETE /images/{name} without force, with moby's semantics; also what the HTTP path runs.
  FakeDeleteResult remove_image(const std::string& name, bool prune_parents = true);
  void add_container(FakeContainer container);
  void set_container_running(const std::string& id, bool running); // sends start / die
  void remove_container(const std::string& id);                    // sends destroy
  // A synthetic host: `count` images in parent chains of 5-15 layers over shared base layers,
  // 1-3 tags on tagged images, ~10 % dangling, containers on ~5 %. Deterministic for a seed.
  // Adds to what is there, without events. Returns the IDs added.
  std::vector<std::string> add_synthetic_images(std::size_t count, std::uint64_t seed);
  // Builds every image's inspect and history answer now, as they are kept until the state
  // changes: a benchmark then times its client, not the fake's JSON encoding (at 100k images
  // about 13 s of the fake's CPU for the first reads).
  void prepare_image_answers();
  // Load for benchmarks: `count` events of the mix a busy host's stream carries, each with the
  // change it announces. Half are execs and a fifth health checks (nothing the graph holds), a
  // fifth containers starting or stopping, a tenth a tag moved between images or removed.
  // Deterministic. Returns how many of them change what imagegc tracks (start, die, tag, untag).
  std::size_t emit_workload_events(std::size_t count);
  [[nodiscard]] std::size_t image_count() const;
  [[nodiscard]] std::vector<FakeImage> images() const;
  [[nodiscard]] std::vector<FakeContainer> containers() const;

  // --- faults --------------------------------------------------------------------------------

  void set_faults(FaultPlan plan);
  void clear_faults();
  // To every open events stream, and then closed:
  void close_event_streams();            // cleanly (the last chunk)
  void close_event_streams_mid_object(); // after half of an event object
  void send_truncated_event_chunk();     // a chunk that announces more than it sends
  // To every open events stream, which stays open:
  void send_raw_event_line(const std::string& line); // a line as given (malformed, non-JSON)
  // A line of `bytes` filler bytes, ended by a newline when `terminated`; without it, the
  // line goes on with whatever is sent next.
  void send_oversized_event_line(std::uint64_t bytes, bool terminated = true);

  // --- life ----------------------------------------------------------------------------------

  // The engine goes away: the socket is closed and removed, every connection dropped.
  void go_down();
  // It comes back, optionally speaking another API version. Events from before are lost when
  // `lose_events` (a real engine keeps them in memory only).
  void come_up(std::optional<engine::ApiVersion> api_version = {}, bool lose_events = true);
  // go_down() then come_up().
  void restart(std::optional<engine::ApiVersion> api_version = {});
  [[nodiscard]] bool up() const;
  [[nodiscard]] engine::ApiVersion api_version() const;

  [[nodiscard]] FakeEngineStats stats() const;
  // Events streams open now; cheaper than stats() on a large host.
  [[nodiscard]] std::size_t subscriber_count() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace imagegc::test
