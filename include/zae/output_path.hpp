// A check on the path of an output file. zae writes every output to a temporary file in the same
// folder and renames it over the path, and that rename would replace a symbolic link, pipe,
// socket or device node at the path with a regular file.
#pragma once

#include <string>

namespace zae {

// Throws zae::Error unless `path` is absent or names a regular file. It uses lstat, so a
// symbolic link is rejected even when it points to a regular file. The message names the path
// and its type (link, directory, named pipe, socket or device) and what to write to instead.
// It creates and changes nothing. A missing folder passes, and creating the temporary file then
// reports it.
// NOTE: the check runs before the write, so something created at `path` between the check and
// the rename is still replaced.
void check_output_path(const std::string& path);

}  // namespace zae
