// Subcommands of the zae command line. Each register_* adds one subcommand to the app and
// sets its callback; callbacks throw zae::Error on bad input and main() prints it.
#pragma once

#include <CLI/CLI.hpp>

namespace zae::cli {

void register_train(CLI::App& app);
void register_patches(CLI::App& app);
void register_encode(CLI::App& app);
void register_info(CLI::App& app);
void register_compare(CLI::App& app);

}  // namespace zae::cli
