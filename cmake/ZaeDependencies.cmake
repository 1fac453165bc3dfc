# Third-party libraries, all from Debian packages (scripts/install-deps.sh installs them).
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)

# OpenBLAS: the OpenMP build (libopenblas-openmp-dev), so that sgemm and the element-wise
# OpenMP loops share one thread pool. The pthreads build spins a second pool against OpenMP.
find_path(ZAE_OPENBLAS_INCLUDE cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/openblas
  NO_DEFAULT_PATH)
find_library(ZAE_OPENBLAS_LIBRARY openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
if(NOT ZAE_OPENBLAS_INCLUDE OR NOT ZAE_OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: run scripts/install-deps.sh "
                      "or install libopenblas-openmp-dev")
endif()
add_library(zae::openblas INTERFACE IMPORTED)
set_target_properties(zae::openblas PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${ZAE_OPENBLAS_INCLUDE}"
  INTERFACE_LINK_LIBRARIES "${ZAE_OPENBLAS_LIBRARY}")

# stb_image / stb_image_write from libstb-dev (static library plus headers).
find_path(ZAE_STB_INCLUDE stb/stb_image.h)
find_library(ZAE_STB_LIBRARY NAMES libstb.a stb)
if(NOT ZAE_STB_INCLUDE OR NOT ZAE_STB_LIBRARY)
  message(FATAL_ERROR "stb not found: run scripts/install-deps.sh or install libstb-dev")
endif()
add_library(zae::stb INTERFACE IMPORTED)
set_target_properties(zae::stb PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${ZAE_STB_INCLUDE}"
  INTERFACE_LINK_LIBRARIES "${ZAE_STB_LIBRARY};m")
