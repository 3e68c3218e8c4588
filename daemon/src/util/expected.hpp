#pragma once
// A small value-or-error type for failures a caller is expected to handle.
// (std::expected arrives with C++23; the toolchain here is C++20.)

#include <type_traits>
#include <utility>
#include <variant>

namespace imagegc::util {

template <class E> struct Unexpected { E error; };

template <class E> Unexpected<std::decay_t<E>> unexpected(E&& error) {
  return {std::forward<E>(error)};
}

template <class T, class E> class Expected {
public:
  using value_type = T;
  using error_type = E;

  Expected() requires std::is_default_constructible_v<T> : m_storage(std::in_place_index<0>) {}
  Expected(T value) : m_storage(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  Expected(Unexpected<G> error) : m_storage(std::in_place_index<1>, std::move(error.error)) {}

  [[nodiscard]] bool has_value() const noexcept { return m_storage.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(m_storage); }
  const T& value() const& { return std::get<0>(m_storage); }
  T&& value() && { return std::get<0>(std::move(m_storage)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const& { return std::get<1>(m_storage); }
  E&& error() && { return std::get<1>(std::move(m_storage)); }

private:
  std::variant<T, E> m_storage;
};

template <class E> class Expected<void, E> {
public:
  using value_type = void;
  using error_type = E;

  Expected() = default;
  template <class G>
  Expected(Unexpected<G> error) : m_error(std::move(error.error)), m_failed(true) {}

  [[nodiscard]] bool has_value() const noexcept { return !m_failed; }
  explicit operator bool() const noexcept { return has_value(); }
  const E& error() const& { return m_error; }

private:
  E m_error{};
  bool m_failed = false;
};

} // namespace imagegc::util
