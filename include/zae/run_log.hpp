// Logging for a training run: a settings table and fixed-width lines (or a live progress line
// on a terminal) for people, and an append-only JSON-lines metrics file for plots.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace zae {

struct MetricsLine {
  int64_t step = 0;   // optimizer steps completed
  int64_t epoch = 0;  // epoch of the last step in the interval, counting from 1
  double loss = 0.0;  // mean per-row loss over the interval
  double lr = 0.0;
  double active_fraction = 0.0;
  double samples_per_second = 0.0;
};

class RunLog {
 public:
  // Opens <folder>/metrics.jsonl: truncated for a fresh run; for a resumed run the lines with
  // step > resume_step are dropped (a crash may have logged past the checkpoint) and new lines
  // are appended. `interactive` selects the live progress line; table rows still go to stdout
  // at every interval when stdout is not a terminal.
  RunLog(const std::string& folder, bool resumed, int64_t resume_step, bool interactive);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  void settings(const std::vector<std::pair<std::string, std::string>>& rows);
  void message(const std::string& text);
  // Writes one metrics line and shows it. On a terminal it becomes the live progress line on
  // stderr, with a table row at each epoch end. Otherwise it becomes a table row on stdout.
  void metrics(const MetricsLine& line, int64_t total_steps, int64_t epochs, double eta_seconds,
               bool epoch_end);
  void finish();

 private:
  std::FILE* file_ = nullptr;
  bool interactive_ = false;
  bool progress_shown_ = false;
};

}  // namespace zae
