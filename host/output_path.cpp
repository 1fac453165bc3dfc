// The output path check that every atomic writer runs before it creates its temporary file.
#include "zae/output_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "zae/error.hpp"

namespace zae {
namespace {

// The target of the symbolic link `path`, or "" when it cannot be read.
std::string link_target(const std::string& path) {
  std::string target(4096, '\0');
  const ssize_t size = ::readlink(path.c_str(), target.data(), target.size());
  if (size < 0 || static_cast<size_t>(size) >= target.size()) return "";
  target.resize(static_cast<size_t>(size));
  return target;
}

}  // namespace

void check_output_path(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT) return;
    fail(path, ": cannot check the output path: ", std::strerror(error),
         ": check that its folder exists and can be searched");
  }
  if (S_ISREG(info.st_mode)) return;
  // rename() fails with EISDIR over a directory, and this message explains more than EISDIR.
  if (S_ISDIR(info.st_mode)) {
    fail(path, " is a directory, not a regular file: name a file inside the directory or ",
         "another path");
  }

  std::string kind;
  std::string noun;
  std::string advice;
  if (S_ISLNK(info.st_mode)) {
    const std::string target = link_target(path);
    kind = target.empty() ? "a symbolic link" : "a symbolic link to " + target;
    noun = "link";
    advice = "write to the link's target or to another path";
  } else if (S_ISFIFO(info.st_mode)) {
    kind = "a named pipe (FIFO)";
    noun = "pipe";
    advice = "write to a regular file instead, because zae cannot stream an output into a pipe";
  } else if (S_ISSOCK(info.st_mode)) {
    kind = "a socket";
    noun = "socket";
    advice = "write to a regular file instead";
  } else if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode)) {
    kind = S_ISCHR(info.st_mode) ? "a character device" : "a block device";
    noun = "device node";
    advice =
        "write to a regular file instead (to discard an output, write it into a temporary "
        "folder and delete it)";
  } else {
    kind = "a special file";
    noun = "file";
    advice = "write to a regular file instead";
  }
  fail(path, " is ", kind, ", not a regular file. zae writes each output to a temporary file ",
       "and renames it over the target, which would replace the ", noun, ": ", advice);
}

}  // namespace zae
