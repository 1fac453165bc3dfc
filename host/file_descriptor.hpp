// A POSIX file descriptor owned by one object and closed on scope exit, shared by the file
// writers and readers in host/.
#pragma once

#include <unistd.h>

#include <cerrno>

namespace zae {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }

  // Closes now and returns close()'s errno, or 0 on success, so that a deferred write error
  // is seen.
  int close_checked() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

}  // namespace zae
