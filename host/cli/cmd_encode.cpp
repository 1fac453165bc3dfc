// Placeholder until the encode subcommand lands.
#include "commands.hpp"

namespace zae::cli {

void register_encode(CLI::App& app) { (void)app; }

}  // namespace zae::cli
