#pragma once
// The Asio types imagegc's headers name (awaitable, any_io_executor), without the rest of Asio.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>: the build
// force-includes <utility> everywhere (CMakeLists.txt), and this header includes it too.
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
