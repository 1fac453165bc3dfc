// Placeholder until the patches subcommand lands.
#include "commands.hpp"

namespace zae::cli {

void register_patches(CLI::App& app) { (void)app; }

}  // namespace zae::cli
