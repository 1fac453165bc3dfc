// The training driver: data, preprocessing, initialisation, the epoch and minibatch loop,
// schedules, checkpoints, logging and the run folder.
//
// Every quantity of the loop is derived from the global step count: the epoch is
// step / steps_per_epoch, the batch within it step % steps_per_epoch, the row order comes from
// (seed, epoch) and the learning rate from the schedule. A checkpoint therefore needs only the
// parameters, velocities and step to resume exactly, even in the middle of an epoch.
#include "zae/trainer.hpp"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "zae/error.hpp"
#include "zae/image.hpp"
#include "zae/npy.hpp"
#include "zae/output_path.hpp"
#include "zae/philox.hpp"
#include "zae/run_log.hpp"

namespace zae {

namespace {

namespace fs = std::filesystem;

// Writes `text` to path through a temporary file and rename.
void write_text_atomic(const std::string& path, const std::string& text) {
  check_output_path(path);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ZAE_REQUIRE(out.good(), "cannot write ", tmp, ": check that the folder is writable");
    out << text;
    out.flush();
    ZAE_REQUIRE(out.good(), "failed writing ", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail("cannot rename ", tmp, " to ", path);
  }
}

void check_finite(const NpyMatrix& data, const std::string& path) {
  const float* x = data.data();
  const int64_t n = data.rows() * data.cols();
  int64_t bad = -1;
#pragma omp parallel for schedule(static) reduction(max : bad)
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) bad = std::max(bad, i);
  }
  if (bad >= 0) {
    int64_t first = bad;
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(x[i])) {
        first = i;
        break;
      }
    }
    fail(path, ": non-finite value ", x[first], " at row ", first / data.cols(), ", column ",
         first % data.cols(), ": remove or replace NaN and infinite values before training");
  }
}

// The patch geometry of the data file for filters.png: {height, width, channels}, or a
// near-square grey layout when the file is plain N x D.
void patch_shape(const std::vector<int64_t>& shape, int64_t cols, int& h, int& w, int& c) {
  if (shape.size() == 4) {
    h = int(shape[1]);
    w = int(shape[2]);
    c = int(shape[3]);
    return;
  }
  if (shape.size() == 3) {
    h = int(shape[1]);
    w = int(shape[2]);
    c = 1;
    return;
  }
  const int64_t side = std::llround(std::sqrt(double(cols)));
  if (side * side == cols) {
    h = w = static_cast<int>(side);
  } else {
    h = 1;
    w = static_cast<int>(cols);
  }
  c = 1;
}

// The filters as input-space patterns: each row of W (a direction in whitened space) mapped
// through the linear part of the inverse whitening, without adding the data mean back.
std::vector<float> filters_in_input_space(const Preprocessor& pre, const std::vector<float>& W,
                                          int hidden) {
  const int d = pre.input_dim();
  const int k = pre.output_dim();
  if (pre.backward.empty()) return W;
  std::vector<double> w(W.begin(), W.end());
  std::vector<double> mapped(size_t(hidden) * d);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hidden, d, k, 1.0, w.data(), k,
              pre.backward.data(), k, 0.0, mapped.data(), d);
  return std::vector<float>(mapped.begin(), mapped.end());
}

std::string format_number(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

volatile std::sig_atomic_t interrupt_signal = 0;

void record_interrupt(int signal_number) {
  interrupt_signal = signal_number;
  // A second signal takes the default action and ends the process at once.
  std::signal(signal_number, SIG_DFL);
}

// Routes SIGINT and SIGTERM to a flag for its lifetime, so the loop can stop after a step.
class InterruptGuard {
 public:
  InterruptGuard() {
    interrupt_signal = 0;
    struct sigaction action {};
    action.sa_handler = record_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  bool requested() const { return interrupt_signal != 0; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// Rejects a model whose host tensors (W, its velocity and gradient, and the batch buffers)
// would not fit in this machine's memory, before anything large is allocated.
void check_memory(const ModelConfig& model, int64_t rows, int batch) {
  const double H = model.hidden, D = model.visible;
  const double bytes =
      4.0 * (3.0 * H * D + double(std::min<int64_t>(batch, rows)) * (3.0 * H + 2.0 * D)) +
      double(batch) * H;
  const double physical = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
  if (physical > 0 && bytes > 0.9 * physical) {
    fail("--hidden ", model.hidden, " with ", model.visible, " inputs and --batch ", batch,
         " needs about ", format_number(bytes / double(1ull << 30)),
         " GiB for weights, velocities, gradients and batch buffers, more than this machine's ",
         format_number(physical / double(1ull << 30)),
         " GiB: use fewer hidden units or a "
         "smaller batch");
  }
}

// Runnable tasks other than this thread, the fewest of five samples of procs_running in
// /proc/stat taken 20 ms apart, so that a moment's burst or a build that just ended does not
// count. Returns 0 where /proc is not available.
int other_runnable_tasks() {
  int fewest = std::numeric_limits<int>::max();
  for (int sample = 0; sample < 5; ++sample) {
    if (sample > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream stat("/proc/stat");
    std::string key;
    int running = -1;
    while (stat >> key) {
      if (key == "procs_running") {
        stat >> running;
        break;
      }
      stat.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    if (running < 0) return 0;
    fewest = std::min(fewest, running - 1);
  }
  return fewest;
}

// Lines for the log about settings that are allowed but may not do what was meant.
void log_notes(RunLog& log, const TrainConfig& config, const Checkpoint* resumed, int64_t rows) {
  if (config.tf32 && config.device == "cpu") {
    log.message("note: --math tf32 applies to the GPU only; the CPU computes in fp32");
  }
  if (resumed != nullptr) {
    try {
      const auto stored = nlohmann::json::parse(resumed->train_config_json);
      const int64_t stored_rows = stored.value("data_rows", int64_t(-1));
      if (stored_rows >= 0 && stored_rows != rows) {
        log.message("note: the checkpoint was trained on " + std::to_string(stored_rows) +
                    " rows of " + stored.value("data", std::string("?")) +
                    "; this run continues on " + std::to_string(rows) + " rows of " + config.data);
      }
    } catch (const nlohmann::json::exception&) {
      // An unreadable stored configuration was already rejected when the flags were checked.
    }
  }
  const int threads = omp_get_max_threads();
  const int others = other_runnable_tasks();
  if (threads > 1 && others >= threads) {
    log.message("note: this machine is busy (" + std::to_string(others) +
                " other runnable tasks for " + std::to_string(threads) +
                " threads); if steps are slow, try --threads 1 or OMP_WAIT_POLICY=passive");
  }
}

// The peak resident set of this process (VmHWM) in MiB, or 0 where /proc is not available.
double peak_resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0.0;
}

// The rows a run trains on, with the preprocessing that produced them.
struct TrainingData {
  NpyMatrix rows;  // preprocessed rows, or the mapped file itself when no preprocessing applies
  Preprocessor preprocess = Preprocessor::identity(1);
  std::vector<int64_t> raw_shape;  // shape of the file, for the patch geometry of filters.png
  int input_dim = 0;
};

// Reads, checks and preprocesses the training rows. The preprocessing is fitted here for a
// fresh run and taken from the checkpoint for a resumed one.
TrainingData load_training_data(const TrainConfig& config, const Checkpoint* resumed) {
  const bool resuming = resumed != nullptr;
  NpyMatrix raw = NpyMatrix::load(config.data);
  ZAE_REQUIRE(raw.rows() > 0, config.data, ": the data set has no rows");
  ZAE_REQUIRE(raw.cols() > 0, config.data, ": the rows have no values (shape ", raw.rows(),
              " x 0)");
  ZAE_REQUIRE(raw.cols() <= std::numeric_limits<int>::max(), config.data, ": rows of ", raw.cols(),
              " values are more than zae supports");
  ZAE_REQUIRE(!config.preprocess.contrast_norm || raw.cols() >= 2 || resuming, config.data,
              ": contrast normalisation of rows with one value leaves only zeros: use "
              "--contrast-norm false, or rows of several values");
  check_finite(raw, config.data);
  const int input_dim = static_cast<int>(raw.cols());

  Preprocessor pre = Preprocessor::identity(input_dim);
  if (resuming) {
    pre = resumed->preprocess;
    ZAE_REQUIRE(pre.input_dim() == input_dim, "--resume ", config.resume,
                ": the checkpoint expects rows of ", pre.input_dim(), " values but ", config.data,
                " has ", input_dim, ": resume with the data it was trained on");
  } else if (config.preprocess.contrast_norm || config.preprocess.whiten != Whiten::None) {
    pre = Preprocessor::fit(config.preprocess, raw.data(), raw.rows(), input_dim);
  }

  // Training rows: the mapped file itself when no preprocessing applies, else one owned copy.
  // The raw mapping is released once the prepared copy exists, so training holds one copy.
  const std::vector<int64_t> raw_shape = raw.shape();
  NpyMatrix prepared;
  if (!pre.is_identity()) {
    // Block by block, dropping each input block from the resident set once it is
    // transformed, so the mapped input and the prepared copy are never both resident in full.
    raw.release_rows(0, raw.rows());
    const int out_dim = pre.output_dim();
    std::vector<float> out(size_t(raw.rows()) * out_dim);
    const int64_t block = std::max<int64_t>(1, (int64_t(8) << 20) / (4 * input_dim));
    for (int64_t start = 0; start < raw.rows(); start += block) {
      const int64_t count = std::min(block, raw.rows() - start);
      pre.apply(raw.data() + start * input_dim, count, out.data() + start * out_dim);
      raw.release_rows(start, count);
    }
    prepared = NpyMatrix::from_vector(std::move(out), raw.rows(), pre.output_dim());
  }
  TrainingData data;
  data.input_dim = input_dim;
  data.raw_shape = raw_shape;
  data.preprocess = pre;
  data.rows = pre.is_identity() ? std::move(raw) : std::move(prepared);
  return data;
}

// Checks and creates the run folder and writes config.json. A fresh run does not replace
// another run's files unless --overwrite is given.
void prepare_run_folder(const TrainConfig& config, bool resuming) {
  if (!resuming && !config.overwrite) {
    for (const char* name : {"final.safetensors", "checkpoint.safetensors"}) {
      const std::string existing = config.out + "/" + name;
      ZAE_REQUIRE(!fs::exists(existing), config.out, " already holds a run (", name,
                  "): resume it with --resume ", config.out, "/checkpoint.safetensors, choose ",
                  "another --out, or pass --overwrite to replace it");
    }
  }
  std::error_code ec;
  fs::create_directories(config.out, ec);
  ZAE_REQUIRE(!ec, "cannot create the run folder ", config.out, ": ", ec.message());
  // Every output is checked before training, so a bad one fails now rather than at the end.
  for (const char* name : {"config.json", "metrics.jsonl", "checkpoint.safetensors",
                           "final.safetensors", "filters.png"}) {
    check_output_path(config.out + "/" + name);
  }
  const std::string config_text = config.to_json().dump(2) + "\n";
  write_text_atomic(config.out + "/config.json", config_text);
}

// The settings table at the top of the log; resume_step is -1 for a fresh run.
std::vector<std::pair<std::string, std::string>> settings_table(const TrainConfig& config,
                                                                const TrainingData& data, int64_t n,
                                                                int64_t total_steps,
                                                                int64_t per_epoch,
                                                                int64_t resume_step) {
  return {
      {"data",
       config.data + " (" + std::to_string(n) + " x " + std::to_string(data.input_dim) + ")"},
      {"preprocessing", std::string(config.preprocess.contrast_norm ? "contrast-norm, " : "") +
                            "whiten " + whiten_name(data.preprocess.config().whiten) + ", " +
                            std::to_string(data.preprocess.output_dim()) + " dims"},
      {"model", activation_name(config.model.activation) + ", " +
                    std::to_string(config.model.hidden) + " hidden, threshold " +
                    format_number(config.model.threshold) +
                    (config.model.visible_bias ? ", visible bias" : "")},
      {"optimizer", "SGD momentum " + format_number(config.momentum) + ", lr " +
                        format_number(config.lr) + " (" + schedule_name(config.schedule) +
                        "), batch " + std::to_string(config.batch)},
      {"steps", std::to_string(total_steps) + " (" + std::to_string(per_epoch) + " per epoch, " +
                    std::to_string(config.epochs) + " epochs)" +
                    (resume_step >= 0 ? ", resuming at " + std::to_string(resume_step) : "")},
      {"threads", std::to_string(omp_get_max_threads())},
      {"out", config.out},
  };
}

// Draws the filters of the backend's W, mapped back through the whitening, as a tiled PNG.
void write_filters(const std::string& path, Backend& backend, const TrainingData& data) {
  Params params, velocity;
  backend.get_state(params, velocity);
  const int hidden = backend.config().hidden;
  const std::vector<float> filters = filters_in_input_space(data.preprocess, params.W, hidden);
  int h = 1, w = 1, c = 1;
  patch_shape(data.raw_shape, data.input_dim, h, w, c);
  const int zoom = std::clamp(32 / std::max(h, w), 1, 8);
  write_filter_png(path, filters.data(), hidden, h, w, c, zoom);
}

// Loss and active fraction of a logging interval: per-step means weighted by their rows.
struct IntervalMeans {
  double loss = 0.0;
  double active_fraction = 0.0;
};

IntervalMeans interval_means(const std::vector<StepRecord>& records) {
  IntervalMeans means;
  int64_t counted = 0;
  for (const StepRecord& r : records) {
    means.loss += r.loss * r.rows;
    means.active_fraction += r.active_fraction * r.rows;
    counted += r.rows;
  }
  means.loss /= double(counted);
  means.active_fraction /= double(counted);
  return means;
}

}  // namespace

double train(const TrainConfig& input_config) {
  TrainConfig config = input_config;
  config.validate();
  if (config.threads > 0) {
    omp_set_num_threads(config.threads);
    openblas_set_num_threads(config.threads);
  }

  // Resume: the checkpoint's state and preprocessing win; the data must match.
  Checkpoint resumed;
  const bool resuming = !config.resume.empty();
  if (resuming) resumed = load_checkpoint(config.resume);

  TrainingData data = load_training_data(config, resuming ? &resumed : nullptr);
  const Preprocessor& pre = data.preprocess;
  const NpyMatrix* rows = &data.rows;
  const int64_t n = rows->rows();

  config.model.visible = pre.output_dim();
  config.model.validate();
  if (resuming) {
    ZAE_REQUIRE(resumed.model.visible == config.model.visible &&
                    resumed.model.hidden == config.model.hidden,
                "--resume ", config.resume, ": the checkpoint has ", resumed.model.hidden, " x ",
                resumed.model.visible, " weights but this run needs ", config.model.hidden, " x ",
                config.model.visible);
  }

  const int64_t per_epoch = steps_per_epoch(n, config.batch);
  ZAE_REQUIRE(config.epochs <= std::numeric_limits<int64_t>::max() / per_epoch, "invalid --epochs ",
              config.epochs, ": ", config.epochs, " epochs of ", per_epoch,
              " steps overflow the step counter");
  const int64_t total_steps = config.epochs * per_epoch;
  const ScheduleConfig schedule = config.schedule_for(n);
  const int64_t start_step = resuming ? resumed.step : 0;
  if (resuming) {
    ZAE_REQUIRE(start_step <= total_steps, "--resume ", config.resume,
                ": the checkpoint is at step ", start_step, " (", resumed.epoch,
                " epochs completed) but --epochs ", config.epochs, " ends at step ", total_steps,
                ": raise --epochs to train further");
  }
  check_memory(config.model, n, config.batch);

  std::string device_note;
  std::unique_ptr<Backend> backend =
      make_backend(config.device, config.model, config.tf32, &device_note);
  if (resuming) {
    backend->set_state(resumed.params, resumed.velocity);
  } else {
    const Params params = initial_params(config.model, config.init, rows->data(), n, config.seed);
    backend->set_state(params, Params::zeros(config.model));
  }
  backend->set_data(rows->data(), n);

  prepare_run_folder(config, resuming);
  RunLog log(config.out, resuming, start_step, ::isatty(STDERR_FILENO) != 0);

  log.message(device_note);
  log.settings(settings_table(config, data, n, total_steps, per_epoch, resuming ? start_step : -1));

  auto save = [&](const std::string& path, int64_t step) {
    Checkpoint ck;
    ck.model = config.model;
    backend->get_state(ck.params, ck.velocity);
    ck.preprocess = pre;
    nlohmann::json stored = config.to_json();
    stored["data_rows"] = n;  // lets a resumed run notice other data of the same width
    ck.train_config_json = stored.dump();
    ck.step = step;
    ck.epoch = step / per_epoch;
    ck.seed = config.seed;
    save_checkpoint(path, ck);
  };

  log_notes(log, config, resuming ? &resumed : nullptr, n);

  // The loop. SIGINT and SIGTERM end it after the current step with a checkpoint.
  const InterruptGuard interrupts;
  int64_t last_checkpoint = -1;
  using Clock = std::chrono::steady_clock;
  const auto run_start = Clock::now();
  auto interval_start = run_start;
  int64_t interval_rows = 0;
  int64_t loaded_epoch = -1;
  double last_loss = std::nan("");
  for (int64_t step = start_step; step < total_steps; ++step) {
    const int64_t epoch = step / per_epoch;
    if (epoch != loaded_epoch) {
      backend->set_order(epoch_order(config.seed, epoch, n, config.shuffle));
      loaded_epoch = epoch;
    }
    const int64_t first = (step % per_epoch) * config.batch;
    const int batch_rows = static_cast<int>(std::min<int64_t>(config.batch, n - first));
    StepOptions options;
    options.learning_rate = static_cast<float>(learning_rate_at(schedule, step));
    options.momentum = static_cast<float>(config.momentum);
    options.weight_decay = static_cast<float>(config.weight_decay);
    options.nominal_batch = config.batch;
    backend->step(first, batch_rows, options);
    interval_rows += batch_rows;

    const int64_t done = step + 1;
    const bool epoch_end = done % per_epoch == 0;
    if (done % config.log_every == 0 || epoch_end || done == total_steps) {
      const IntervalMeans means = interval_means(backend->take_records());
      const double loss = means.loss;
      const double active = means.active_fraction;
      if (!std::isfinite(loss)) {
        const std::string surviving =
            last_checkpoint >= 0 ? "the checkpoint of step " + std::to_string(last_checkpoint) +
                                       " in " + config.out + " is from before the divergence"
                                 : "no checkpoint of this run was written";
        fail("training diverged at step ", done, " (loss ", loss,
             "): lower --lr, add a warm-up (--schedule warmup) or check the preprocessing; ",
             surviving);
      }
      const auto now = Clock::now();
      const double seconds = std::chrono::duration<double>(now - interval_start).count();
      const double elapsed = std::chrono::duration<double>(now - run_start).count();
      const double eta = elapsed / double(done - start_step) * double(total_steps - done);
      log.metrics({done, epoch + 1, loss, options.learning_rate, active,
                   double(interval_rows) / std::max(seconds, 1e-9)},
                  total_steps, config.epochs, eta, epoch_end);
      last_loss = loss;
      interval_start = now;
      interval_rows = 0;
    }

    const bool periodic = config.checkpoint_every > 0 && done % config.checkpoint_every == 0;
    const bool interrupted = interrupts.requested();
    if ((config.checkpoint_every == 0 && epoch_end) || periodic || interrupted) {
      save(config.out + "/checkpoint.safetensors", done);
      last_checkpoint = done;
    }
    if (interrupted && done < total_steps) {
      log.finish();
      throw Interrupted("interrupted at step " + std::to_string(done) + " of " +
                        std::to_string(total_steps) + "; continue with --resume " + config.out +
                        "/checkpoint.safetensors --epochs " + std::to_string(config.epochs));
    }
  }
  log.finish();

  // Final model and pictures.
  save(config.out + "/final.safetensors", total_steps);
  write_filters(config.out + "/filters.png", *backend, data);

  const double seconds = std::chrono::duration<double>(Clock::now() - run_start).count();
  const int64_t trained = total_steps - start_step;
  char summary[512];
  if (trained == 0) {
    std::snprintf(summary, sizeof summary,
                  "nothing to train: the checkpoint is already at step %lld of %lld; wrote "
                  "%s/final.safetensors and %s/filters.png",
                  static_cast<long long>(start_step), static_cast<long long>(total_steps),
                  config.out.c_str(), config.out.c_str());
  } else {
    std::snprintf(summary, sizeof summary,
                  "done: %lld steps in %.1f s, final loss %.6g; wrote %s/final.safetensors and "
                  "%s/filters.png",
                  static_cast<long long>(trained), seconds, last_loss, config.out.c_str(),
                  config.out.c_str());
  }
  log.message(summary);
  const double host_mib = peak_resident_mib();
  if (host_mib > 0) {
    log.message("peak host memory: " + format_number(host_mib) + " MiB (data set " +
                format_number(double(n) * config.model.visible * 4 / (1 << 20)) + " MiB)");
  }
  if (backend->peak_device_memory() > 0) {
    log.message("peak device memory: " +
                format_number(double(backend->peak_device_memory()) / (1 << 20)) + " MiB");
  }
  return last_loss;
}

}  // namespace zae
