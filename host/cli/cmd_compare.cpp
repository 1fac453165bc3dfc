// `zae compare`: trains the same model on the CPU backend and on the CUDA backend, from the
// same initial parameters and over the same data in the same order. It reports per-step
// losses, the active-mask entries on which the two paths disagree, and the final relative
// weight error. The data are used as given, without preprocessing. Exits with an error when
// the weight error exceeds --tolerance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "commands.hpp"
#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/npy.hpp"
#include "zae/trainer.hpp"

namespace zae::cli {
namespace {

struct CompareOptions {
  std::string data;
  std::string synthetic;
  std::string hidden = "64";
  std::string activation = "trec";
  std::string threshold = "1";
  std::string batch = "100";
  std::string steps = "10";
  std::string lr = "0.01";
  std::string momentum = "0.9";
  std::string weight_decay = "0";
  std::string seed = "1";
  std::string visible_bias = "true";
  std::string tolerance = "1e-3";
  std::string math = "fp32";
  std::string gpu = "0";
};

// Parses "ROWSxCOLS", e.g. "2000x192".
void parse_shape(const std::string& text, int64_t& rows, int64_t& cols) {
  const size_t x = text.find('x');
  ZAE_REQUIRE(x != std::string::npos, "invalid value '", text,
              "' for --synthetic: expected ROWSxCOLS such as 2000x192");
  rows = parse_int("--synthetic", text.substr(0, x));
  cols = parse_int("--synthetic", text.substr(x + 1));
  ZAE_REQUIRE(rows > 0 && cols > 0 && cols <= 1 << 20, "invalid value '", text,
              "' for --synthetic: rows and columns must be positive (columns at most 2^20)");
}

// Standard normal rows from a generator seeded by `seed`.
NpyMatrix synthetic_data(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float& v : values) v = normal(rng);
  return NpyMatrix::from_vector(std::move(values), rows, cols);
}

// ||a - b||_F / ||b||_F, or ||a - b||_F when b is zero.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < b.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    diff += d * d;
    norm += double(b[i]) * double(b[i]);
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

size_t count_differences(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t count = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) count += a[i] != b[i];
  return count;
}

void run_compare(const CompareOptions& o) {
  ZAE_REQUIRE(o.data.empty() != o.synthetic.empty(),
              "give exactly one of --data FILE.npy and --synthetic ROWSxCOLS");

  ModelConfig model;
  model.hidden = parse_int32("--hidden", o.hidden);
  model.activation = parse_activation(o.activation);
  model.threshold = parse_float("--threshold", o.threshold);
  model.visible_bias = parse_bool("--visible-bias", o.visible_bias);
  const int64_t batch = parse_int("--batch", o.batch);
  const int64_t steps = parse_int("--steps", o.steps);
  StepOptions step_options;
  step_options.learning_rate = static_cast<float>(parse_double("--lr", o.lr));
  step_options.momentum = static_cast<float>(parse_double("--momentum", o.momentum));
  step_options.weight_decay = static_cast<float>(parse_double("--weight-decay", o.weight_decay));
  const uint64_t seed = parse_uint("--seed", o.seed);
  const double tolerance = parse_double("--tolerance", o.tolerance);
  const int64_t gpu_index = parse_int("--gpu", o.gpu);
  ZAE_REQUIRE(o.math == "fp32" || o.math == "tf32", "invalid value '", o.math,
              "' for --math: expected fp32 or tf32");
  ZAE_REQUIRE(batch > 0 && batch <= (1 << 24), "invalid --batch ", batch,
              ": expected 1 to 16777216 rows");
  ZAE_REQUIRE(steps > 0, "invalid --steps ", steps, ": expected 1 or more");
  ZAE_REQUIRE(tolerance > 0.0, "invalid --tolerance ", tolerance, ": expected a positive number");
  ZAE_REQUIRE(gpu_index >= 0 && gpu_index < (1 << 16), "invalid --gpu ", gpu_index);

  ZAE_REQUIRE(cuda_device_count() > 0,
              "no CUDA device found: `zae compare` runs the CUDA backend against the CPU "
              "backend and needs an NVIDIA GPU with a working driver");

  NpyMatrix data;
  if (!o.data.empty()) {
    data = NpyMatrix::load(o.data);
  } else {
    int64_t rows = 0;
    int64_t cols = 0;
    parse_shape(o.synthetic, rows, cols);
    data = synthetic_data(rows, cols, seed);
  }
  const int64_t n = data.rows();
  ZAE_REQUIRE(n > 0, "the data set has no rows");
  model.visible = static_cast<int>(data.cols());
  model.validate();

  std::unique_ptr<Backend> cpu = make_cpu_backend(model);
  std::unique_ptr<Backend> gpu =
      make_cuda_backend(model, static_cast<int>(gpu_index), o.math == "tf32");
  const Params initial = initial_params(model, InitConfig{}, data.data(), n, seed);
  for (Backend* b : {cpu.get(), gpu.get()}) {
    b->set_state(initial, Params::zeros(model));
    b->set_data(data.data(), n);
  }
  step_options.nominal_batch = static_cast<int>(batch);

  std::printf("compare: cpu vs %s, D=%d H=%d %s theta=%g, %lld rows, batch %lld, %lld steps, "
              "math %s\n",
              gpu->name().c_str(), model.visible, model.hidden,
              activation_name(model.activation).c_str(), double(model.threshold),
              static_cast<long long>(n), static_cast<long long>(batch),
              static_cast<long long>(steps), o.math.c_str());
  std::printf("%6s %14s %14s %11s %11s %11s\n", "step", "cpu loss", "gpu loss", "abs diff",
              "rel diff", "mask flips");

  const int64_t per_epoch = steps_per_epoch(n, static_cast<int>(batch));
  int64_t epoch = -1;
  std::vector<int64_t> order;
  std::vector<float> rows_buffer;
  for (int64_t s = 0; s < steps; ++s) {
    if (s / per_epoch != epoch) {
      epoch = s / per_epoch;
      order = epoch_order(seed, epoch, n, true);
      cpu->set_order(order);
      gpu->set_order(order);
    }
    const int64_t first = (s % per_epoch) * batch;
    const int rows = static_cast<int>(std::min<int64_t>(batch, n - first));

    // Masks of this batch at the current parameters, from both paths.
    rows_buffer.resize(static_cast<size_t>(rows) * model.visible);
    for (int r = 0; r < rows; ++r) {
      const float* src = data.data() + order[first + r] * model.visible;
      std::copy(src, src + model.visible, rows_buffer.begin() + size_t(r) * model.visible);
    }
    const size_t flips = count_differences(cpu->compute_gradients(rows_buffer.data(), rows).active,
                                           gpu->compute_gradients(rows_buffer.data(), rows).active);

    cpu->step(first, rows, step_options);
    gpu->step(first, rows, step_options);
    const std::vector<StepRecord> cpu_records = cpu->take_records();
    const std::vector<StepRecord> gpu_records = gpu->take_records();
    ZAE_REQUIRE(cpu_records.size() == 1 && gpu_records.size() == 1,
                "internal error: expected one record per step from each backend");
    const double cpu_loss = cpu_records[0].loss;
    const double gpu_loss = gpu_records[0].loss;
    const double diff = std::fabs(gpu_loss - cpu_loss);
    const double relative = cpu_loss != 0.0 ? diff / std::fabs(cpu_loss) : diff;
    std::printf("%6lld %14.8g %14.8g %11.3e %11.3e %11zu\n", static_cast<long long>(s), cpu_loss,
                gpu_loss, diff, relative, flips);
  }

  Params p_cpu, v_cpu, p_gpu, v_gpu;
  cpu->get_state(p_cpu, v_cpu);
  gpu->get_state(p_gpu, v_gpu);
  const double w_error = relative_error(p_gpu.W, p_cpu.W);
  std::printf("relative weight error ||W_gpu - W_cpu||_F / ||W_cpu||_F = %.3e (tolerance %.3e)\n",
              w_error, tolerance);
  if (!p_cpu.b.empty()) {
    std::printf("relative hidden-bias error = %.3e\n", relative_error(p_gpu.b, p_cpu.b));
  }
  if (!p_cpu.c.empty()) {
    std::printf("relative visible-bias error = %.3e\n", relative_error(p_gpu.c, p_cpu.c));
  }
  ZAE_REQUIRE(std::isfinite(w_error) && w_error <= tolerance, "the relative weight error ",
              w_error, " exceeds --tolerance ", tolerance, " after ", steps, " steps");
  std::printf("compare: passed\n");
}

}  // namespace

void register_compare(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "compare", "train on the CPU and the CUDA backend side by side and compare the results");
  auto o = std::make_shared<CompareOptions>();
  cmd->add_option("--data", o->data, "rows to train on, .npy (N x D), used without preprocessing");
  cmd->add_option("--synthetic", o->synthetic,
                  "instead of --data, ROWSxCOLS standard normal rows drawn from --seed");
  cmd->add_option("--hidden", o->hidden, "number of hidden units H (default 64)");
  cmd->add_option("--activation", o->activation,
                  "trec | tlin (zero-bias) or relu | sigmoid | linear (default trec)");
  cmd->add_option("--threshold", o->threshold, "theta of trec and tlin (default 1)");
  cmd->add_option("--batch", o->batch, "minibatch size in rows (default 100)");
  cmd->add_option("--steps", o->steps, "number of SGD steps (default 10)");
  cmd->add_option("--lr", o->lr, "learning rate (default 0.01)");
  cmd->add_option("--momentum", o->momentum, "momentum (default 0.9)");
  cmd->add_option("--weight-decay", o->weight_decay, "L2 weight decay on W (default 0)");
  cmd->add_option("--seed", o->seed,
                  "seed of the initial weights, the row order and --synthetic (default 1)");
  cmd->add_option("--visible-bias", o->visible_bias,
                  "train a visible bias c (true/false, default true)");
  cmd->add_option("--tolerance", o->tolerance,
                  "maximum relative weight error ||W_gpu - W_cpu||_F / ||W_cpu||_F (default "
                  "1e-3)");
  cmd->add_option("--math", o->math, "GEMM precision on the GPU: fp32 or tf32 (default fp32)");
  cmd->add_option("--gpu", o->gpu, "CUDA device index (default 0)");
  cmd->callback([o]() { run_compare(*o); });
}

}  // namespace zae::cli
