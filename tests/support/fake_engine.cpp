#include "support/fake_engine.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "engine/json_ingest.hpp"

namespace imagegc::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;
using Json = nlohmann::json;
using Socket = asio::local::stream_protocol::socket;

namespace {

constexpr std::size_t k_filler_block = std::size_t{64} * 1024;

const std::string& filler_block() {
  static const std::string k_block(k_filler_block, 'x');
  return k_block;
}

std::string rfc3339(std::int64_t seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text.data();
}

std::int64_t now_nano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      const std::string hex(text.substr(i + 1, 2));
      out.push_back(static_cast<char>(std::stoi(hex, nullptr, 16)));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct Target {
  std::string path; // without /v1.NN
  std::optional<engine::ApiVersion> version;
  std::map<std::string, std::string> query;
};

Target parse_target(std::string_view target) {
  Target parsed;
  const auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  if (path.starts_with("/v") && path.size() > 2 &&
      std::isdigit(static_cast<unsigned char>(path[2]))) {
    const auto slash = path.find('/', 1);
    parsed.version = engine::parse_api_version(
        path.substr(2, slash == std::string_view::npos ? std::string_view::npos : slash - 2));
    path = slash == std::string_view::npos ? std::string_view{"/"} : path.substr(slash);
  }
  parsed.path = percent_decode(path);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      const auto equals = pair.find('=');
      parsed.query[percent_decode(pair.substr(0, equals))] =
          equals == std::string_view::npos ? std::string{}
                                           : percent_decode(pair.substr(equals + 1));
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
  }
  return parsed;
}

std::string query_value(const std::map<std::string, std::string>& query, const std::string& key) {
  const auto it = query.find(key);
  return it == query.end() ? std::string{} : it->second;
}

bool truthy(const std::map<std::string, std::string>& query, const std::string& key) {
  const auto it = query.find(key);
  return it != query.end() && (it->second == "1" || it->second == "true" || it->second == "True");
}

// "sec.nanos" or "sec" → nanoseconds.
std::optional<std::int64_t> parse_since(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  try {
    const auto dot = text.find('.');
    std::int64_t nano = std::stoll(text.substr(0, dot)) * 1'000'000'000;
    if (dot != std::string::npos) {
      std::string fraction = text.substr(dot + 1, 9);
      fraction.resize(9, '0');
      nano += std::stoll(fraction);
    }
    return nano;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The repository part of a reference: "a/b:1" → "a/b", "a/b@sha256:.." → "a/b".
std::string repository_of(const std::string& reference) {
  if (const auto at = reference.find('@'); at != std::string::npos) {
    return reference.substr(0, at);
  }
  const auto colon = reference.rfind(':');
  const auto slash = reference.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return reference.substr(0, colon);
  }
  return reference;
}

bool is_digest_reference(const std::string& reference) {
  return reference.find('@') != std::string::npos;
}

std::string short_id(const std::string& id) {
  const auto hex = id.starts_with("sha256:") ? id.substr(7) : id;
  return hex.substr(0, 12);
}

std::string random_hex(std::mt19937_64& random) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (std::size_t i = 0; i < hex.size(); i += 16) {
    std::uint64_t value = random();
    for (std::size_t j = 0; j < 16; ++j) {
      hex[i + j] = k_digits[value & 0xf];
      value >>= 4;
    }
  }
  return hex;
}

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply error_reply(int status, const std::string& message) {
  return {status, Json{{"message", message}}.dump() + "\n"};
}

// What an events stream is sent next.
struct Outgoing {
  enum class Kind { chunk, raw, filler, close_clean, close_abrupt };
  Kind kind = Kind::chunk;
  std::string data;
  std::uint64_t filler_bytes = 0;
  bool terminate_line = false;
};

struct Connection {
  explicit Connection(Socket accepted)
      : socket(std::move(accepted)), timer(socket.get_executor()) {}

  Socket socket;
  asio::steady_timer timer;
  bool closed = false;

  void close() {
    closed = true;
    error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    timer.cancel();
  }
};

struct Subscriber {
  std::shared_ptr<Connection> connection;
  std::deque<Outgoing> queue;
  std::set<std::string> types; // empty: all
};

struct StoredEvent {
  std::int64_t time_nano = 0;
  std::string type;
  std::string line; // the JSON object, without newline
};

} // namespace

struct FakeEngine::Impl {
  explicit Impl(FakeEngineOptions engine_options)
      : options(std::move(engine_options)), api(options.api_version), acceptor(io),
        work(asio::make_work_guard(io)) {}

  // ---- members (the io_context first: it outlives every socket) ------------------------------
  asio::io_context io;
  FakeEngineOptions options;
  engine::ApiVersion api;
  std::string directory;
  bool own_directory = false;
  std::string socket_path;
  asio::local::stream_protocol::acceptor acceptor;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
  bool is_up = false;
  bool stopping = false;

  std::map<std::string, FakeImage> images;                         // by ID
  std::unordered_map<std::string, std::string> references;         // reference → ID
  std::unordered_map<std::string, std::set<std::string>> children; // ID → child IDs
  std::map<std::string, FakeContainer> containers;                 // by ID
  std::optional<std::string> image_list_cache;
  // Inspect and history bodies by path: a benchmark's cold start asks for every image's twice,
  // and building each from scratch made the fake, not the client, the slow side.
  std::unordered_map<std::string, std::string> image_body_cache;
  mutable std::optional<std::unordered_map<std::string, std::int64_t>> container_count_cache;

  FaultPlan faults;
  std::set<std::shared_ptr<Connection>> connections;
  std::set<std::shared_ptr<Subscriber>> subscribers;
  std::deque<StoredEvent> ring;
  std::int64_t last_event_nano = 0;
  FakeEngineStats stats;
  // emit_workload_events: its own random stream, and the IDs it picks from.
  std::mt19937_64 workload_random{20240501};
  std::vector<std::string> workload_images;
  std::vector<std::string> workload_containers;

  // ---- running things on the fake's thread ---------------------------------------------------

  template <class Function> auto call(Function function) {
    using Result = decltype(function());
    if (!thread.joinable() || std::this_thread::get_id() == thread.get_id()) {
      return function();
    }
    std::packaged_task<Result()> task(std::move(function));
    auto future = task.get_future();
    asio::post(io, [&task] { task(); });
    return future.get();
  }

  // ---- state ---------------------------------------------------------------------------------

  void changed() {
    image_list_cache.reset();
    if (!image_body_cache.empty()) {
      image_body_cache = {}; // not clear(), which would keep (and wipe) every bucket each time
    }
    container_count_cache.reset();
  }

  // An image's inspect or history answer, built once until the state changes. Keyed by ID: by
  // whichever name it is asked for, the answer is the same.
  const std::string& image_body(const std::string& id, bool history) {
    std::string key = id + (history ? "/history" : "/json");
    if (const auto cached = image_body_cache.find(key); cached != image_body_cache.end()) {
      return cached->second;
    }
    const FakeImage& image = images.at(id);
    std::string body = (history ? image_history(image) : image_details(image)).dump();
    return image_body_cache.emplace(std::move(key), std::move(body)).first->second;
  }

  std::string normalize_reference(const std::string& name) const {
    if (is_digest_reference(name)) {
      return name;
    }
    const auto colon = name.rfind(':');
    const auto slash = name.rfind('/');
    if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) {
      return name + ":latest";
    }
    return name;
  }

  // The image `name` names: an ID (full, bare hex or a hex prefix) or a reference. `by_id` says
  // which it was.
  std::optional<std::string> resolve(const std::string& name, bool& by_id) const {
    by_id = false;
    if (const auto it = references.find(normalize_reference(name)); it != references.end()) {
      return it->second;
    }
    std::string hex = name.starts_with("sha256:") ? name.substr(7) : name;
    // containerd store: an untagged image's record is named moby-dangling@<ID>, and naming it
    // deletes by ID (daemon/containerd/image_delete.go, explicitDanglingRef).
    if (constexpr std::string_view k_dangling = "moby-dangling@sha256:";
        options.containerd_store && name.starts_with(k_dangling)) {
      const auto it = images.find(name.substr(k_dangling.size() - 7));
      if (it == images.end() || !it->second.tags.empty()) {
        return std::nullopt;
      }
      by_id = true;
      return it->first;
    }
    if (hex.empty() || hex.size() > 64 ||
        hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return std::nullopt;
    }
    by_id = true;
    const std::string prefix = "sha256:" + hex;
    const auto it = images.lower_bound(prefix);
    if (it == images.end() || !it->first.starts_with(prefix)) {
      return std::nullopt;
    }
    if (const auto next = std::next(it);
        next != images.end() && next->first.starts_with(prefix) && hex.size() < 64) {
      return std::nullopt; // ambiguous
    }
    return it->first;
  }

  std::vector<std::string> references_of(const FakeImage& image) const {
    std::vector<std::string> all = image.tags;
    all.insert(all.end(), image.digests.begin(), image.digests.end());
    return all;
  }

  const FakeContainer* container_using(const std::string& id, std::optional<bool> running) const {
    for (const auto& [container_id, container] : containers) {
      if (container.image_id == id && (!running || container.running == *running)) {
        return &container;
      }
    }
    return nullptr;
  }

  std::int64_t now_seconds() const { return now_nano() / 1'000'000'000; }

  // An untag event's attributes. The fake keeps references in Docker's familiar form already.
  std::map<std::string, std::string> untag_attributes(const std::string& id,
                                                      const std::string& reference) const {
    // moby daemon/containerd/image_events.go logImageEvent: the target digest and the name.
    if (options.containerd_store) {
      return {{"name", reference}};
    }
    return {{"name", id}};
  }

  void insert_image(FakeImage image) {
    if (options.containerd_store && image.stored_at == 0) {
      image.stored_at = now_seconds();
    }
    if (!image.parent.empty()) {
      children[image.parent].insert(image.id);
    }
    for (const auto& reference : references_of(image)) {
      take_reference(reference);
      references[reference] = image.id;
    }
    images[image.id] = std::move(image);
    changed();
  }

  // Removes `reference` from whichever image holds it.
  bool take_reference(const std::string& reference) {
    const auto it = references.find(reference);
    if (it == references.end()) {
      return false;
    }
    if (auto image = images.find(it->second); image != images.end()) {
      auto& list = is_digest_reference(reference) ? image->second.digests : image->second.tags;
      list.erase(std::remove(list.begin(), list.end(), reference), list.end());
      // containerd store: the last name gone, a moby-dangling@ record is made now
      // (daemon/containerd/soft_delete.go ensureDanglingImage).
      if (options.containerd_store && image->second.tags.empty()) {
        image->second.stored_at = now_seconds();
      }
    }
    references.erase(it);
    changed();
    return true;
  }

  void erase_image(const std::string& id) {
    const auto it = images.find(id);
    if (it == images.end()) {
      return;
    }
    for (const auto& reference : references_of(it->second)) {
      references.erase(reference);
    }
    if (!it->second.parent.empty()) {
      if (auto siblings = children.find(it->second.parent); siblings != children.end()) {
        siblings->second.erase(id);
        if (siblings->second.empty()) {
          children.erase(siblings);
        }
      }
    }
    images.erase(it);
    changed();
  }

  bool has_children(const std::string& id) const {
    const auto it = children.find(id);
    return it != children.end() && !it->second.empty();
  }

  // moby's isSingleReference: one tag at most, and every reference in one repository.
  static bool single_reference(const std::vector<std::string>& references) {
    if (references.size() <= 1) {
      return references.size() == 1;
    }
    std::optional<std::string> single;
    std::set<std::string> canonical_repositories;
    for (const auto& reference : references) {
      if (is_digest_reference(reference)) {
        canonical_repositories.insert(repository_of(reference));
      } else if (!single) {
        single = reference;
      } else {
        return false;
      }
    }
    const std::string repository = repository_of(single ? *single : references.front());
    return canonical_repositories.size() == 1 && canonical_repositories.count(repository) == 1;
  }

  // moby's checkImageDeleteConflict; the message when there is one.
  std::optional<std::string> conflict(const std::string& id, bool active_reference) const {
    const auto& image = images.at(id);
    if (const auto* running = container_using(id, true)) {
      return "conflict: unable to delete " + short_id(id) +
             " (cannot be forced) - image is being used by running container " +
             short_id(running->id);
    }
    if (has_children(id)) {
      return "conflict: unable to delete " + short_id(id) +
             " (cannot be forced) - image has dependent child images";
    }
    if (const auto* stopped = container_using(id, false)) {
      return "conflict: unable to delete " + short_id(id) +
             " (must be forced) - image is being used by stopped container " +
             short_id(stopped->id);
    }
    if (active_reference && !references_of(image).empty()) {
      return "conflict: unable to delete " + short_id(id) +
             " (must be forced) - image is referenced in multiple repositories";
    }
    return std::nullopt;
  }

  // moby's imageDeleteHelper: deletes `id` and, with prune, the parents it leaves unreferenced.
  // A conflict on a parent (`quiet`) just ends the pruning.
  std::optional<std::string> delete_helper(const std::string& id, FakeDeleteResult& result,
                                           bool prune, bool quiet) {
    if (auto message = conflict(id, true)) {
      return quiet ? std::nullopt : message;
    }
    const std::string parent = images.at(id).parent;
    erase_image(id);
    result.deleted.push_back(id);
    emit("image", "delete", id, {{"name", id}});
    if (prune && !parent.empty() && images.contains(parent)) {
      delete_helper(parent, result, prune, true);
    }
    return std::nullopt;
  }

  // moby daemon/containerd/image_delete.go ImageDelete, without force: a reference among others
  // is only untagged; the last one, or a delete by ID, deletes the image unless a container uses
  // it (by ID: unless it has several names). No check for child images: an untagged parent goes
  // with the child, whatever other children it has, and a tagged image with children leaves a
  // moby-dangling@ record behind (and still answers Deleted).
  FakeDeleteResult remove_image_containerd(const std::string& name, bool prune) {
    FakeDeleteResult result;
    bool by_id = false;
    const auto resolved = resolve(name, by_id);
    if (!resolved) {
      return {404, {}, {}, "No such image: " + name};
    }
    const std::string& id = *resolved;
    const std::size_t records = std::max<std::size_t>(images.at(id).tags.size(), 1);
    if (!by_id) {
      const std::string reference = normalize_reference(name);
      if (records > 1) {
        take_reference(reference);
        result.untagged.push_back(reference);
        emit("image", "untag", id, untag_attributes(id, reference));
        return result;
      }
      if (const auto* user = container_using(id, std::nullopt)) {
        return {409,
                {},
                {},
                "conflict: unable to delete " + reference + " (must be forced) - container " +
                    short_id(user->id) + " is using its referenced image " + short_id(id)};
      }
    }
    if (const auto* running = container_using(id, true)) {
      return {409,
              {},
              {},
              "conflict: unable to delete " + short_id(id) +
                  " (cannot be forced) - image is being used by running container " +
                  short_id(running->id)};
    }
    if (const auto* stopped = container_using(id, false)) {
      return {409,
              {},
              {},
              "conflict: unable to delete " + short_id(id) +
                  " (must be forced) - image is being used by stopped container " +
                  short_id(stopped->id)};
    }
    if (records > 1) {
      return {409,
              {},
              {},
              "conflict: unable to delete " + short_id(id) +
                  " (must be forced) - image is referenced in multiple repositories"};
    }
    std::vector<std::string> parents;
    for (std::string parent = images.at(id).parent; prune && !parent.empty();) {
      const auto it = images.find(parent);
      if (it == images.end()) {
        break;
      }
      parents.push_back(parent);
      parent = it->second.parent;
    }
    const bool had_name = !images.at(id).tags.empty();
    for (const auto& reference : std::vector<std::string>(images.at(id).tags)) {
      take_reference(reference);
      result.untagged.push_back(reference);
      emit("image", "untag", id, untag_attributes(id, reference));
    }
    if (!(had_name && has_children(id))) {
      erase_image(id);
    }
    result.deleted.push_back(id);
    emit("image", "delete", id, {{"name", id}});
    for (const auto& parent : parents) {
      if (!images.at(parent).tags.empty() || container_using(parent, std::nullopt) != nullptr) {
        break;
      }
      erase_image(parent);
      result.deleted.push_back(parent);
      emit("image", "delete", parent, {{"name", parent}});
    }
    return result;
  }

  // Points `reference` at `image`, taking it from any other image without an untag.
  void tag_image(FakeImage& image, const std::string& reference) {
    const std::string normalized = normalize_reference(reference);
    take_reference(normalized);
    image.tags.push_back(normalized);
    references[normalized] = image.id;
    if (options.containerd_store) {
      image.stored_at = now_seconds(); // a new record: daemon/containerd/image_tag.go
    }
    changed();
    emit("image", "tag", image.id, {{"name", normalized}});
  }

  FakeDeleteResult remove_image(const std::string& name, bool prune) {
    if (options.containerd_store) {
      return remove_image_containerd(name, prune);
    }
    FakeDeleteResult result;
    bool by_id = false;
    const auto resolved = resolve(name, by_id);
    if (!resolved) {
      return {404, {}, {}, "No such image: " + name};
    }
    const std::string& id = *resolved;
    auto held = references_of(images.at(id));
    if (!by_id) {
      const std::string reference = normalize_reference(name);
      if (single_reference(held)) {
        if (const auto* user = container_using(id, std::nullopt)) {
          return {409,
                  {},
                  {},
                  "conflict: unable to remove repository reference \"" + name +
                      "\" (must force) - container " + short_id(user->id) +
                      " is using its referenced image " + short_id(id)};
        }
      }
      take_reference(reference);
      result.untagged.push_back(reference);
      emit("image", "untag", id, {{"name", id}});
      // Digest references of a repository go with its last tag.
      if (!is_digest_reference(reference)) {
        const std::string repository = repository_of(reference);
        const auto& tags = images.at(id).tags;
        const bool repository_tagged = std::any_of(tags.begin(), tags.end(), [&](const auto& tag) {
          return repository_of(tag) == repository;
        });
        if (!repository_tagged) {
          for (const auto& digest : std::vector<std::string>(images.at(id).digests)) {
            if (repository_of(digest) == repository) {
              take_reference(digest);
              result.untagged.push_back(digest);
            }
          }
        }
      }
      if (!references_of(images.at(id)).empty()) {
        return result;
      }
    } else if (single_reference(held)) {
      if (auto message = conflict(id, false)) {
        return {409, {}, {}, *message};
      }
      for (const auto& reference : held) {
        take_reference(reference);
        result.untagged.push_back(reference);
        emit("image", "untag", id, {{"name", id}});
      }
    }
    if (auto message = delete_helper(id, result, prune, false)) {
      result.status = 409;
      result.message = *message;
    }
    return result;
  }

  // ---- events --------------------------------------------------------------------------------

  void emit(const std::string& type, const std::string& action, const std::string& actor,
            std::map<std::string, std::string> attributes) {
    std::int64_t time = std::max(now_nano(), last_event_nano + 1);
    last_event_nano = time;
    Json event = {{"Type", type},
                  {"Action", action},
                  {"Actor", {{"ID", actor}, {"Attributes", attributes}}},
                  {"scope", "local"},
                  {"time", time / 1'000'000'000},
                  {"timeNano", time}};
    if (api < engine::ApiVersion{1, 52}) {
      event["status"] = action;
      event["id"] = actor;
      if (const auto from = attributes.find("image"); from != attributes.end()) {
        event["from"] = from->second;
      }
    }
    StoredEvent stored{time, type, event.dump()};
    for (const auto& subscriber : subscribers) {
      if (subscriber->types.empty() || subscriber->types.contains(type)) {
        push(*subscriber, {Outgoing::Kind::chunk, stored.line + "\n"});
      }
    }
    ++stats.events_emitted;
    ring.push_back(std::move(stored));
    while (ring.size() > options.event_ring_size) {
      ring.pop_front();
    }
  }

  static void push(Subscriber& subscriber, Outgoing outgoing) {
    subscriber.queue.push_back(std::move(outgoing));
    subscriber.connection->timer.cancel();
  }

  void to_every_stream(const Outgoing& outgoing) {
    for (const auto& subscriber : subscribers) {
      push(*subscriber, outgoing);
    }
  }

  std::string next_event_line() const {
    const std::int64_t time = std::max(now_nano(), last_event_nano + 1);
    return Json{
        {"Type", "image"},
        {"Action", "tag"},
        {"Actor", {{"ID", "sha256:" + std::string(64, 'f')}, {"Attributes", Json::object()}}},
        {"time", time / 1'000'000'000},
        {"timeNano", time}}
        .dump();
  }

  // ---- bodies --------------------------------------------------------------------------------

  std::int64_t image_size(const FakeImage& image) const {
    std::int64_t size = 0;
    for (const auto& layer : image.layers) {
      size += layer.size;
    }
    return size;
  }

  // containerd store: repo@<ID> for each repository the image has a name in (moby
  // daemon/containerd/image_inspect.go collectRepoTagsAndDigests).
  std::vector<std::string> containerd_digests(const FakeImage& image) const {
    std::set<std::string> digests;
    for (const auto& tag : image.tags) {
      digests.insert(repository_of(tag) + "@" + image.id);
    }
    return {digests.begin(), digests.end()};
  }

  // containerd store: the index an image record points at (API 1.48+ Descriptor).
  static Json index_descriptor(const FakeImage& image) {
    return {{"mediaType", "application/vnd.oci.image.index.v1+json"},
            {"digest", image.id},
            {"size", 856}};
  }

  // One element of GET /images/json on the containerd store (daemon/containerd/image_list.go,
  // imageSummary): Size sums every platform's content and unpacked snapshots, Containers is
  // counted, ParentId is the record's parent label, Labels is {} rather than null.
  Json containerd_image_summary(const FakeImage& image) const {
    const std::int64_t size = image_size(image) + image.packed_bytes + image.other_platforms_bytes;
    Json tags = image.tags;
    if (api < engine::ApiVersion{1, 43} && image.tags.empty()) {
      tags = Json::array({"<none>:<none>"});
    }
    const auto users = container_counts().find(image.id);
    Json summary = {{"Id", image.id},
                    {"ParentId", image.parent},
                    {"RepoTags", tags},
                    {"RepoDigests", containerd_digests(image)},
                    {"Created", image.created},
                    {"Size", size},
                    {"SharedSize", -1},
                    {"Labels", image.labels},
                    {"Containers", users == container_counts().end() ? 0 : users->second}};
    if (api < engine::ApiVersion{1, 44}) {
      summary["VirtualSize"] = size;
    }
    if (api >= engine::ApiVersion{1, 48}) {
      summary["Descriptor"] = index_descriptor(image);
    }
    return summary;
  }

  Json image_summary(const FakeImage& image) const {
    if (options.containerd_store) {
      return containerd_image_summary(image);
    }
    const std::int64_t size = image_size(image);
    Json tags = image.tags;
    Json digests = image.digests;
    if (api < engine::ApiVersion{1, 43}) {
      if (image.tags.empty()) {
        tags = Json::array({"<none>:<none>"});
      }
      if (image.digests.empty() && image.tags.empty()) {
        digests = Json::array({"<none>@<none>"});
      }
    }
    Json summary = {{"Id", image.id},
                    {"ParentId", image.parent},
                    {"RepoTags", tags},
                    {"RepoDigests", digests},
                    {"Created", image.created},
                    {"Size", size},
                    {"SharedSize", -1},
                    {"Labels", image.labels.empty() ? Json(nullptr) : Json(image.labels)},
                    {"Containers", -1}};
    if (api < engine::ApiVersion{1, 44}) {
      summary["VirtualSize"] = size;
    }
    if (api >= engine::ApiVersion{1, 51}) {
      const auto users = container_counts().find(image.id);
      summary["Containers"] = users == container_counts().end() ? 0 : users->second;
    }
    return summary;
  }

  // Containers per image ID, kept until the next change (a listing asks once per image).
  const std::unordered_map<std::string, std::int64_t>& container_counts() const {
    if (!container_count_cache) {
      container_count_cache.emplace();
      for (const auto& [id, container] : containers) {
        ++(*container_count_cache)[container.image_id];
      }
    }
    return *container_count_cache;
  }

  const std::string& image_list() {
    if (!image_list_cache) {
      std::string body = "[";
      for (const auto& [id, image] : images) {
        Json summary = image_summary(image);
        std::vector<Json> entries;
        if (options.list_per_tag && image.tags.size() > 1) {
          for (const std::string& tag : image.tags) {
            summary["RepoTags"] = Json::array({tag});
            entries.push_back(summary);
          }
        } else {
          entries.push_back(std::move(summary));
        }
        for (const Json& entry : entries) {
          if (body.size() > 1) {
            body += ',';
          }
          body += entry.dump();
        }
      }
      body += "]\n";
      image_list_cache = std::move(body);
    }
    return *image_list_cache;
  }

  Json image_details(const FakeImage& image) const {
    Json layers = Json::array();
    for (const auto& layer : image.layers) {
      layers.push_back(layer.diff_id);
    }
    const auto size = image_size(image);
    Json details = {
        {"Id", image.id},
        {"RepoTags", image.tags},
        {"RepoDigests", image.digests},
        {"Comment", ""},
        {"Created", rfc3339(image.created)},
        {"Container", ""},
        {"Config",
         {{"Cmd", {"sh"}}, {"Labels", image.labels.empty() ? Json(nullptr) : Json(image.labels)}}},
        {"Architecture", "amd64"},
        {"Os", "linux"},
        {"Size", size},
        {"GraphDriver", {{"Name", "overlay2"}, {"Data", Json::object()}}},
        {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
        {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
    if (api < engine::ApiVersion{1, 52}) {
      details["Parent"] = image.parent;
    }
    if (api < engine::ApiVersion{1, 44}) {
      details["VirtualSize"] = size;
    }
    if (options.containerd_store) {
      // daemon/containerd/image_inspect.go: Size is the host platform's packed content,
      // LastTagTime the latest UpdatedAt of the image's records, GraphDriver the snapshotter.
      details["RepoDigests"] = containerd_digests(image);
      details["Size"] = image.packed_bytes;
      details["GraphDriver"] = {{"Name", "overlayfs"}, {"Data", nullptr}};
      details["Metadata"] = {{"LastTagTime", rfc3339(image.stored_at)}};
      if (api >= engine::ApiVersion{1, 44}) {
        details.erase("VirtualSize");
      } else {
        details["VirtualSize"] = image.packed_bytes;
      }
      if (api >= engine::ApiVersion{1, 48}) {
        details["Descriptor"] = index_descriptor(image);
      }
    }
    return details;
  }

  // One step per layer with its size, newest first, and a metadata step (CMD, size 0) on top;
  // each step carries the ID of the image it made when that image is here.
  Json image_history(const FakeImage& image) const {
    std::vector<std::string> owner(image.layers.size(), "<missing>");
    for (const FakeImage* step = &image; step != nullptr;) {
      if (!step->layers.empty() && step != &image) {
        owner[step->layers.size() - 1] = step->id;
      }
      const auto parent = step->parent.empty() ? images.end() : images.find(step->parent);
      step = parent == images.end() ? nullptr : &parent->second;
    }
    Json history = Json::array();
    history.push_back({{"Id", image.id},
                       {"Created", image.created},
                       {"CreatedBy", "/bin/sh -c #(nop)  CMD [\"sh\"]"},
                       {"Tags", image.tags},
                       {"Size", 0},
                       {"Comment", ""}});
    for (std::size_t i = image.layers.size(); i-- > 0;) {
      history.push_back(
          {{"Id", owner[i]},
           {"Created", image.created},
           {"CreatedBy", "/bin/sh -c head -c " + std::to_string(image.layers[i].size) +
                             " /dev/urandom > /layer" + std::to_string(i)},
           {"Tags", nullptr},
           {"Size", image.layers[i].size},
           {"Comment", ""}});
    }
    return history;
  }

  Json container_summary(const FakeContainer& container) const {
    return {{"Id", container.id},
            {"Names", {"/" + container.name}},
            {"Image", container.image.empty() ? container.image_id : container.image},
            {"ImageID", container.image_id},
            {"Command", "sh"},
            {"Created", container.created},
            {"State", container.running ? "running" : "exited"},
            {"Status", container.running ? "Up 1 second" : "Exited (0) 1 second ago"},
            {"Labels", Json::object()}};
  }

  Json container_details(const FakeContainer& container) const {
    return {
        {"Id", container.id},
        {"Created", rfc3339(container.created)},
        {"Image", container.image_id},
        {"Name", "/" + container.name},
        {"State",
         {{"Status", container.running ? "running" : "exited"},
          {"Running", container.running},
          {"StartedAt", rfc3339(container.created)},
          {"FinishedAt", container.running ? "0001-01-01T00:00:00Z" : rfc3339(container.created)}}},
        {"Config", {{"Image", container.image.empty() ? container.image_id : container.image}}}};
  }

  // Distinct layer chains: a chain is identified by its whole diff-ID prefix.
  std::int64_t layers_size() const {
    std::unordered_set<std::uint64_t> seen;
    std::int64_t total = 0;
    for (const auto& [id, image] : images) {
      std::uint64_t chain = 0xcbf29ce484222325ULL;
      for (const auto& layer : image.layers) {
        chain =
            (chain ^ std::hash<std::string>{}(layer.diff_id)) * 0x100000001b3ULL + (chain >> 29);
        if (seen.insert(chain).second) {
          total += layer.size;
        }
      }
    }
    return total;
  }

  Reply handle(http::verb method, const Target& target) {
    const std::string& path = target.path;
    if (target.version && *target.version > api) {
      return error_reply(400, "client version " + target.version->to_string() +
                                  " is too new. Maximum supported API version is " +
                                  api.to_string());
    }
    if (method == http::verb::get || method == http::verb::head) {
      if (path == "/_ping") {
        return {200, "OK", "text/plain; charset=utf-8"};
      }
      if (path == "/version") {
        return {200,
                Json{{"Version", options.server_version},
                     {"ApiVersion", api.to_string()},
                     {"MinAPIVersion", "1.12"},
                     {"Os", "linux"},
                     {"Arch", "amd64"},
                     {"Components",
                      Json::array({{{"Name", "Engine"}, {"Version", options.server_version}}})}}
                    .dump()};
      }
      if (path == "/info") {
        // The containerd store's DriverStatus: daemon/containerd/service.go LayerStoreStatus.
        const Json driver_status =
            options.containerd_store
                ? Json::array({Json::array({"driver-type", "io.containerd.snapshotter.v1"})})
                : Json::array({Json::array({"Backing Filesystem", "extfs"})});
        return {200, Json{{"ServerVersion", options.server_version},
                          {"Driver", options.containerd_store ? "overlayfs" : "overlay2"},
                          {"DockerRootDir", directory},
                          {"DriverStatus", driver_status},
                          {"Images", images.size()},
                          {"Containers", containers.size()}}
                         .dump()};
      }
      if (path == "/images/json") {
        bool dangling_only = false;
        if (const auto filters = target.query.find("filters"); filters != target.query.end()) {
          const Json parsed = Json::parse(filters->second, nullptr, false);
          if (parsed.is_object() && parsed.contains("dangling")) {
            const std::string text = parsed["dangling"].dump();
            dangling_only = text.find("true") != std::string::npos;
          }
        }
        if (!truthy(target.query, "all") || dangling_only) {
          // Without all=1: no intermediate images. dangling=true: no tag and no child.
          std::string body = "[";
          for (const auto& [id, image] : images) {
            if ((image.tags.empty() && has_children(id)) ||
                (dangling_only && (!image.tags.empty() || has_children(id)))) {
              continue;
            }
            body += (body.size() > 1 ? "," : "") + image_summary(image).dump();
          }
          return {200, body + "]\n"};
        }
        return {200, image_list()};
      }
      if (path == "/containers/json") {
        Json list = Json::array();
        for (const auto& [id, container] : containers) {
          if (container.running || truthy(target.query, "all")) {
            list.push_back(container_summary(container));
          }
        }
        return {200, list.dump()};
      }
      if (path == "/system/df" && query_value(target.query, "type") == "build-cache") {
        // API 1.42+: only what was asked for is computed; the rest is null.
        return {200, Json{{"LayersSize", 0},
                          {"Images", nullptr},
                          {"Containers", nullptr},
                          {"Volumes", nullptr},
                          {"BuildCache", Json::array()}}
                         .dump()};
      }
      if (path == "/system/df") {
        Json list = Json::array();
        for (const auto& [id, image] : images) {
          Json summary = image_summary(image);
          summary["SharedSize"] = -1;
          list.push_back(std::move(summary));
        }
        return {200, Json{{"LayersSize", layers_size()},
                          {"Images", list},
                          {"Containers", Json::array()},
                          {"Volumes", Json::array()},
                          {"BuildCache", Json::array()}}
                         .dump()};
      }
      if (path.starts_with("/images/") && (path.ends_with("/json") || path.ends_with("/history"))) {
        const bool history = path.ends_with("/history");
        const std::string name = path.substr(8, path.size() - 8 -
                                                    (history ? std::string_view("/history").size()
                                                             : std::string_view("/json").size()));
        // A full ID whose answer is built already: a benchmark's cold start asks for 100k of them.
        if (const auto cached = image_body_cache.find(name + (history ? "/history" : "/json"));
            cached != image_body_cache.end()) {
          return {200, cached->second};
        }
        bool by_id = false;
        const auto id = resolve(name, by_id);
        if (!id) {
          return error_reply(404, "No such image: " + name);
        }
        return {200, image_body(*id, history)};
      }
      if (path.starts_with("/containers/") && path.ends_with("/json")) {
        const std::string id = path.substr(12, path.size() - 12 - 5);
        auto it = containers.find(id);
        if (it == containers.end()) {
          it = std::find_if(containers.begin(), containers.end(), [&](const auto& entry) {
            return entry.second.name == id || (id.size() >= 4 && entry.first.starts_with(id));
          });
        }
        if (it == containers.end()) {
          return error_reply(404, "No such container: " + id);
        }
        return {200, container_details(it->second).dump()};
      }
    }
    if (method == http::verb::delete_ && path.starts_with("/images/")) {
      const auto result = remove_image(path.substr(8), !truthy(target.query, "noprune"));
      if (result.status != 200) {
        return error_reply(result.status, result.message);
      }
      Json items = Json::array();
      for (const auto& reference : result.untagged) {
        items.push_back({{"Untagged", reference}});
      }
      for (const auto& id : result.deleted) {
        items.push_back({{"Deleted", id}});
      }
      return {200, items.dump()};
    }
    if (method == http::verb::post && path.starts_with("/images/") && path.ends_with("/tag")) {
      bool by_id = false;
      const auto id = resolve(path.substr(8, path.size() - 8 - 4), by_id);
      const auto repository = query_value(target.query, "repo");
      if (!id || repository.empty()) {
        return error_reply(id ? 400 : 404, "No such image or no repo");
      }
      const auto tag = query_value(target.query, "tag");
      tag_image(images.at(*id), repository + ":" + (tag.empty() ? "latest" : tag));
      return {201, ""};
    }
    if (method == http::verb::post && path == "/build/prune") {
      return {200, Json{{"CachesDeleted", Json::array()}, {"SpaceReclaimed", 0}}.dump()};
    }
    return error_reply(404, "page not found");
  }

  // ---- the server ----------------------------------------------------------------------------

  std::string head(int status, std::string_view reason, const std::string& content_type,
                   std::optional<std::uint64_t> length, bool keep_alive) const {
    std::string text = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    text += "Api-Version: " + api.to_string() + "\r\n";
    text += "Docker-Experimental: false\r\nOstype: linux\r\n";
    text += "Server: Docker/" + options.server_version + " (linux)\r\n";
    text += "Content-Type: " + content_type + "\r\n";
    if (length) {
      text += "Content-Length: " + std::to_string(*length) + "\r\n";
    } else {
      text += "Transfer-Encoding: chunked\r\n";
    }
    if (!keep_alive) {
      text += "Connection: close\r\n";
    }
    return text + "\r\n";
  }

  RequestFault* match_fault(http::verb method, const std::string& path) {
    for (auto& fault : faults.requests) {
      if (fault.times == 0) {
        continue;
      }
      if (!fault.method.empty() && http::string_to_verb(fault.method) != method) {
        continue;
      }
      if (path.find(fault.path_contains) == std::string::npos) {
        continue;
      }
      if (fault.times > 0) {
        --fault.times;
      }
      return &fault;
    }
    return nullptr;
  }

  asio::awaitable<bool> wait(Connection& connection, std::chrono::milliseconds delay) const {
    error_code ec;
    connection.timer.expires_after(delay);
    co_await connection.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return !connection.closed && !stopping;
  }

  asio::awaitable<bool> write(Connection& connection, std::string_view data) {
    error_code ec;
    co_await asio::async_write(connection.socket, asio::buffer(data.data(), data.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && !connection.closed;
  }

  asio::awaitable<void> session(std::shared_ptr<Connection> connection) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      error_code ec;
      co_await http::async_read(connection->socket, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec || connection->closed) {
        break;
      }
      const auto request = parser.release();
      const Target target = parse_target(request.target());
      ++stats.requests;
      ++stats.requests_by_path[std::string(request.method_string()) + " " + target.path];
      const RequestFault* fault = match_fault(request.method(), target.path);
      const RequestFault spoiled = fault ? *fault : RequestFault{};
      if (spoiled.stall.count() > 0 && !co_await wait(*connection, spoiled.stall)) {
        break;
      }
      if (spoiled.close_without_answer) {
        break;
      }
      if (target.path == "/events" && request.method() == http::verb::get && spoiled.status == 0) {
        co_await serve_events(connection, target);
        break;
      }
      const bool keep_alive = request.keep_alive();
      if (spoiled.oversized_body_bytes > 0) {
        if (!co_await write(*connection, head(200, "OK", "application/json",
                                              spoiled.oversized_body_bytes, keep_alive)) ||
            !co_await write(*connection, "[")) {
          break;
        }
        std::uint64_t left = spoiled.oversized_body_bytes - 1;
        while (left > 0) {
          const auto piece = std::min<std::uint64_t>(left, k_filler_block);
          if (!co_await write(*connection, std::string_view(filler_block()).substr(0, piece))) {
            break;
          }
          left -= piece;
        }
        break;
      }
      Reply reply = spoiled.status != 0
                        ? error_reply(spoiled.status,
                                      spoiled.message.empty()
                                          ? "injected fault: HTTP " + std::to_string(spoiled.status)
                                          : spoiled.message)
                        : handle(request.method(), target);
      const std::string reason =
          std::string(http::obsolete_reason(static_cast<http::status>(reply.status)));
      std::string raw = head(reply.status, reason, reply.content_type,
                             request.method() == http::verb::head
                                 ? std::optional<std::uint64_t>{0}
                                 : std::optional<std::uint64_t>{reply.body.size()},
                             keep_alive);
      if (request.method() != http::verb::head) {
        raw += reply.body;
      }
      bool ok = true;
      if (spoiled.trickle.count() > 0) {
        for (std::size_t i = 0; ok && i < raw.size(); ++i) {
          ok = co_await write(*connection, std::string_view(raw).substr(i, 1)) &&
               co_await wait(*connection, spoiled.trickle);
        }
      } else {
        ok = co_await write(*connection, raw);
      }
      if (!ok || !keep_alive) {
        break;
      }
    }
    connection->close();
    connections.erase(connection);
  }

  asio::awaitable<void> serve_events(std::shared_ptr<Connection> connection, const Target& target) {
    auto subscriber = std::make_shared<Subscriber>();
    subscriber->connection = connection;
    if (const auto filters = target.query.find("filters"); filters != target.query.end()) {
      const Json parsed = Json::parse(filters->second, nullptr, false);
      if (parsed.is_object() && parsed.contains("type")) {
        const Json& types = parsed["type"];
        if (types.is_array()) {
          for (const auto& type : types) {
            if (type.is_string()) {
              subscriber->types.insert(type.get<std::string>());
            }
          }
        } else if (types.is_object()) {
          for (const auto& [type, enabled] : types.items()) {
            subscriber->types.insert(type);
          }
        }
      }
    }
    const std::string content_type =
        api >= engine::ApiVersion{1, 52} ? "application/jsonl" : "application/json";
    if (!co_await write(*connection, head(200, "OK", content_type, std::nullopt, true))) {
      co_return;
    }
    ++stats.subscriptions;
    if (const auto since = target.query.find("since"); since != target.query.end()) {
      if (const auto from = parse_since(since->second)) {
        for (const auto& event : ring) {
          if (event.time_nano >= *from &&
              (subscriber->types.empty() || subscriber->types.contains(event.type))) {
            subscriber->queue.push_back({Outgoing::Kind::chunk, event.line + "\n"});
          }
        }
      }
    }
    subscribers.insert(subscriber);
    // The client says nothing more; reading tells when it hangs up.
    asio::co_spawn(
        io,
        [connection]() -> asio::awaitable<void> {
          std::array<char, 256> sink{};
          error_code ec;
          while (!ec && !connection->closed) {
            co_await connection->socket.async_read_some(
                asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
          }
          connection->close();
        },
        asio::detached);
    bool open = true;
    while (open && !connection->closed && !stopping) {
      if (subscriber->queue.empty()) {
        error_code ec;
        connection->timer.expires_at(asio::steady_timer::time_point::max());
        co_await connection->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      Outgoing next = std::move(subscriber->queue.front());
      subscriber->queue.pop_front();
      switch (next.kind) {
      case Outgoing::Kind::chunk: {
        std::array<char, 24> size{};
        std::snprintf(size.data(), size.size(), "%zx\r\n", next.data.size());
        open = co_await write(*connection, std::string(size.data()) + next.data + "\r\n");
        break;
      }
      case Outgoing::Kind::raw:
        open = co_await write(*connection, next.data);
        break;
      case Outgoing::Kind::filler: {
        std::uint64_t left = next.filler_bytes;
        while (open && left > 0) {
          const auto piece = std::min<std::uint64_t>(left, k_filler_block);
          std::array<char, 24> size{};
          std::snprintf(size.data(), size.size(), "%zx\r\n", static_cast<std::size_t>(piece));
          open = co_await write(*connection, size.data()) &&
                 co_await write(*connection, std::string_view(filler_block()).substr(0, piece)) &&
                 co_await write(*connection, "\r\n");
          left -= piece;
        }
        if (open && next.terminate_line) {
          open = co_await write(*connection, "1\r\n\n\r\n");
        }
        break;
      }
      case Outgoing::Kind::close_clean:
        co_await write(*connection, "0\r\n\r\n");
        open = false;
        break;
      case Outgoing::Kind::close_abrupt:
        open = false;
        break;
      }
    }
    subscribers.erase(subscriber);
  }

  asio::awaitable<void> accept_loop() {
    while (is_up && !stopping) {
      error_code ec;
      Socket socket(io);
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open() || stopping) {
          break;
        }
        continue;
      }
      auto connection = std::make_shared<Connection>(std::move(socket));
      connections.insert(connection);
      ++stats.connections_accepted;
      asio::co_spawn(io, session(connection), asio::detached);
    }
  }

  void listen() {
    std::error_code ignored;
    std::filesystem::remove(socket_path, ignored);
    acceptor.open(asio::local::stream_protocol());
    acceptor.bind(asio::local::stream_protocol::endpoint(socket_path));
    acceptor.listen();
    is_up = true;
    asio::co_spawn(io, accept_loop(), asio::detached);
  }

  void drop_everything() {
    is_up = false;
    error_code ignored;
    acceptor.close(ignored);
    std::error_code removed;
    std::filesystem::remove(socket_path, removed);
    for (const auto& connection : std::set<std::shared_ptr<Connection>>(connections)) {
      connection->close();
    }
  }
};

FakeEngine::FakeEngine(FakeEngineOptions options)
    : m_impl(std::make_unique<Impl>(std::move(options))) {
  Impl& impl = *m_impl;
  if (impl.options.directory.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "fake-engine-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot make a directory for the fake engine's socket");
    }
    impl.directory = pattern;
    impl.own_directory = true;
  } else {
    impl.directory = impl.options.directory;
  }
  impl.socket_path = impl.directory + "/docker.sock";
  impl.listen();
  impl.thread = std::thread([&impl] { impl.io.run(); });
}

// NOLINTNEXTLINE(bugprone-exception-escape): a fake that cannot stop ends the test program.
FakeEngine::~FakeEngine() {
  Impl& impl = *m_impl;
  impl.call([&impl] {
    impl.stopping = true;
    impl.drop_everything();
    impl.work.reset();
  });
  // Everything was closed or cancelled: the coroutines end and run() returns.
  impl.thread.join();
  if (impl.own_directory) {
    std::error_code ignored;
    std::filesystem::remove_all(impl.directory, ignored);
  }
}

engine::Endpoint FakeEngine::endpoint() const {
  engine::Endpoint endpoint;
  endpoint.kind = engine::Endpoint::Kind::unix_socket;
  endpoint.socket_path = m_impl->socket_path;
  return endpoint;
}

std::string FakeEngine::socket_path() const {
  return m_impl->socket_path;
}

std::string FakeEngine::url() const {
  return "unix://" + m_impl->socket_path;
}

std::string FakeEngine::directory() const {
  return m_impl->directory;
}

void FakeEngine::add_image(FakeImage image, bool announce) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    const std::string id = image.id;
    const auto tags = image.tags;
    impl.insert_image(std::move(image));
    if (announce) {
      impl.emit("image", impl.api >= engine::ApiVersion{1, 46} ? "create" : "load", id,
                {{"name", id}});
      for (const auto& tag : tags) {
        impl.emit("image", "tag", id, {{"name", tag}});
      }
    }
  });
}

void FakeEngine::tag(const std::string& image_id, const std::string& reference) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    auto it = impl.images.find(image_id);
    if (it == impl.images.end()) {
      throw std::invalid_argument("no image " + image_id);
    }
    impl.tag_image(it->second, reference);
  });
}

void FakeEngine::untag(const std::string& reference) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    const std::string normalized = impl.normalize_reference(reference);
    const auto it = impl.references.find(normalized);
    if (it == impl.references.end()) {
      throw std::invalid_argument("no reference " + reference);
    }
    const std::string id = it->second;
    impl.take_reference(normalized);
    impl.emit("image", "untag", id, impl.untag_attributes(id, normalized));
  });
}

FakeDeleteResult FakeEngine::remove_image(const std::string& name, bool prune_parents) {
  return m_impl->call([&] { return m_impl->remove_image(name, prune_parents); });
}

void FakeEngine::add_container(FakeContainer container) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    if (container.name.empty()) {
      container.name = "c" + container.id.substr(0, 8);
    }
    const std::string id = container.id;
    const std::string image = container.image.empty() ? container.image_id : container.image;
    const std::string name = container.name;
    const bool running = container.running;
    impl.containers[id] = std::move(container);
    impl.changed();
    impl.emit("container", "create", id, {{"image", image}, {"name", name}});
    if (running) {
      impl.emit("container", "start", id, {{"image", image}, {"name", name}});
    }
  });
}

void FakeEngine::set_container_running(const std::string& id, bool running) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    auto& container = impl.containers.at(id);
    container.running = running;
    impl.changed();
    impl.emit("container", running ? "start" : "die", id,
              {{"image", container.image.empty() ? container.image_id : container.image},
               {"name", container.name}});
  });
}

void FakeEngine::remove_container(const std::string& id) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    const auto it = impl.containers.find(id);
    if (it == impl.containers.end()) {
      return;
    }
    const std::string image = it->second.image.empty() ? it->second.image_id : it->second.image;
    const std::string name = it->second.name;
    impl.containers.erase(it);
    impl.changed();
    impl.emit("container", "destroy", id, {{"image", image}, {"name", name}});
  });
}

void FakeEngine::prepare_image_answers() {
  m_impl->call([&] {
    for (const auto& [id, image] : m_impl->images) {
      static_cast<void>(m_impl->image_body(id, false));
      static_cast<void>(m_impl->image_body(id, true));
    }
  });
}

std::vector<std::string> FakeEngine::add_synthetic_images(std::size_t count, std::uint64_t seed) {
  return m_impl->call([&] {
    Impl& impl = *m_impl;
    std::mt19937_64 random(seed);
    const auto uniform = [&](std::int64_t low, std::int64_t high) {
      return std::uniform_int_distribution<std::int64_t>(low, high)(random);
    };
    const auto layer = [&] {
      // Mostly small layers, some large: 1 KiB to ~64 MiB, log-uniform.
      const double exponent = std::uniform_real_distribution<double>(10.0, 26.0)(random);
      return FakeLayer{"sha256:" + random_hex(random),
                       static_cast<std::int64_t>(std::pow(2.0, exponent))};
    };
    // Shared bases: a few distributions' layer stacks of 1-4 layers, each in two versions.
    std::vector<std::vector<FakeLayer>> bases;
    const std::size_t base_count = std::max<std::size_t>(2, count / 500);
    for (std::size_t i = 0; i < base_count; ++i) {
      std::vector<FakeLayer> layers;
      for (std::int64_t j = uniform(1, 4); j > 0; --j) {
        layers.push_back(layer());
      }
      bases.push_back(std::move(layers));
    }
    const std::int64_t epoch = 1'600'000'000;
    std::vector<std::string> added;
    std::vector<std::string> parents; // tagged images with room for more layers
    added.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      FakeImage image;
      image.id = "sha256:" + random_hex(random);
      image.created = epoch + static_cast<std::int64_t>(i) * 60;
      const auto target_layers = static_cast<std::size_t>(uniform(5, 15));
      if (!parents.empty() && uniform(0, 99) < 40) {
        // A legacy build on top of another image: its parent chain.
        const auto pick =
            static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(parents.size()) - 1));
        const FakeImage& parent = impl.images.at(parents[pick]);
        image.parent = parent.id;
        image.layers = parent.layers;
        const auto room = static_cast<std::int64_t>(15 - image.layers.size());
        for (std::int64_t j = std::min(uniform(1, 3), room); j > 0; --j) {
          image.layers.push_back(layer());
        }
      } else {
        image.layers = bases[static_cast<std::size_t>(
            uniform(0, static_cast<std::int64_t>(bases.size()) - 1))];
        while (image.layers.size() < target_layers) {
          image.layers.push_back(layer());
        }
      }
      const bool dangling = uniform(0, 99) < 10;
      if (!dangling) {
        const std::string repository = "synthetic/app" + std::to_string(uniform(0, 999));
        for (std::int64_t t = uniform(1, 3); t > 0; --t) {
          std::string tag = repository + ":v" + std::to_string(i) + "-" + std::to_string(t);
          image.tags.push_back(std::move(tag));
        }
        if (image.layers.size() < 15) {
          parents.push_back(image.id);
        }
      }
      if (uniform(0, 99) < 5) {
        FakeContainer container;
        container.id = random_hex(random);
        container.image_id = image.id;
        container.image = image.tags.empty() ? image.id : image.tags.front();
        container.name = "synthetic-" + std::to_string(i);
        container.running = uniform(0, 1) == 0;
        container.created = image.created + 30;
        impl.containers[container.id] = std::move(container);
      }
      added.push_back(image.id);
      impl.insert_image(std::move(image));
    }
    impl.changed();
    impl.image_list(); // built now, so that the first listing costs what later ones do
    return added;
  });
}

std::size_t FakeEngine::emit_workload_events(std::size_t count) {
  return m_impl->call([&] {
    Impl& impl = *m_impl;
    auto& random = impl.workload_random;
    const auto pick = [&](const std::vector<std::string>& from) -> const std::string& {
      return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(random)];
    };
    if (impl.workload_images.size() != impl.images.size()) {
      impl.workload_images.clear();
      for (const auto& [id, image] : impl.images) {
        impl.workload_images.push_back(id);
      }
    }
    if (impl.workload_containers.size() != impl.containers.size()) {
      impl.workload_containers.clear();
      for (const auto& [id, container] : impl.containers) {
        impl.workload_containers.push_back(id);
      }
    }
    std::size_t tracked = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const auto roll = std::uniform_int_distribution<int>(0, 99)(random);
      if (roll < 90 && !impl.workload_containers.empty()) {
        auto& container = impl.containers.at(pick(impl.workload_containers));
        const std::map<std::string, std::string> attributes{
            {"image", container.image.empty() ? container.image_id : container.image},
            {"name", container.name}};
        if (roll < 50) {
          static constexpr const char* k_exec[] = {"exec_create: sh -c true",
                                                   "exec_start: sh -c true", "exec_die"};
          impl.emit("container", k_exec[roll % 3], container.id, attributes);
        } else if (roll < 70) {
          impl.emit("container", "health_status: healthy", container.id, attributes);
        } else {
          container.running = !container.running;
          impl.changed();
          impl.emit("container", container.running ? "start" : "die", container.id, attributes);
          ++tracked;
        }
        continue;
      }
      if (impl.workload_images.empty()) {
        continue;
      }
      // A few tags that move between images, as CI's "latest" tags do.
      const std::string reference =
          "synthetic/moving:" + std::to_string(std::uniform_int_distribution<int>(0, 63)(random));
      const auto held = impl.references.find(reference);
      if (roll >= 95 && held != impl.references.end()) {
        const std::string id = held->second;
        impl.take_reference(reference);
        impl.emit("image", "untag", id, {{"name", id}});
      } else {
        const std::string& id = pick(impl.workload_images);
        impl.take_reference(reference);
        impl.images.at(id).tags.push_back(reference);
        impl.references[reference] = id;
        impl.changed();
        impl.emit("image", "tag", id, {{"name", reference}});
      }
      ++tracked;
    }
    return tracked;
  });
}

std::size_t FakeEngine::image_count() const {
  return m_impl->call([&] { return m_impl->images.size(); });
}

std::vector<FakeImage> FakeEngine::images() const {
  return m_impl->call([&] {
    std::vector<FakeImage> all;
    for (const auto& [id, image] : m_impl->images) {
      all.push_back(image);
    }
    return all;
  });
}

std::vector<FakeContainer> FakeEngine::containers() const {
  return m_impl->call([&] {
    std::vector<FakeContainer> all;
    for (const auto& [id, container] : m_impl->containers) {
      all.push_back(container);
    }
    return all;
  });
}

void FakeEngine::set_faults(FaultPlan plan) {
  m_impl->call([&] { m_impl->faults = std::move(plan); });
}

void FakeEngine::clear_faults() {
  set_faults({});
}

void FakeEngine::close_event_streams() {
  m_impl->call([&] { m_impl->to_every_stream({Outgoing::Kind::close_clean, {}, 0, false}); });
}

void FakeEngine::close_event_streams_mid_object() {
  m_impl->call([&] {
    const std::string line = m_impl->next_event_line();
    m_impl->to_every_stream({Outgoing::Kind::chunk, line.substr(0, line.size() / 2)});
    m_impl->to_every_stream({Outgoing::Kind::close_abrupt, {}, 0, false});
  });
}

void FakeEngine::send_truncated_event_chunk() {
  m_impl->call([&] {
    const std::string line = m_impl->next_event_line() + "\n";
    std::array<char, 24> size{};
    std::snprintf(size.data(), size.size(), "%zx\r\n", line.size());
    m_impl->to_every_stream(
        {Outgoing::Kind::raw, std::string(size.data()) + line.substr(0, line.size() / 2)});
    m_impl->to_every_stream({Outgoing::Kind::close_abrupt, {}, 0, false});
  });
}

void FakeEngine::send_raw_event_line(const std::string& line) {
  m_impl->call([&] { m_impl->to_every_stream({Outgoing::Kind::chunk, line + "\n"}); });
}

void FakeEngine::send_oversized_event_line(std::uint64_t bytes, bool terminated) {
  m_impl->call([&] { m_impl->to_every_stream({Outgoing::Kind::filler, {}, bytes, terminated}); });
}

void FakeEngine::go_down() {
  m_impl->call([&] { m_impl->drop_everything(); });
}

void FakeEngine::come_up(std::optional<engine::ApiVersion> api_version, bool lose_events) {
  m_impl->call([&] {
    Impl& impl = *m_impl;
    if (api_version) {
      impl.api = *api_version;
      impl.changed();
    }
    if (lose_events) {
      impl.ring.clear();
    }
    if (!impl.is_up) {
      impl.listen();
    }
  });
}

void FakeEngine::restart(std::optional<engine::ApiVersion> api_version) {
  go_down();
  come_up(api_version, true);
}

bool FakeEngine::up() const {
  return m_impl->call([&] { return m_impl->is_up; });
}

engine::ApiVersion FakeEngine::api_version() const {
  return m_impl->call([&] { return m_impl->api; });
}

std::size_t FakeEngine::subscriber_count() const {
  return m_impl->call([&] { return m_impl->subscribers.size(); });
}

FakeEngineStats FakeEngine::stats() const {
  return m_impl->call([&] {
    FakeEngineStats stats = m_impl->stats;
    stats.open_connections = m_impl->connections.size();
    stats.subscribers = m_impl->subscribers.size();
    return stats;
  });
}

} // namespace imagegc::test
