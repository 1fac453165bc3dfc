// The effective configuration of a training run, as parsed from the command line and stored
// in the run folder (config.json) and in every checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "zae/model.hpp"
#include "zae/preprocess.hpp"
#include "zae/schedule.hpp"

namespace zae {

enum class InitKind { Gaussian, Patches, File };

struct InitConfig {
  InitKind kind = InitKind::Patches;
  double scale = 0.1;  // Patches: weight = scale * a random preprocessed training row
  double std = 0.01;   // Gaussian: weight ~ N(0, std^2)
  std::string file;    // File: H x D float .npy
};

struct TrainConfig {
  std::string data;  // .npy of N rows
  ModelConfig model;  // visible is filled in from the data after preprocessing
  PreprocessConfig preprocess;
  InitConfig init;
  int64_t epochs = 10;
  int batch = 100;
  double momentum = 0.9;
  double weight_decay = 0.0;
  // Epoch counts for the schedule, converted to steps when the data size is known.
  // The authors' recipe warms up at 1e-4 before 1e-2: patches drawn as initial weights switch
  // on many units at once, and a full rate from the first step can diverge.
  ScheduleKind schedule = ScheduleKind::Warmup;
  double lr = 1e-2;
  double warmup_epochs = 1.0;
  double warmup_lr = 1e-4;
  double step_epochs = 1.0;
  double gamma = 0.1;
  std::vector<double> milestone_epochs;
  double min_lr = 0.0;
  uint64_t seed = 1;
  bool shuffle = true;
  std::string device = "auto";  // auto | cpu | cuda | reference
  bool tf32 = false;
  std::string out = "runs/zae";
  std::string resume;
  // A fresh run may replace the files of an earlier run in `out` only when this is set. Not
  // part of the stored configuration.
  bool overwrite = false;
  int64_t log_every = 50;         // steps between metric lines
  int64_t checkpoint_every = 0;   // steps between checkpoints; 0 writes one per epoch
  int threads = 0;                // OpenMP/BLAS threads for the CPU path; 0 keeps the default

  // Throws zae::Error naming the flag and the value for invalid settings.
  void validate() const;
  // Steps per epoch and the schedule in steps, for a data set of n rows.
  ScheduleConfig schedule_for(int64_t rows) const;

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& json);
};

}  // namespace zae
