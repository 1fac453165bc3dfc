// Strict parsing of command-line values: the whole text must be a value of the type, so
// "1e-3" is a number and "1e-3x" an error that names the flag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zae::cli {

// true/false/1/0/yes/no, else zae::Error naming `flag`.
bool parse_bool(const std::string& flag, const std::string& text);
// Decimal numbers only: digits, sign, point and exponent (no hex, inf or nan).
double parse_double(const std::string& flag, const std::string& text);
// As parse_double, and within the range of float.
float parse_float(const std::string& flag, const std::string& text);
int64_t parse_int(const std::string& flag, const std::string& text);
// As parse_int, and within the range of int, so that large values cannot wrap.
int parse_int32(const std::string& flag, const std::string& text);
uint64_t parse_uint(const std::string& flag, const std::string& text);
// Comma-separated numbers, e.g. "30,60,90".
std::vector<double> parse_double_list(const std::string& flag, const std::string& text);

}  // namespace zae::cli
