// `zae encode`: hidden features of a .npy set through a trained model, to .npy. The stored
// preprocessing is applied first, then f(x W^T + b) with the model's activation, so the
// threshold rule is the one used in training unless --threshold overrides it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "commands.hpp"
#include "zae/backend.hpp"
#include "zae/checkpoint.hpp"
#include "zae/error.hpp"
#include "zae/npy.hpp"

namespace zae::cli {

void register_encode(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("encode", "write the hidden features of a .npy set");
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto threshold = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "checkpoint (.safetensors) of a trained model")->required();
  cmd->add_option("--data", *data, "rows to encode, .npy with the training columns")->required();
  cmd->add_option("--out", *out, "output .npy, N x H float32")->required();
  cmd->add_option("--threshold", *threshold,
                  "theta for trec/tlin features; default: the trained threshold (0 gives "
                  "max(0, x W^T) for trec)");

  cmd->callback([=]() {
    Checkpoint ck = load_checkpoint(*model);
    if (!threshold->empty()) {
      ck.model.threshold = static_cast<float>(parse_double("--threshold", *threshold));
    }
    NpyMatrix input = NpyMatrix::load(*data);
    ZAE_REQUIRE(input.cols() == ck.preprocess.input_dim(), *data, ": rows have ", input.cols(),
                " values but the model in ", *model, " was trained on ",
                ck.preprocess.input_dim(), ": encode data with the training layout");

    const int64_t n = input.rows();
    const int H = ck.model.hidden;
    const int K = ck.preprocess.output_dim();
    std::unique_ptr<Backend> backend = make_cpu_backend(ck.model);
    backend->set_state(ck.params, ck.velocity);

    std::vector<float> features(size_t(n) * H);
    const int64_t chunk = 8192;
    std::vector<float> prepared(size_t(std::min<int64_t>(chunk, n)) * K);
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t m = std::min(chunk, n - start);
      try {
        ck.preprocess.apply(input.data() + start * input.cols(), m, prepared.data());
      } catch (const Error& e) {
        fail(*data, " (rows from ", start, "): ", e.what());
      }
      backend->encode(prepared.data(), m, features.data() + start * H);
    }
    write_npy(*out, features.data(), {n, H});
    std::printf("encoded %lld rows into %d features: %s\n", static_cast<long long>(n), H,
                out->c_str());
  });
}

}  // namespace zae::cli
