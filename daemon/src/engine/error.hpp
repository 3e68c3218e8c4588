#pragma once

#include <string>

#include "util/expected.hpp"

namespace imagegc::engine {

enum class ErrorKind {
  transport,   // could not connect, connection dropped, timeout
  http_status, // the engine answered with a status we do not handle
  malformed,   // the engine's body is not the JSON we expect
};

struct Error {
  ErrorKind kind = ErrorKind::transport;
  int http_status = 0; // set for ErrorKind::http_status
  std::string message;
};

template <class T> using Result = util::Expected<T, Error>;

inline util::Unexpected<Error> malformed(std::string message) {
  return util::unexpected(Error{ErrorKind::malformed, 0, std::move(message)});
}

} // namespace imagegc::engine
