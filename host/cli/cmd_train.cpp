// `zae train`: parses the flags into a TrainConfig and runs the driver. Every value is taken
// as text and parsed strictly. With --resume the checkpoint's configuration is the base, and
// only the flags that do not change the optimisation (epochs, out, device, logging, threads,
// data path) may differ from it.
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "commands.hpp"
#include "zae/checkpoint.hpp"
#include "zae/error.hpp"
#include "zae/trainer.hpp"

namespace zae::cli {

namespace {

using Setter = std::function<void(TrainConfig&, const std::string&)>;

struct Flag {
  std::string name;
  std::string help;
  Setter set;
};

std::vector<Flag> train_flags() {
  return {
      {"--data",
       "training rows, .npy (N x D, or N x h x w [x c] patches); required unless --resume",
       [](TrainConfig& c, const std::string& v) { c.data = v; }},
      {"--hidden", "number of hidden units H; required unless --resume",
       [](TrainConfig& c, const std::string& v) { c.model.hidden = parse_int32("--hidden", v); }},
      {"--activation",
       "trec | tlin (zero-bias) or relu | sigmoid | linear (with hidden bias); default trec",
       [](TrainConfig& c, const std::string& v) { c.model.activation = parse_activation(v); }},
      {"--threshold", "theta of trec and tlin (default 1)",
       [](TrainConfig& c, const std::string& v) {
         c.model.threshold = parse_float("--threshold", v);
       }},
      {"--visible-bias", "train a visible bias c (true/false, default true)",
       [](TrainConfig& c, const std::string& v) {
         c.model.visible_bias = parse_bool("--visible-bias", v);
       }},
      {"--epochs", "total epochs, counted from the start of the run (default 10)",
       [](TrainConfig& c, const std::string& v) { c.epochs = parse_int("--epochs", v); }},
      {"--batch", "minibatch size (default 100)",
       [](TrainConfig& c, const std::string& v) { c.batch = parse_int32("--batch", v); }},
      {"--lr", "learning rate after any warm-up (default 0.01)",
       [](TrainConfig& c, const std::string& v) { c.lr = parse_double("--lr", v); }},
      {"--momentum", "classical momentum mu in [0, 1) (default 0.9)",
       [](TrainConfig& c, const std::string& v) { c.momentum = parse_double("--momentum", v); }},
      {"--weight-decay", "L2 weight decay on W (default 0)",
       [](TrainConfig& c, const std::string& v) {
         c.weight_decay = parse_double("--weight-decay", v);
       }},
      {"--schedule", "constant | warmup | step | multistep | exponential | cosine; default warmup",
       [](TrainConfig& c, const std::string& v) { c.schedule = parse_schedule(v); }},
      {"--warmup-epochs", "epochs at --warmup-lr before --lr (default 1)",
       [](TrainConfig& c, const std::string& v) {
         c.warmup_epochs = parse_double("--warmup-epochs", v);
       }},
      {"--warmup-lr", "learning rate during the warm-up (default 1e-4)",
       [](TrainConfig& c, const std::string& v) { c.warmup_lr = parse_double("--warmup-lr", v); }},
      {"--step-epochs", "epochs between decays of the step schedule (default 1)",
       [](TrainConfig& c, const std::string& v) {
         c.step_epochs = parse_double("--step-epochs", v);
       }},
      {"--gamma",
       "factor applied at each decay: per --step-epochs (step), per milestone (multistep) or per "
       "step (exponential); default 0.1",
       [](TrainConfig& c, const std::string& v) { c.gamma = parse_double("--gamma", v); }},
      {"--milestones", "epochs of the multistep decays, comma-separated",
       [](TrainConfig& c, const std::string& v) {
         c.milestone_epochs = parse_double_list("--milestones", v);
       }},
      {"--min-lr", "final learning rate of the cosine schedule (default 0)",
       [](TrainConfig& c, const std::string& v) { c.min_lr = parse_double("--min-lr", v); }},
      {"--seed", "seed of shuffling and initialisation (default 1)",
       [](TrainConfig& c, const std::string& v) { c.seed = parse_uint("--seed", v); }},
      {"--shuffle", "reshuffle rows every epoch (true/false, default true)",
       [](TrainConfig& c, const std::string& v) { c.shuffle = parse_bool("--shuffle", v); }},
      {"--contrast-norm", "per-patch mean removal and contrast normalisation (default true)",
       [](TrainConfig& c, const std::string& v) {
         c.preprocess.contrast_norm = parse_bool("--contrast-norm", v);
       }},
      {"--contrast-scale",
       "contrast normalisation divides by std + this times the mean patch std (default 0.1)",
       [](TrainConfig& c, const std::string& v) {
         c.preprocess.contrast_scale = parse_double("--contrast-scale", v);
       }},
      {"--whiten", "none | pca | zca (default pca)",
       [](TrainConfig& c, const std::string& v) { c.preprocess.whiten = parse_whiten(v); }},
      {"--retain", "fraction of variance kept by whitening (default 0.9)",
       [](TrainConfig& c, const std::string& v) {
         c.preprocess.retain = parse_double("--retain", v);
       }},
      {"--components", "number of whitening components; overrides --retain",
       [](TrainConfig& c, const std::string& v) {
         c.preprocess.components = parse_int32("--components", v);
       }},
      {"--eigen-floor", "whitening divides by sqrt(max(eigenvalue, this)); default 0.001",
       [](TrainConfig& c, const std::string& v) {
         c.preprocess.eigen_floor = parse_double("--eigen-floor", v);
       }},
      {"--init",
       "patches | gaussian | FILE.npy of H x D weights, D counted after whitening; default patches",
       [](TrainConfig& c, const std::string& v) {
         if (v == "patches") {
           c.init.kind = InitKind::Patches;
         } else if (v == "gaussian") {
           c.init.kind = InitKind::Gaussian;
         } else {
           c.init.kind = InitKind::File;
           c.init.file = v;
         }
       }},
      {"--init-scale", "factor on the drawn patches of --init patches (default 0.1)",
       [](TrainConfig& c, const std::string& v) {
         c.init.scale = parse_double("--init-scale", v);
       }},
      {"--init-std", "standard deviation of --init gaussian (default 0.01)",
       [](TrainConfig& c, const std::string& v) { c.init.std = parse_double("--init-std", v); }},
      {"--device", "auto | cpu | cuda | reference (default auto)",
       [](TrainConfig& c, const std::string& v) { c.device = v; }},
      {"--math", "fp32 | tf32: tensor-core TF32 GEMMs on the GPU (default fp32)",
       [](TrainConfig& c, const std::string& v) {
         ZAE_REQUIRE(v == "fp32" || v == "tf32", "invalid --math '", v, "': expected fp32 or tf32");
         c.tf32 = v == "tf32";
       }},
      {"--out", "run folder (default runs/zae)",
       [](TrainConfig& c, const std::string& v) { c.out = v; }},
      {"--log-every", "steps between metrics lines (default 50)",
       [](TrainConfig& c, const std::string& v) { c.log_every = parse_int("--log-every", v); }},
      {"--checkpoint-every", "steps between checkpoints; 0 writes one per epoch (default 0)",
       [](TrainConfig& c, const std::string& v) {
         c.checkpoint_every = parse_int("--checkpoint-every", v);
       }},
      {"--threads", "CPU threads for BLAS and OpenMP; 0 keeps the default",
       [](TrainConfig& c, const std::string& v) { c.threads = parse_int32("--threads", v); }},
  };
}

// The placeholder shown in --help for a flag's value.
std::string value_name(const std::string& flag) {
  static const std::set<std::string> booleans = {"--visible-bias", "--shuffle", "--contrast-norm"};
  static const std::set<std::string> integers = {
      "--hidden",    "--epochs",           "--batch",  "--seed", "--components",
      "--log-every", "--checkpoint-every", "--threads"};
  static const std::set<std::string> names = {"--activation", "--schedule", "--whiten",
                                              "--init",       "--device",   "--math"};
  if (booleans.count(flag) > 0) return "BOOL";
  if (integers.count(flag) > 0) return "N";
  if (names.count(flag) > 0) return "NAME";
  if (flag == "--data") return "FILE";
  if (flag == "--out") return "DIR";
  if (flag == "--milestones") return "X,X,...";
  return "X";
}

// Flags a resumed run may change: they do not alter the trajectory of the weights.
const std::set<std::string>& resumable_flags() {
  static const std::set<std::string> flags = {
      "--data",      "--epochs",           "--out",    "--device", "--math",
      "--log-every", "--checkpoint-every", "--threads"};
  return flags;
}

}  // namespace

void register_train(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("train", "train an autoencoder on a .npy patch set");
  auto flags = std::make_shared<std::vector<Flag>>(train_flags());
  auto values = std::make_shared<std::map<std::string, std::string>>();
  auto resume = std::make_shared<std::string>();
  for (const Flag& flag : *flags) {
    // A repeated flag takes its last value, so scripts can append overrides.
    cmd->add_option(flag.name, (*values)[flag.name], flag.help)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->type_name(value_name(flag.name));
  }
  cmd->add_option("--resume", *resume,
                  "continue from a checkpoint; --epochs still counts from the start")
      ->type_name("FILE");
  auto overwrite = std::make_shared<bool>(false);
  cmd->add_flag("--overwrite", *overwrite,
                "start a fresh run in a folder that already holds one, replacing its files");

  cmd->callback([cmd, flags, values, resume, overwrite]() {
    TrainConfig config;
    if (!resume->empty()) {
      const Checkpoint ck = load_checkpoint(*resume);
      try {
        config = TrainConfig::from_json(nlohmann::json::parse(ck.train_config_json));
      } catch (const nlohmann::json::exception& e) {
        fail("--resume ", *resume, ": the stored training configuration is invalid: ", e.what());
      }
    }
    for (const Flag& flag : *flags) {
      if (cmd->count(flag.name) == 0) continue;
      const std::string& text = (*values)[flag.name];
      if (resume->empty() || resumable_flags().count(flag.name) > 0) {
        flag.set(config, text);
        continue;
      }
      TrainConfig changed = config;
      flag.set(changed, text);
      ZAE_REQUIRE(changed.to_json() == config.to_json(), flag.name, " ", text,
                  " differs from the run in ", *resume,
                  ": a resumed run keeps its model, data preprocessing and optimizer "
                  "settings; drop the flag or start a fresh run");
    }
    config.resume = *resume;
    config.overwrite = *overwrite;
    train(config);
  });
}

}  // namespace zae::cli
