// Human-readable and JSON-lines logging of a training run.
#include "zae/run_log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "zae/error.hpp"
#include "zae/output_path.hpp"

namespace zae {

namespace {

// Keeps the lines of an existing metrics file whose step is <= resume_step.
std::string kept_metrics(const std::string& path, int64_t resume_step) {
  std::ifstream in(path);
  std::string kept_lines, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.at("step").get<int64_t>() <= resume_step) kept_lines += line + "\n";
    } catch (const nlohmann::json::exception&) {
      // A torn last line from a crash is dropped.
    }
  }
  return kept_lines;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

RunLog::RunLog(const std::string& folder, bool resumed, int64_t resume_step, bool interactive)
    : interactive_(interactive) {
  const std::string path = folder + "/metrics.jsonl";
  check_output_path(path);
  if (resumed) {
    // The kept lines replace the file through a temporary file and rename, so a crash here
    // leaves the old metrics in place.
    const std::string kept_lines = kept_metrics(path, resume_step);
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    std::FILE* out = std::fopen(tmp.c_str(), "w");
    ZAE_REQUIRE(out != nullptr, "cannot write ", tmp, ": ", std::strerror(errno),
                ": check that --out names a writable folder");
    const bool written = std::fputs(kept_lines.c_str(), out) >= 0 && std::fflush(out) == 0;
    const bool closed = std::fclose(out) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      fail("cannot replace ", path, ": ", std::strerror(errno));
    }
  }
  file_ = std::fopen(path.c_str(), resumed ? "a" : "w");
  ZAE_REQUIRE(file_ != nullptr, "cannot write ", path, ": ", std::strerror(errno),
              ": check that --out names a writable folder");
}

RunLog::~RunLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void RunLog::settings(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  for (const auto& row : rows) {
    std::printf("  %-*s  %s\n", static_cast<int>(width), row.first.c_str(), row.second.c_str());
  }
  std::printf("%8s %6s %12s %10s %8s %12s\n", "step", "epoch", "loss", "lr", "active", "samples/s");
  std::fflush(stdout);
}

void RunLog::message(const std::string& text) {
  if (progress_shown_) {
    std::fputs("\n", stderr);
    progress_shown_ = false;
  }
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

void RunLog::metrics(const MetricsLine& m, int64_t total_steps, int64_t epochs, double eta_seconds,
                     bool epoch_end) {
  char json[512];
  std::snprintf(json, sizeof json,
                "{\"step\": %lld, \"epoch\": %lld, \"loss\": %.17g, \"lr\": %.17g, "
                "\"active_fraction\": %.17g, \"samples_per_second\": %.6g}\n",
                static_cast<long long>(m.step), static_cast<long long>(m.epoch), m.loss, m.lr,
                m.active_fraction, m.samples_per_second);
  ZAE_REQUIRE(std::fputs(json, file_) >= 0 && std::fflush(file_) == 0,
              "cannot append to metrics.jsonl: ", std::strerror(errno));

  const bool stdout_is_terminal = ::isatty(STDOUT_FILENO) != 0;
  if (!interactive_ || !stdout_is_terminal || epoch_end) {
    if (progress_shown_ && stdout_is_terminal) {
      std::fputs("\r\033[K", stderr);
      progress_shown_ = false;
    }
    std::printf("%8lld %6lld %12.6g %10.3g %8.4f %12.0f\n", static_cast<long long>(m.step),
                static_cast<long long>(m.epoch), m.loss, m.lr, m.active_fraction,
                m.samples_per_second);
    std::fflush(stdout);
  }
  if (interactive_) {
    std::fprintf(stderr,
                 "\r\033[Kepoch %lld/%lld  step %lld/%lld  loss %.6g  %.0f samples/s  ETA %s",
                 static_cast<long long>(m.epoch), static_cast<long long>(epochs),
                 static_cast<long long>(m.step), static_cast<long long>(total_steps), m.loss,
                 m.samples_per_second, format_duration(eta_seconds).c_str());
    std::fflush(stderr);
    progress_shown_ = true;
  }
}

void RunLog::finish() {
  if (progress_shown_) {
    std::fputs("\n", stderr);
    progress_shown_ = false;
  }
}

}  // namespace zae
