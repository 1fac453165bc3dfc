// Placeholder until the info subcommand lands.
#include "commands.hpp"

namespace zae::cli {

void register_info(CLI::App& app) { (void)app; }

}  // namespace zae::cli
