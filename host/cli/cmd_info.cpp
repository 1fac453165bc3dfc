// `zae info`: a summary of a checkpoint, or with --devices the CUDA devices present.
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "zae/backend.hpp"
#include "zae/checkpoint.hpp"
#include "zae/error.hpp"

namespace zae::cli {

namespace {

double rms(const std::vector<float>& values) {
  double sum = 0.0;
  for (float v : values) sum += double(v) * v;
  return values.empty() ? 0.0 : std::sqrt(sum / double(values.size()));
}

void print_devices() {
  if (!cuda_compiled_in()) {
    std::printf("CUDA backend: not compiled in (no CUDA toolkit at build time)\n");
    return;
  }
  const std::vector<CudaDeviceInfo> devices = list_cuda_devices();
  if (devices.empty()) {
    std::printf("CUDA backend: compiled in; no CUDA device found (or no driver)\n");
    return;
  }
  for (const CudaDeviceInfo& d : devices) {
    std::printf("cuda:%d  %s  %.1f GiB  compute capability %d.%d\n", d.index, d.name.c_str(),
                double(d.total_memory) / double(1ull << 30), d.major, d.minor);
  }
}

void print_checkpoint(const std::string& path) {
  const Checkpoint ck = load_checkpoint(path);
  const Preprocessor& pre = ck.preprocess;
  std::printf("checkpoint   %s\n", path.c_str());
  std::printf("model        %s, %d hidden x %d visible, threshold %g, hidden bias %s, "
              "visible bias %s\n",
              activation_name(ck.model.activation).c_str(), ck.model.hidden, ck.model.visible,
              double(ck.model.threshold), ck.model.hidden_bias() ? "yes" : "no",
              ck.model.visible_bias ? "yes" : "no");
  std::printf("progress     step %lld, %lld epochs completed, seed %llu\n",
              static_cast<long long>(ck.step), static_cast<long long>(ck.epoch),
              static_cast<unsigned long long>(ck.seed));
  std::printf("preprocess   %d inputs -> %d, contrast-norm %s, whiten %s\n", pre.input_dim(),
              pre.output_dim(), pre.config().contrast_norm ? "yes" : "no",
              whiten_name(pre.config().whiten).c_str());
  std::printf("weights      rms W %.6g", rms(ck.params.W));
  if (!ck.params.b.empty()) {
    double mean_b = 0.0;
    for (float v : ck.params.b) mean_b += v;
    std::printf(", mean hidden bias %.6g", mean_b / double(ck.params.b.size()));
  }
  if (!ck.params.c.empty()) std::printf(", rms c %.6g", rms(ck.params.c));
  std::printf("\n");
  if (!ck.train_config_json.empty()) {
    try {
      const auto config = nlohmann::json::parse(ck.train_config_json);
      std::printf("trained on   %s, batch %s, lr %s, momentum %s\n",
                  config.value("data", std::string("?")).c_str(),
                  config.value("batch", nlohmann::json()).dump().c_str(),
                  config.value("lr", nlohmann::json()).dump().c_str(),
                  config.value("momentum", nlohmann::json()).dump().c_str());
    } catch (const nlohmann::json::exception&) {
      std::printf("trained on   (configuration unreadable)\n");
    }
  }
}

}  // namespace

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "summarise a checkpoint, or list CUDA devices");
  auto path = std::make_shared<std::string>();
  auto devices = std::make_shared<bool>(false);
  cmd->add_option("checkpoint", *path, "checkpoint (.safetensors)");
  cmd->add_flag("--devices", *devices, "list CUDA devices with memory and compute capability");
  cmd->callback([=]() {
    ZAE_REQUIRE(*devices || !path->empty(),
                "zae info needs a checkpoint path or --devices");
    if (*devices) print_devices();
    if (!path->empty()) print_checkpoint(*path);
  });
}

}  // namespace zae::cli
