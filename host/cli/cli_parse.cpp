// Strict parsing of command-line values.
#include "cli_parse.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "zae/error.hpp"

namespace zae::cli {

bool parse_bool(const std::string& flag, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  fail("invalid value '", text, "' for ", flag, ": expected true, false, 1, 0, yes or no");
}

double parse_double(const std::string& flag, const std::string& text) {
  const bool decimal = text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  ZAE_REQUIRE(decimal, "invalid number '", text, "' for ", flag,
              ": expected a decimal number such as 0.01 or 1e-3");
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(begin, &end);
  const bool whole = !text.empty() && end == begin + text.size() && !std::isspace(text[0]);
  ZAE_REQUIRE(whole && errno != ERANGE && std::isfinite(value), "invalid number '", text,
              "' for ", flag, ": expected a finite number such as 0.01 or 1e-3");
  return value;
}

float parse_float(const std::string& flag, const std::string& text) {
  const double value = parse_double(flag, text);
  ZAE_REQUIRE(std::fabs(value) <= std::numeric_limits<float>::max(), "invalid number '", text,
              "' for ", flag, ": out of the range of a 32-bit float");
  return static_cast<float>(value);
}

int parse_int32(const std::string& flag, const std::string& text) {
  const int64_t value = parse_int(flag, text);
  ZAE_REQUIRE(value >= std::numeric_limits<int>::min() && value <= std::numeric_limits<int>::max(),
              "invalid integer '", text, "' for ", flag, ": too large, the limit is ",
              std::numeric_limits<int>::max());
  return static_cast<int>(value);
}

int64_t parse_int(const std::string& flag, const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(begin, &end, 10);
  const bool whole = !text.empty() && end == begin + text.size() && !std::isspace(text[0]);
  ZAE_REQUIRE(whole && errno != ERANGE, "invalid integer '", text, "' for ", flag,
              ": expected a whole number such as 100");
  return value;
}

uint64_t parse_uint(const std::string& flag, const std::string& text) {
  ZAE_REQUIRE(!text.empty() && text[0] != '-' && text[0] != '+', "invalid value '", text,
              "' for ", flag, ": expected a non-negative whole number");
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(begin, &end, 10);
  const bool whole = end == begin + text.size() && !std::isspace(text[0]);
  ZAE_REQUIRE(whole && errno != ERANGE, "invalid value '", text, "' for ", flag,
              ": expected a non-negative whole number");
  return value;
}

std::vector<double> parse_double_list(const std::string& flag, const std::string& text) {
  std::vector<double> values;
  if (text.empty()) return values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    values.push_back(parse_double(flag, text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

}  // namespace zae::cli
