// Placeholder until the compare subcommand lands.
#include "commands.hpp"

namespace zae::cli {

void register_compare(CLI::App& app) { (void)app; }

}  // namespace zae::cli
