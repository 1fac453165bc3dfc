// Error type and checking macros shared by every layer. Library code throws zae::Error; only
// main() turns an error into a message and a non-zero exit.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace zae {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// Throws zae::Error with the parts streamed together, e.g. fail("file ", path, ": ", why).
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

}  // namespace zae

// Throws zae::Error with the streamed message when the condition is false.
#define ZAE_REQUIRE(condition, ...)          \
  do {                                       \
    if (!(condition)) ::zae::fail(__VA_ARGS__); \
  } while (0)
