// The policy loader: YAML text in, a policy or errors that point into the text out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/policy_loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = imagegc::policy::parse_policy(text, "fuzz.yaml");
  if (!result) {
    if (result.error().empty()) {
      std::abort(); // a refused policy always says why
    }
    for (const auto& error : result.error()) {
      if (error.location.file != "fuzz.yaml" || error.location.line < 0 ||
          error.location.column < 0 || error.message.empty()) {
        std::abort();
      }
      (void)error.to_string();
    }
  }
  return 0;
}
