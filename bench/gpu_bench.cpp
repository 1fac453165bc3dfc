// Whole-step throughput of the CUDA backend: for each shape D x H x B, validates one gradient
// pass against the CPU backend, then times training steps with the stacked and the split
// weight-gradient GEMMs (ZAE_CUDA_DW_GEMM) in FP32 and optionally TF32. Reports the median
// over repeats of steps/s, samples/s and achieved TFLOP/s, counting 10 * B * D * H flops per
// step (five GEMMs of 2 * B * D * H), against the device's FP32 peak.
//
//   gpu_bench [--shapes 192x1024x256,768x4096x1024] [--steps 50] [--repeats 5] [--warmup 10]
//             [--math fp32|tf32|both] [--no-validate] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "zae/backend.hpp"
#include "zae/error.hpp"

#ifdef ZAE_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace {

struct Shape {
  int visible;
  int hidden;
  int batch;
};

struct Settings {
  std::vector<Shape> shapes = {{192, 1024, 256}, {768, 4096, 1024}, {2000, 4096, 1000}};
  int steps = 50;
  int repeats = 5;
  int warmup = 10;
  std::vector<bool> tf32 = {false};
  bool validate = true;
  std::string json;
};

int parse_positive(const std::string& flag, const std::string& text) {
  size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value <= 0) {
    zae::fail("invalid value '", text, "' for ", flag, ": expected a positive whole number");
  }
  return value;
}

// "DxHxB,DxHxB,..."
std::vector<Shape> parse_shapes(const std::string& text) {
  std::vector<Shape> shapes;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t x1 = item.find('x');
    const size_t x2 = x1 == std::string::npos ? x1 : item.find('x', x1 + 1);
    if (x2 == std::string::npos) {
      zae::fail("invalid shape '", item, "' in --shapes: expected DxHxB such as 192x1024x256");
    }
    shapes.push_back({parse_positive("--shapes", item.substr(0, x1)),
                      parse_positive("--shapes", item.substr(x1 + 1, x2 - x1 - 1)),
                      parse_positive("--shapes", item.substr(x2 + 1))});
    start = comma + 1;
  }
  return shapes;
}

Settings parse_settings(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) zae::fail("missing value after ", flag);
      return argv[++i];
    };
    if (flag == "--shapes") {
      s.shapes = parse_shapes(value());
    } else if (flag == "--steps") {
      s.steps = parse_positive(flag, value());
    } else if (flag == "--repeats") {
      s.repeats = parse_positive(flag, value());
    } else if (flag == "--warmup") {
      s.warmup = parse_positive(flag, value());
    } else if (flag == "--math") {
      const std::string math = value();
      if (math == "fp32") {
        s.tf32 = {false};
      } else if (math == "tf32") {
        s.tf32 = {true};
      } else if (math == "both") {
        s.tf32 = {false, true};
      } else {
        zae::fail("invalid value '", math, "' for --math: expected fp32, tf32 or both");
      }
    } else if (flag == "--no-validate") {
      s.validate = false;
    } else if (flag == "--json") {
      s.json = value();
    } else {
      zae::fail("unknown option '", flag, "': see the usage at the top of bench/gpu_bench.cpp");
    }
  }
  return s;
}

// FP32 peak of device 0 in TFLOP/s: SMs x FP32 lanes per SM x 2 (FMA) x clock. 0 if unknown.
double fp32_peak_tflops() {
#ifdef ZAE_HAVE_CUDA
  int sms = 0;
  int clock_khz = 0;
  int major = 0;
  int minor = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;
  }
  // FP32 lanes per SM from NVIDIA's architecture whitepapers: 64 on sm_80 (A100), 128 on
  // sm_86, sm_89, sm_90 (H100, H200) and later.
  const int lanes = (major == 8 && minor == 0) ? 64 : 128;
  return double(sms) * lanes * 2.0 * clock_khz * 1e3 / 1e12;
#else
  return 0.0;
#endif
}

void set_env(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

// ||a - b||_F / ||b||_F.
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

struct Problem {
  zae::ModelConfig model;
  zae::Params params;
  std::vector<float> data;
  int64_t rows = 0;
};

// Standard normal data of 4 batches and weights of std 1/sqrt(D), so pre-activations are about
// N(0, 1) and about 16% of TRec units with theta = 1 are active.
Problem make_problem(const Shape& shape) {
  Problem p;
  p.model.visible = shape.visible;
  p.model.hidden = shape.hidden;
  p.model.activation = zae::Activation::TRec;
  p.model.threshold = 1.0f;
  p.rows = 4 * int64_t(shape.batch);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  p.data.resize(size_t(p.rows) * shape.visible);
  for (float& v : p.data) v = normal(rng);
  p.params = zae::Params::zeros(p.model);
  const float scale = 1.0f / std::sqrt(float(shape.visible));
  for (float& w : p.params.W) w = scale * normal(rng);
  return p;
}

std::unique_ptr<zae::Backend> make_gpu(const Problem& p, const std::string& mode, bool tf32) {
  set_env("ZAE_CUDA_DW_GEMM", mode);
  set_env("ZAE_CUDA_POISON", "0");
  auto gpu = zae::make_cuda_backend(p.model, 0, tf32);
  gpu->set_state(p.params, zae::Params::zeros(p.model));
  return gpu;
}

// Checks one gradient pass of both GEMM methods against the CPU backend in FP32.
bool validate(const Problem& p, const Shape& shape) {
  auto cpu = zae::make_cpu_backend(p.model);
  cpu->set_state(p.params, zae::Params::zeros(p.model));
  const zae::Gradients expected = cpu->compute_gradients(p.data.data(), shape.batch);
  bool ok = true;
  for (const char* mode : {"stacked", "split"}) {
    const zae::Gradients g = make_gpu(p, mode, false)->compute_gradients(p.data.data(),
                                                                         shape.batch);
    const double error = relative_error(g.grad.W, expected.grad.W);
    const double loss_error = std::fabs(g.loss - expected.loss) / expected.loss;
    // A unit within float32 rounding of theta may switch on in one path and off in the other,
    // which moves dW far more than rounding does, so the limit is 1e-3 rather than 1e-6.
    const bool pass = std::isfinite(error) && error < 1e-3 && loss_error < 1e-4;
    std::printf("  validate %-7s vs cpu: dW rel error %.2e, loss rel error %.2e: %s\n", mode,
                error, loss_error, pass ? "ok" : "FAILED");
    ok = ok && pass;
  }
  return ok;
}

struct Timing {
  double median_step_s = 0.0;
  double min_step_s = 0.0;
  size_t peak_bytes = 0;
};

Timing time_steps(const Problem& p, const Shape& shape, const std::string& mode, bool tf32,
                  const Settings& s) {
  auto gpu = make_gpu(p, mode, tf32);
  gpu->set_data(p.data.data(), p.rows);
  std::vector<int64_t> order(size_t(p.rows));
  for (int64_t i = 0; i < p.rows; ++i) order[size_t(i)] = i;
  gpu->set_order(order);
  const zae::StepOptions options{1e-4f, 0.9f, 0.0f, shape.batch};
  auto run = [&](int steps) {
    for (int i = 0; i < steps; ++i) gpu->step(int64_t(i % 4) * shape.batch, shape.batch, options);
    return gpu->take_records();  // synchronises
  };

  run(s.warmup);
  std::vector<double> per_step;
  for (int r = 0; r < s.repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<zae::StepRecord> records = run(s.steps);
    const auto stop = std::chrono::steady_clock::now();
    if (!std::isfinite(records.back().loss)) zae::fail("non-finite loss while timing");
    per_step.push_back(std::chrono::duration<double>(stop - start).count() / s.steps);
  }
  std::sort(per_step.begin(), per_step.end());
  return {per_step[per_step.size() / 2], per_step.front(), gpu->peak_device_memory()};
}

int run_bench(int argc, char** argv) {
  const Settings s = parse_settings(argc, argv);
  const std::vector<zae::CudaDeviceInfo> devices = zae::list_cuda_devices();
  if (devices.empty()) {
    std::fprintf(stderr, "gpu_bench: no CUDA device found%s\n",
                 zae::cuda_compiled_in() ? "" : " (this build has no CUDA backend)");
    return 1;
  }
  const double peak = fp32_peak_tflops();
  std::printf("gpu_bench: %s, compute capability %d.%d, FP32 peak %.1f TFLOP/s (SMs x lanes x "
              "2 x clock)\n",
              devices[0].name.c_str(), devices[0].major, devices[0].minor, peak);
  std::printf("%5s %5s %5s %-7s %4s %10s %12s %9s %7s %9s\n", "D", "H", "B", "dW", "math",
              "steps/s", "samples/s", "TFLOP/s", "% peak", "peak MiB");

  std::ofstream json;
  if (!s.json.empty()) {
    json.open(s.json, std::ios::app);
    if (!json) zae::fail("cannot open --json file ", s.json);
  }
  bool ok = true;
  for (const Shape& shape : s.shapes) {
    const Problem p = make_problem(shape);
    if (s.validate) ok = validate(p, shape) && ok;
    for (const bool tf32 : s.tf32) {
      for (const char* mode : {"stacked", "split"}) {
        const Timing t = time_steps(p, shape, mode, tf32, s);
        const double flops = 10.0 * shape.batch * double(shape.visible) * shape.hidden;
        const double tflops = flops / t.median_step_s / 1e12;
        const char* math = tf32 ? "tf32" : "fp32";
        std::printf("%5d %5d %5d %-7s %4s %10.1f %12.0f %9.2f %7.1f %9.1f\n", shape.visible,
                    shape.hidden, shape.batch, mode, math, 1.0 / t.median_step_s,
                    shape.batch / t.median_step_s, tflops, peak > 0 ? 100.0 * tflops / peak : 0.0,
                    t.peak_bytes / 1048576.0);
        if (json) {
          json << "{\"device\": \"" << devices[0].name << "\", \"D\": " << shape.visible
               << ", \"H\": " << shape.hidden << ", \"B\": " << shape.batch << ", \"dw\": \""
               << mode << "\", \"math\": \"" << math << "\", \"median_step_s\": "
               << t.median_step_s << ", \"min_step_s\": " << t.min_step_s
               << ", \"tflops\": " << tflops << ", \"fp32_peak_tflops\": " << peak
               << ", \"steps\": " << s.steps << ", \"repeats\": " << s.repeats << "}\n";
        }
      }
    }
  }
  if (!ok) {
    std::fprintf(stderr, "gpu_bench: validation against the CPU backend failed\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_bench: error: %s\n", e.what());
    return 1;
  }
}
