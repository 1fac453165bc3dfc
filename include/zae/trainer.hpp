// The host driver: data loading, preprocessing, initialisation, the epoch and minibatch loop,
// schedules, checkpoints, logging and the run folder.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zae/backend.hpp"
#include "zae/checkpoint.hpp"
#include "zae/error.hpp"
#include "zae/train_config.hpp"

namespace zae {

// Thrown by train() when SIGINT or SIGTERM stopped the run after writing a checkpoint.
class Interrupted : public Error {
 public:
  using Error::Error;
};

// Steps in an epoch of n rows with batches of `batch`: the last partial batch counts.
int64_t steps_per_epoch(int64_t rows, int batch);

// Row order of an epoch: a Fisher-Yates shuffle driven by Philox keyed by (seed, epoch), or
// 0..n-1 when shuffle is false. Depends on nothing else, so a resumed run gets the same order.
std::vector<int64_t> epoch_order(uint64_t seed, int64_t epoch, int64_t rows, bool shuffle);

// Initial weights from `init`: Gaussian(0, std) or scale times randomly drawn rows of the
// (preprocessed) data, both from Philox keyed by the seed; or H x D from init.file. Biases and
// velocities start at zero. Throws zae::Error naming the file for a shape mismatch.
Params initial_params(const ModelConfig& model, const InitConfig& init, const float* rows,
                      int64_t n, uint64_t seed);

// Picks the backend for "auto", "cpu", "cuda" or "reference". `note` receives a line for the
// log, e.g. "device auto: using cuda:0 (NVIDIA H200)" or "device auto: no CUDA device, cpu".
std::unique_ptr<Backend> make_backend(const std::string& device, const ModelConfig& model,
                                      bool allow_tf32, std::string* note);

// Runs `zae train` end to end as configured; writes the run folder. Returns the final mean
// loss over the last logging interval. SIGINT or SIGTERM during the loop ends the run after
// the current step with a checkpoint and throws Interrupted; a second signal kills at once.
double train(const TrainConfig& config);

}  // namespace zae
