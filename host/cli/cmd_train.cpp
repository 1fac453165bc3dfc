// Placeholder until the train subcommand lands.
#include "commands.hpp"

namespace zae::cli {

void register_train(CLI::App& app) { (void)app; }

}  // namespace zae::cli
