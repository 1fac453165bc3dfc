// Checkpoints as safetensors files (8-byte little-endian header length, JSON header, raw
// little-endian tensor data), readable from Python with the safetensors package.
//
// A zae checkpoint stores the tensors W (H x D, one filter per row, row-major), b (H), c (D),
// their velocities v.W, v.b, v.c, and the preprocessing (pre.mean, pre.forward, pre.backward,
// pre.eigenvalues, float64). The __metadata__ map holds the format version, the model
// configuration, the full training configuration as JSON, step, epoch, seed, the weight
// layout in words, and a CRC-32 of the data section that is verified on load.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "zae/model.hpp"
#include "zae/preprocess.hpp"

namespace zae {

enum class TensorType { F32, F64 };

struct Tensor {
  TensorType dtype = TensorType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian, C order

  static Tensor from_floats(const std::vector<float>& values, std::vector<int64_t> shape);
  static Tensor from_doubles(const std::vector<double>& values, std::vector<int64_t> shape);
  std::vector<float> to_floats() const;    // F32 only, else zae::Error
  std::vector<double> to_doubles() const;  // F64 only, else zae::Error
};

struct SafeTensors {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;
};

// Writes to `path`.tmp-<pid>, fsyncs, renames over `path` and fsyncs the folder, so a crash
// leaves either the old file or the new one, never a partial file.
void write_safetensors(const std::string& path, const SafeTensors& file);
// Reads and validates (header bounds, offsets, dtypes, shapes against byte counts, and the
// zae.crc32 metadata entry when present). Throws zae::Error naming the file and the problem.
SafeTensors read_safetensors(const std::string& path);

struct Checkpoint {
  ModelConfig model;
  Params params;
  Params velocity;  // all three vectors empty when the file stores no velocities
  Preprocessor preprocess = Preprocessor::identity(1);
  std::string train_config_json;  // the effective training configuration, as written
  int64_t step = 0;                // optimizer steps completed
  int64_t epoch = 0;               // whole epochs completed
  uint64_t seed = 0;
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint load_checkpoint(const std::string& path);

}  // namespace zae
