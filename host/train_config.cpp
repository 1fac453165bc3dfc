// Validation, schedule conversion and JSON form of the training configuration.
#include "zae/train_config.hpp"

#include <cmath>

#include "zae/error.hpp"
#include "zae/trainer.hpp"

namespace zae {

namespace {
// Upper limit on every epoch count, so that conversions to steps cannot overflow.
constexpr int64_t kMaxEpochs = 1000000000;

std::string init_name(InitKind kind) {
  switch (kind) {
    case InitKind::Gaussian: return "gaussian";
    case InitKind::Patches: return "patches";
    case InitKind::File: return "file";
  }
  return "unknown";
}

InitKind parse_init(const std::string& name) {
  if (name == "gaussian") return InitKind::Gaussian;
  if (name == "patches") return InitKind::Patches;
  if (name == "file") return InitKind::File;
  fail("invalid init kind '", name, "': expected gaussian, patches or file");
}

int64_t epochs_to_steps(double epochs, int64_t per_epoch) {
  return static_cast<int64_t>(std::llround(epochs * double(per_epoch)));
}
}  // namespace

void TrainConfig::validate() const {
  ZAE_REQUIRE(!data.empty(), "missing --data FILE.npy: the training rows");
  ZAE_REQUIRE(model.hidden > 0, "invalid --hidden ", model.hidden,
              ": --hidden is required and must be 1 or more hidden units");
  ZAE_REQUIRE(!out.empty(), "invalid --out '': name a run folder such as runs/zae");
  ZAE_REQUIRE(batch > 0, "invalid --batch ", batch, ": use a batch size of 1 or more");
  ZAE_REQUIRE(epochs > 0 && epochs <= kMaxEpochs, "invalid --epochs ", epochs,
              ": use 1 to ", kMaxEpochs, " epochs");
  ZAE_REQUIRE(std::isfinite(lr) && lr >= 0.0, "invalid --lr ", lr,
              ": the learning rate must be zero or positive");
  ZAE_REQUIRE(std::isfinite(momentum) && momentum >= 0.0 && momentum < 1.0, "invalid --momentum ",
              momentum, ": use a value in [0, 1)");
  ZAE_REQUIRE(std::isfinite(weight_decay) && weight_decay >= 0.0, "invalid --weight-decay ",
              weight_decay, ": use zero or a positive value");
  ZAE_REQUIRE(std::isfinite(model.threshold), "invalid --threshold ", model.threshold);
  ZAE_REQUIRE(warmup_epochs >= 0.0 && warmup_epochs <= kMaxEpochs, "invalid --warmup-epochs ",
              warmup_epochs, ": use 0 to ", kMaxEpochs);
  ZAE_REQUIRE(step_epochs > 0.0 && step_epochs <= kMaxEpochs, "invalid --step-epochs ",
              step_epochs, ": use a positive count up to ", kMaxEpochs);
  for (double m : milestone_epochs) {
    ZAE_REQUIRE(m >= 0.0 && m <= kMaxEpochs, "invalid --milestones entry ", m, ": use 0 to ",
                kMaxEpochs, " epochs");
  }
  ZAE_REQUIRE(schedule != ScheduleKind::Cosine || min_lr <= lr, "invalid --min-lr ", min_lr,
              ": the cosine schedule falls from --lr ", lr, " to --min-lr, so use at most ", lr);
  ZAE_REQUIRE(log_every > 0, "invalid --log-every ", log_every, ": use 1 or more steps");
  ZAE_REQUIRE(checkpoint_every >= 0, "invalid --checkpoint-every ", checkpoint_every);
  ZAE_REQUIRE(threads >= 0, "invalid --threads ", threads);
  ZAE_REQUIRE(init.scale > 0.0 && std::isfinite(init.scale), "invalid --init-scale ",
              init.scale, ": must be positive");
  ZAE_REQUIRE(init.std > 0.0 && std::isfinite(init.std), "invalid --init-std ", init.std,
              ": must be positive");
  const bool whitening = preprocess.whiten != Whiten::None;
  ZAE_REQUIRE(!whitening || (preprocess.retain > 0.0 && preprocess.retain <= 1.0),
              "invalid --retain ", preprocess.retain, ": use a fraction in (0, 1]");
  ZAE_REQUIRE(preprocess.components >= 0, "invalid --components ", preprocess.components);
  ZAE_REQUIRE(preprocess.eigen_floor >= 0.0, "invalid --eigen-floor ", preprocess.eigen_floor);
  ZAE_REQUIRE(device == "auto" || device == "cpu" || device == "cuda" || device == "reference",
              "invalid --device '", device, "': expected auto, cpu, cuda or reference");
}

ScheduleConfig TrainConfig::schedule_for(int64_t rows) const {
  const int64_t per_epoch = steps_per_epoch(rows, batch);
  ScheduleConfig s;
  s.kind = schedule;
  s.base_lr = lr;
  s.warmup_lr = warmup_lr;
  s.warmup_steps = epochs_to_steps(warmup_epochs, per_epoch);
  s.step_size = std::max<int64_t>(1, epochs_to_steps(step_epochs, per_epoch));
  s.gamma = gamma;
  for (double m : milestone_epochs) s.milestones.push_back(epochs_to_steps(m, per_epoch));
  s.min_lr = min_lr;
  s.total_steps = epochs * per_epoch;
  s.validate();
  return s;
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
  j["data"] = data;
  j["hidden"] = model.hidden;
  j["visible"] = model.visible;
  j["activation"] = activation_name(model.activation);
  j["threshold"] = model.threshold;
  j["visible_bias"] = model.visible_bias;
  j["contrast_norm"] = preprocess.contrast_norm;
  j["contrast_scale"] = preprocess.contrast_scale;
  j["whiten"] = whiten_name(preprocess.whiten);
  j["retain"] = preprocess.retain;
  j["components"] = preprocess.components;
  j["eigen_floor"] = preprocess.eigen_floor;
  j["init"] = init_name(init.kind);
  j["init_scale"] = init.scale;
  j["init_std"] = init.std;
  j["init_file"] = init.file;
  j["epochs"] = epochs;
  j["batch"] = batch;
  j["momentum"] = momentum;
  j["weight_decay"] = weight_decay;
  j["schedule"] = schedule_name(schedule);
  j["lr"] = lr;
  j["warmup_epochs"] = warmup_epochs;
  j["warmup_lr"] = warmup_lr;
  j["step_epochs"] = step_epochs;
  j["gamma"] = gamma;
  j["milestone_epochs"] = milestone_epochs;
  j["min_lr"] = min_lr;
  j["seed"] = seed;
  j["shuffle"] = shuffle;
  j["device"] = device;
  j["tf32"] = tf32;
  j["out"] = out;
  j["resume"] = resume;
  j["log_every"] = log_every;
  j["checkpoint_every"] = checkpoint_every;
  j["threads"] = threads;
  return j;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  try {
    c.data = j.at("data").get<std::string>();
    c.model.hidden = j.at("hidden").get<int>();
    c.model.visible = j.at("visible").get<int>();
    c.model.activation = parse_activation(j.at("activation").get<std::string>());
    c.model.threshold = j.at("threshold").get<float>();
    c.model.visible_bias = j.at("visible_bias").get<bool>();
    c.preprocess.contrast_norm = j.at("contrast_norm").get<bool>();
    c.preprocess.contrast_scale = j.at("contrast_scale").get<double>();
    c.preprocess.whiten = parse_whiten(j.at("whiten").get<std::string>());
    c.preprocess.retain = j.at("retain").get<double>();
    c.preprocess.components = j.at("components").get<int>();
    c.preprocess.eigen_floor = j.at("eigen_floor").get<double>();
    c.init.kind = parse_init(j.at("init").get<std::string>());
    c.init.scale = j.at("init_scale").get<double>();
    c.init.std = j.at("init_std").get<double>();
    c.init.file = j.at("init_file").get<std::string>();
    c.epochs = j.at("epochs").get<int64_t>();
    c.batch = j.at("batch").get<int>();
    c.momentum = j.at("momentum").get<double>();
    c.weight_decay = j.at("weight_decay").get<double>();
    c.schedule = parse_schedule(j.at("schedule").get<std::string>());
    c.lr = j.at("lr").get<double>();
    c.warmup_epochs = j.at("warmup_epochs").get<double>();
    c.warmup_lr = j.at("warmup_lr").get<double>();
    c.step_epochs = j.at("step_epochs").get<double>();
    c.gamma = j.at("gamma").get<double>();
    c.milestone_epochs = j.at("milestone_epochs").get<std::vector<double>>();
    c.min_lr = j.at("min_lr").get<double>();
    c.seed = j.at("seed").get<uint64_t>();
    c.shuffle = j.at("shuffle").get<bool>();
    c.device = j.at("device").get<std::string>();
    c.tf32 = j.at("tf32").get<bool>();
    c.out = j.at("out").get<std::string>();
    c.resume = j.at("resume").get<std::string>();
    c.log_every = j.at("log_every").get<int64_t>();
    c.checkpoint_every = j.at("checkpoint_every").get<int64_t>();
    c.threads = j.at("threads").get<int>();
  } catch (const nlohmann::json::exception& e) {
    fail("invalid training configuration: ", e.what());
  }
  return c;
}

}  // namespace zae
