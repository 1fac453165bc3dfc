// NumPy .npy files: reading (float32, float64, uint8; C or Fortran order; format versions 1, 2
// and 3) and writing float32 arrays atomically.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zae {

enum class NpyType { Float32, Float64, UInt8 };

struct NpyHeader {
  int major_version = 1;
  NpyType dtype = NpyType::Float32;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // bytes from the start of the file to the first element

  int64_t element_count() const;
};

// Reads and validates the header of `path`. Throws zae::Error naming the file and the
// offending value for a missing file, bad magic, unsupported version or dtype (big-endian,
// object, other types), malformed dictionary, or a file shorter than the header promises.
NpyHeader read_npy_header(const std::string& path);

// A 2-D float32 C-order view of an .npy file: the first axis is rows, all further axes are
// flattened into columns (N x 8 x 8 x 3 patches become N x 192). A float32 C-order file is
// memory-mapped and read in place; any other dtype or order is converted once into owned
// memory. A 1-D array is one column per row. uint8 values keep their value (0 to 255), as
// arr.astype(np.float32) does. An array with zero rows or columns loads as an empty matrix, so
// callers that need data check rows() and cols(). A 0-d array is rejected.
class NpyMatrix {
 public:
  static NpyMatrix load(const std::string& path);
  // Takes ownership of data already in memory, rows x cols.
  static NpyMatrix from_vector(std::vector<float> data, int64_t rows, int64_t cols);

  NpyMatrix();
  NpyMatrix(NpyMatrix&&) noexcept;
  NpyMatrix& operator=(NpyMatrix&&) noexcept;
  ~NpyMatrix();

  const float* data() const { return data_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // The shape as stored in the file (or {rows, cols} for from_vector).
  const std::vector<int64_t>& shape() const { return shape_; }
  // True when data() points into a read-only mapping of the file rather than owned memory.
  bool mapped() const { return map_ != nullptr; }
  // Drops the pages of rows [first, first + count) from this process's resident set when the
  // file is mapped. They stay in the page cache and are read again if touched. A no-op for
  // owned memory, so a pass over a large file can keep only its current block resident.
  void release_rows(int64_t first, int64_t count) const;

 private:
  const float* data_ = nullptr;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  std::vector<int64_t> shape_;
  std::vector<float> owned_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

// Writes a float32 C-order .npy (version 1.0) through write_file_atomic, so that `path` is
// either the old file or the complete new one, and a link or special file there is rejected.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);

// One contiguous piece of a file's contents.
struct ByteSpan {
  const void* data = nullptr;
  size_t size = 0;
};

// Writes the spans in order to `path` + ".tmp-<pid>" in the same folder, fsyncs it and renames
// it over `path`. When `path` exists and is not a regular file (a symbolic link, directory, pipe,
// socket or device), it throws zae::Error before creating anything (see check_output_path). On
// any other failure the temporary file is removed, `path` is left as it was, and zae::Error
// names the file and the failing call. Two threads of one process writing the same path would
// share the temporary name, so callers must not do that.
void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& spans);

}  // namespace zae
