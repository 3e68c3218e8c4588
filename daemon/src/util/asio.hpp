#pragma once
// Include this before any Boost.Asio header: Boost 1.74's awaitable.hpp uses std::exchange
// without including <utility>, which breaks C++20 coroutines on g++ 12.
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
