// Runs the zae binary from tests and captures its exit status and combined output.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace zae::test {

struct CommandResult {
  int status = -1;  // exit status, or -1 when the process did not exit normally
  std::string output;
};

inline CommandResult run_zae(const std::string& arguments) {
  const std::string command = std::string(ZAE_CLI_PATH) + " " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

}  // namespace zae::test
