// Checkpoints as safetensors files (8-byte little-endian header length, JSON header, raw
// little-endian tensor data), readable from Python with the safetensors package.
//
// A zae checkpoint stores the tensors W (H x D, one filter per row, row-major), b (H), c (D),
// their velocities v.W, v.b, v.c, and the preprocessing (pre.mean, pre.forward, pre.backward,
// pre.eigenvalues, float64). The __metadata__ map contains the format version, the model
// configuration, the full training configuration as JSON, step, epoch, seed, the weight
// layout in words, and the checksum zae.crc32. The checksum is a CRC-32 of the data section and
// of every header value (tensor names, dtypes, shapes, offsets and the other metadata entries),
// and load_checkpoint requires and verifies it. JSON whitespace and spelling, and fields that
// zae does not read, are outside it.
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
// leaves either the old file or the new one, never a partial file. Any zae.crc32 entry in
// `file.metadata` is replaced by the checksum of what is written. When `path` exists and is not
// a regular file (a symbolic link, directory, pipe, socket or device), it throws zae::Error
// before creating anything.
void write_safetensors(const std::string& path, const SafeTensors& file);

// Whether read_safetensors accepts a file without the zae.crc32 metadata entry.
enum class Checksum {
  IfPresent,  // verify it when present, so safetensors files from other tools can be read
  Required,   // reject a file without it, as a zae checkpoint always has one
};

// Reads and validates (header bounds, offsets, dtypes, shapes against byte counts, and the
// zae.crc32 checksum). Throws zae::Error naming the file and the problem. For a file whose first
// bytes do not start a safetensors header, the message contains "is not a safetensors
// checkpoint". The returned metadata includes the zae.crc32 entry.
SafeTensors read_safetensors(const std::string& path, Checksum checksum = Checksum::IfPresent);

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
// Reads `path` with the checksum required and checks that the tensors and metadata form a
// complete checkpoint. Throws zae::Error naming the file.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace zae
