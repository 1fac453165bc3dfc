// Entry point of the zae command line: dispatches to the subcommands and turns errors into a
// message on stderr and exit status 1.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/trainer.hpp"

int main(int argc, char** argv) {
  CLI::App app{"zae: zero-bias autoencoders on patch sets, on the CPU or a CUDA GPU"};
  app.require_subcommand(0, 1);
  const std::string version = std::string("zae ") + ZAE_VERSION +
                              (zae::cuda_compiled_in() ? " (CUDA backend compiled in)"
                                                       : " (CPU only, CUDA not compiled in)");
  app.set_version_flag("--version", version);
  // A repeated flag takes its last value in every subcommand.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  zae::cli::register_train(app);
  zae::cli::register_patches(app);
  zae::cli::register_encode(app);
  zae::cli::register_info(app);
  zae::cli::register_compare(app);

  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::fputs(app.help().c_str(), stdout);
      return 1;
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zae::Interrupted& e) {
    std::fprintf(stderr, "zae: %s\n", e.what());
    return 130;
  } catch (const zae::Error& e) {
    std::fprintf(stderr, "zae: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "zae: error: out of memory: use a smaller model, batch or data set\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zae: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
