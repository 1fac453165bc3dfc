// zae checkpoints: the model, optimizer velocities and fitted preprocessing mapped onto
// safetensors tensors and metadata, and checked for consistency on load.
//
// Numbers in the metadata are written so that they parse back bit-exactly: floats with 9
// significant digits, doubles with 17, integers in decimal.
#include "zae/checkpoint.hpp"

#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "zae/error.hpp"

namespace zae {
namespace {

constexpr const char* kFormat = "zae-checkpoint-1";
constexpr const char* kWeightLayout =
    "W is hidden x visible, row-major: row j is the filter of hidden unit j";

template <typename Number>
std::string exact_text(Number value, int digits) {
  char text[64];
  const auto result =
      std::to_chars(text, text + sizeof(text), value, std::chars_format::general, digits);
  return std::string(text, result.ptr);
}

std::string bool_text(bool value) { return value ? "true" : "false"; }

const std::string& metadata_entry(const SafeTensors& file, const std::string& key) {
  const auto found = file.metadata.find(key);
  ZAE_REQUIRE(found != file.metadata.end(), "the metadata entry '", key, "' is missing");
  return found->second;
}

// Parses the whole of `text` as a Number (integers in decimal), or throws naming `key`.
template <typename Number>
Number parse_number(const std::string& key, const std::string& text) {
  Number value{};
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  ZAE_REQUIRE(result.ec == std::errc() && result.ptr == end, "the metadata entry '", key, "' = '",
              text, "' is not a valid number");
  return value;
}

template <typename Number>
Number metadata_number(const SafeTensors& file, const std::string& key) {
  return parse_number<Number>(key, metadata_entry(file, key));
}

bool metadata_bool(const SafeTensors& file, const std::string& key) {
  const std::string& text = metadata_entry(file, key);
  if (text == "true") return true;
  if (text == "false") return false;
  fail("the metadata entry '", key, "' = '", text, "' is not true or false");
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

const char* dtype_name(TensorType dtype) { return dtype == TensorType::F32 ? "F32" : "F64"; }

void check_size(const std::string& name, size_t size, size_t expected) {
  ZAE_REQUIRE(size == expected, name, " has ", size, " values, expected ", expected);
}

// Checks W, b and c (after `prefix`) against the shapes that `model` calls for.
void check_params(const std::string& prefix, const Params& params, const ModelConfig& model) {
  const size_t hidden = static_cast<size_t>(model.hidden);
  const size_t visible = static_cast<size_t>(model.visible);
  check_size(prefix + "W", params.W.size(), hidden * visible);
  check_size(prefix + "b", params.b.size(), model.hidden_bias() ? hidden : 0);
  check_size(prefix + "c", params.c.size(), model.visible_bias ? visible : 0);
}

void check_preprocess(const Preprocessor& pre, const ModelConfig& model) {
  ZAE_REQUIRE(pre.output_dim() == model.visible, "the preprocessing outputs ", pre.output_dim(),
              " values per row, but the model has ", model.visible, " visible units");
  const size_t in = static_cast<size_t>(pre.input_dim());
  const size_t out = static_cast<size_t>(pre.output_dim());
  check_size("pre.mean", pre.mean.size(), in);
  const bool whitened = pre.config().whiten != Whiten::None;
  check_size("pre.forward", pre.forward.size(), whitened ? out * in : 0);
  check_size("pre.backward", pre.backward.size(), whitened ? in * out : 0);
  check_size("pre.eigenvalues", pre.eigenvalues.size(), whitened ? in : 0);
}

void add_params(const std::string& prefix, const Params& params, const ModelConfig& model,
                SafeTensors* file) {
  file->tensors[prefix + "W"] = Tensor::from_floats(params.W, {model.hidden, model.visible});
  if (model.hidden_bias()) {
    file->tensors[prefix + "b"] = Tensor::from_floats(params.b, {model.hidden});
  }
  if (model.visible_bias) {
    file->tensors[prefix + "c"] = Tensor::from_floats(params.c, {model.visible});
  }
}

SafeTensors checkpoint_to_file(const Checkpoint& checkpoint) {
  const ModelConfig& model = checkpoint.model;
  model.validate();
  check_params("", checkpoint.params, model);
  const Params& velocity = checkpoint.velocity;
  const bool has_velocity = !velocity.W.empty() || !velocity.b.empty() || !velocity.c.empty();
  if (has_velocity) check_params("v.", velocity, model);
  const Preprocessor& pre = checkpoint.preprocess;
  check_preprocess(pre, model);
  ZAE_REQUIRE(checkpoint.step >= 0 && checkpoint.epoch >= 0, "invalid step ", checkpoint.step,
              " or epoch ", checkpoint.epoch, ": expected counts >= 0");

  SafeTensors file;
  add_params("", checkpoint.params, model, &file);
  if (has_velocity) add_params("v.", velocity, model, &file);
  const int64_t in = pre.input_dim();
  const int64_t out = pre.output_dim();
  file.tensors["pre.mean"] = Tensor::from_doubles(pre.mean, {in});
  if (pre.config().whiten != Whiten::None) {
    file.tensors["pre.forward"] = Tensor::from_doubles(pre.forward, {out, in});
    file.tensors["pre.backward"] = Tensor::from_doubles(pre.backward, {in, out});
    file.tensors["pre.eigenvalues"] = Tensor::from_doubles(pre.eigenvalues, {in});
  }

  std::map<std::string, std::string>& meta = file.metadata;
  meta["format"] = kFormat;
  meta["weight_layout"] = kWeightLayout;
  meta["model.activation"] = activation_name(model.activation);
  meta["model.threshold"] = exact_text(model.threshold, 9);
  meta["model.visible"] = std::to_string(model.visible);
  meta["model.hidden"] = std::to_string(model.hidden);
  meta["model.visible_bias"] = bool_text(model.visible_bias);

  const PreprocessConfig& config = pre.config();
  meta["preprocess.contrast_norm"] = bool_text(config.contrast_norm);
  meta["preprocess.contrast_scale"] = exact_text(config.contrast_scale, 17);
  meta["preprocess.whiten"] = whiten_name(config.whiten);
  meta["preprocess.retain"] = exact_text(config.retain, 17);
  meta["preprocess.components"] = std::to_string(config.components);
  meta["preprocess.eigen_floor"] = exact_text(config.eigen_floor, 17);
  meta["preprocess.contrast_reference"] = exact_text(pre.contrast_reference, 17);
  meta["preprocess.input_dim"] = std::to_string(in);
  meta["preprocess.output_dim"] = std::to_string(out);

  meta["train_config"] = checkpoint.train_config_json;
  meta["step"] = std::to_string(checkpoint.step);
  meta["epoch"] = std::to_string(checkpoint.epoch);
  meta["seed"] = std::to_string(checkpoint.seed);
  return file;
}

// Removes the tensor `name` from `file` after checking its dtype and shape.
Tensor take_tensor(SafeTensors* file, const std::string& name, TensorType dtype,
                   const std::vector<int64_t>& shape) {
  const auto found = file->tensors.find(name);
  ZAE_REQUIRE(found != file->tensors.end(), "the tensor '", name, "' is missing");
  Tensor tensor = std::move(found->second);
  file->tensors.erase(found);
  ZAE_REQUIRE(tensor.dtype == dtype, "the tensor '", name, "' has dtype ", dtype_name(tensor.dtype),
              ", expected ", dtype_name(dtype));
  ZAE_REQUIRE(tensor.shape == shape, "the tensor '", name, "' has shape ", shape_text(tensor.shape),
              ", expected ", shape_text(shape));
  return tensor;
}

// Takes W, b and c (after `prefix`) as the model calls for them. A bias that the model does not
// have must be absent from the file.
Params take_params(SafeTensors* file, const std::string& prefix, const ModelConfig& model) {
  Params params;
  params.W =
      take_tensor(file, prefix + "W", TensorType::F32, {model.hidden, model.visible}).to_floats();
  if (model.hidden_bias()) {
    params.b = take_tensor(file, prefix + "b", TensorType::F32, {model.hidden}).to_floats();
  } else {
    ZAE_REQUIRE(file->tensors.count(prefix + "b") == 0, "the tensor '", prefix,
                "b' is present, but activation ", activation_name(model.activation),
                " has no hidden bias");
  }
  if (model.visible_bias) {
    params.c = take_tensor(file, prefix + "c", TensorType::F32, {model.visible}).to_floats();
  } else {
    ZAE_REQUIRE(file->tensors.count(prefix + "c") == 0, "the tensor '", prefix,
                "c' is present, but model.visible_bias is false");
  }
  return params;
}

Checkpoint checkpoint_from_file(SafeTensors file) {
  const std::string& format = metadata_entry(file, "format");
  ZAE_REQUIRE(format == kFormat, "the format is '", format, "', expected '", kFormat, "'");

  Checkpoint checkpoint;
  ModelConfig& model = checkpoint.model;
  model.activation = parse_activation(metadata_entry(file, "model.activation"));
  model.threshold = metadata_number<float>(file, "model.threshold");
  model.visible = metadata_number<int>(file, "model.visible");
  model.hidden = metadata_number<int>(file, "model.hidden");
  model.visible_bias = metadata_bool(file, "model.visible_bias");
  model.validate();

  checkpoint.params = take_params(&file, "", model);
  if (file.tensors.count("v.W") != 0) checkpoint.velocity = take_params(&file, "v.", model);

  PreprocessConfig config;
  config.contrast_norm = metadata_bool(file, "preprocess.contrast_norm");
  config.contrast_scale = metadata_number<double>(file, "preprocess.contrast_scale");
  config.whiten = parse_whiten(metadata_entry(file, "preprocess.whiten"));
  config.retain = metadata_number<double>(file, "preprocess.retain");
  config.components = metadata_number<int>(file, "preprocess.components");
  config.eigen_floor = metadata_number<double>(file, "preprocess.eigen_floor");
  const double reference = metadata_number<double>(file, "preprocess.contrast_reference");
  const int in = metadata_number<int>(file, "preprocess.input_dim");
  const int out = metadata_number<int>(file, "preprocess.output_dim");
  ZAE_REQUIRE(in > 0 && out > 0, "invalid preprocessing dimensions ", in, " -> ", out);

  std::vector<double> mean = take_tensor(&file, "pre.mean", TensorType::F64, {in}).to_doubles();
  std::vector<double> forward;
  std::vector<double> backward;
  std::vector<double> eigenvalues;
  if (config.whiten != Whiten::None) {
    forward = take_tensor(&file, "pre.forward", TensorType::F64, {out, in}).to_doubles();
    backward = take_tensor(&file, "pre.backward", TensorType::F64, {in, out}).to_doubles();
    eigenvalues = take_tensor(&file, "pre.eigenvalues", TensorType::F64, {in}).to_doubles();
  }
  checkpoint.preprocess =
      Preprocessor::from_state(config, in, out, reference, std::move(mean), std::move(forward),
                               std::move(backward), std::move(eigenvalues));
  ZAE_REQUIRE(out == model.visible, "the preprocessing outputs ", out,
              " values per row, but the model has ", model.visible, " visible units");
  if (!file.tensors.empty()) {
    fail("the tensor '", file.tensors.begin()->first, "' is not part of a ", kFormat,
         " checkpoint");
  }

  checkpoint.train_config_json = metadata_entry(file, "train_config");
  checkpoint.step = metadata_number<int64_t>(file, "step");
  checkpoint.epoch = metadata_number<int64_t>(file, "epoch");
  checkpoint.seed = metadata_number<uint64_t>(file, "seed");
  ZAE_REQUIRE(checkpoint.step >= 0 && checkpoint.epoch >= 0, "invalid step ", checkpoint.step,
              " or epoch ", checkpoint.epoch, ": expected counts >= 0");
  return checkpoint;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  SafeTensors file;
  try {
    file = checkpoint_to_file(checkpoint);
  } catch (const Error& e) {
    fail("cannot save checkpoint '", path, "': ", e.what());
  }
  write_safetensors(path, file);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafeTensors file = read_safetensors(path, Checksum::Required);
  try {
    return checkpoint_from_file(std::move(file));
  } catch (const Error& e) {
    fail("checkpoint '", path, "' is invalid: ", e.what());
  }
}

}  // namespace zae
