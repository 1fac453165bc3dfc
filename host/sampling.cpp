// Epoch row orders and initial weights, drawn with Philox from the seed alone, so that a run
// and its resumed continuation see the same numbers on any machine.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "zae/error.hpp"
#include "zae/npy.hpp"
#include "zae/philox.hpp"
#include "zae/trainer.hpp"

namespace zae {

int64_t steps_per_epoch(int64_t rows, int batch) {
  ZAE_REQUIRE(rows > 0 && batch > 0, "steps_per_epoch needs rows > 0 and batch > 0");
  return (rows + batch - 1) / batch;
}

namespace {

// Uniform integer in [0, bound) from a Philox draw, by rejection so there is no modulo bias.
int64_t uniform_below(uint64_t seed, RandomStream stream, uint64_t a, uint64_t b, int64_t bound) {
  const uint64_t range = static_cast<uint64_t>(bound);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  for (uint32_t attempt = 0;; ++attempt) {
    const Philox4 r = philox4x32(static_cast<uint32_t>(a), static_cast<uint32_t>(b),
                                 static_cast<uint32_t>(stream) | (attempt << 8),
                                 static_cast<uint32_t>(a >> 32), seed_low(seed), seed_high(seed));
    const uint64_t value = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    if (value < limit) return static_cast<int64_t>(value % range);
  }
}

}  // namespace

std::vector<int64_t> epoch_order(uint64_t seed, int64_t epoch, int64_t rows, bool shuffle) {
  std::vector<int64_t> order(rows);
  for (int64_t i = 0; i < rows; ++i) order[i] = i;
  if (!shuffle) return order;
  for (int64_t i = rows - 1; i > 0; --i) {
    const int64_t j = uniform_below(seed, RandomStream::Shuffle, static_cast<uint64_t>(i),
                                    static_cast<uint64_t>(epoch), i + 1);
    std::swap(order[i], order[j]);
  }
  return order;
}

Params initial_params(const ModelConfig& model, const InitConfig& init, const float* rows,
                      int64_t n, uint64_t seed) {
  Params p = Params::zeros(model);
  const int D = model.visible;
  const int H = model.hidden;

  if (init.kind == InitKind::File) {
    NpyMatrix w = NpyMatrix::load(init.file);
    ZAE_REQUIRE(w.rows() == H && w.cols() == D, "--init ", init.file, ": weights are ", w.rows(),
                " x ", w.cols(), " but the model needs ", H, " x ", D,
                " (hidden x visible after preprocessing)");
    std::copy(w.data(), w.data() + size_t(H) * D, p.W.begin());
    for (size_t i = 0; i < p.W.size(); ++i) {
      ZAE_REQUIRE(std::isfinite(p.W[i]), "--init ", init.file, ": non-finite weight at row ", i / D,
                  ", column ", i % D);
    }
    return p;
  }

  if (init.kind == InitKind::Patches) {
    ZAE_REQUIRE(n > 0, "cannot initialise from patches: the data set is empty");
    for (int j = 0; j < H; ++j) {
      const int64_t row = uniform_below(seed, RandomStream::InitPatches, uint64_t(j), 0, n);
      for (int k = 0; k < D; ++k) {
        p.W[size_t(j) * D + k] = static_cast<float>(init.scale * rows[row * D + k]);
      }
    }
    return p;
  }

  const size_t count = p.W.size();
  for (size_t i = 0; i < count; i += 2) {
    const Philox4 r = philox4x32(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32),
                                 static_cast<uint32_t>(RandomStream::InitWeights), 0,
                                 seed_low(seed), seed_high(seed));
    const float u1 = philox_uniform(r.v[0]);
    const float u2 = philox_uniform(r.v[1]);
    const float radius = std::sqrt(-2.0f * std::log(u1));
    const float angle = 6.28318530717958647692f * u2;
    p.W[i] = static_cast<float>(init.std * radius * std::cos(angle));
    if (i + 1 < count) p.W[i + 1] = static_cast<float>(init.std * radius * std::sin(angle));
  }
  return p;
}

}  // namespace zae
