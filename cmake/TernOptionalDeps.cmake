# SPDX-License-Identifier: Apache-2.0
# The optional dependencies, looked up once, here, and only for what is
# built: the libraries need none of them (a C++17 compiler, CMake and xsimd
# suffice). A missing one is not an error: the targets that need it are left
# out and ONE configure message says which, and which Debian package brings
# it. The subdirectories test <name>_FOUND (or the imported target) instead
# of looking the package up again.
#
#   doctest          the test suite (TERN_BUILD_TESTS)
#   Highway (hwy)    tern-isa-oracle-tests, the independent check of the
#                    CPU detection (TERN_BUILD_TESTS)
#   Google Benchmark tern-bench (TERN_BUILD_BENCH)
#   OpenBLAS, Eigen  tern-bench's peers (TERN_BUILD_BENCH)
#   zlib             the IDX reader: tern-train-fashion, tern-edit-fashion,
#                    their tests, the Fashion-MNIST epoch benchmark
#
# -DCMAKE_DISABLE_FIND_PACKAGE_<name>=ON hides an installed one (.ci/consumers
# does that for all of them).

function(tern_optional_missing what package skipped)
  if(CMAKE_CROSSCOMPILING AND CMAKE_LIBRARY_ARCHITECTURE)
    # A cross build needs the target's package (Debian multiarch), e.g.
    # zlib1g-dev:arm64; the message names the target.
    set(what "${what} for ${CMAKE_SYSTEM_PROCESSOR}")
  endif()
  message(STATUS "tern: ${what} not found (Debian: ${package}): ${skipped}")
endfunction()

if(TERN_BUILD_TESTS)
  find_package(doctest QUIET)
  if(NOT doctest_FOUND)
    tern_optional_missing(doctest doctest-dev "no test suite (TERN_BUILD_TESTS)")
  else()
    # Highway is the independent oracle for the x86 CPUID/XGETBV detection.
    find_package(hwy QUIET)
    if(NOT hwy_FOUND)
      tern_optional_missing("Highway (hwy)" libhwy-dev
                            "no tern-isa-oracle-tests (CPU detection against Highway)")
    endif()
  endif()
endif()

if(TERN_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND AND CMAKE_CROSSCOMPILING AND NOT CMAKE_DISABLE_FIND_PACKAGE_benchmark)
    # No Google Benchmark library for the target: bench/ compiles the
    # tern-bench sources against the host's headers instead (and says so).
    find_path(TERN_BENCHMARK_INCLUDE_DIR benchmark/benchmark.h)
  endif()
  if(NOT benchmark_FOUND AND NOT TERN_BENCHMARK_INCLUDE_DIR)
    tern_optional_missing("Google Benchmark" libbenchmark-dev "no tern-bench (TERN_BUILD_BENCH)")
  endif()
  if(benchmark_FOUND)
    # Debian's libopenblas-dev ships a CMake config (it points at the variant
    # the alternatives system selected: pthread, openmp or serial); elsewhere
    # look for the library and header directly.
    find_package(OpenBLAS CONFIG QUIET)
    if(NOT OpenBLAS_FOUND AND NOT CMAKE_DISABLE_FIND_PACKAGE_OpenBLAS)
      find_library(TERN_OPENBLAS_LIBRARY NAMES openblas)
      find_path(TERN_OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
      if(TERN_OPENBLAS_LIBRARY AND TERN_OPENBLAS_INCLUDE_DIR)
        set(OpenBLAS_FOUND TRUE)
        set(OpenBLAS_LIBRARIES ${TERN_OPENBLAS_LIBRARY})
        set(OpenBLAS_INCLUDE_DIRS ${TERN_OPENBLAS_INCLUDE_DIR})
      endif()
    endif()
    if(NOT OpenBLAS_FOUND)
      tern_optional_missing(OpenBLAS libopenblas-dev "tern-bench without its OpenBLAS peer")
    endif()
    find_package(Eigen3 3.3 CONFIG QUIET)
    if(NOT TARGET Eigen3::Eigen)
      tern_optional_missing(Eigen libeigen3-dev "tern-bench without its Eigen peer")
    endif()
  endif()
endif()

# (The bare-metal examples are the firmware programs, which read no files.)
if((TERN_BUILD_EXAMPLES AND NOT TERN_BARE_METAL) OR TERN_BUILD_TESTS OR TERN_BUILD_BENCH OR
   TERN_BUILD_FUZZERS)
  # Looked up for the target: a cross build without the target's zlib
  # simply has none of these.
  find_package(ZLIB QUIET)
  if(NOT ZLIB_FOUND)
    tern_optional_missing(zlib zlib1g-dev
      "no IDX reader: no tern-train-fashion, tern-edit-fashion, their tests or the Fashion-MNIST epoch benchmark")
    if(TERN_BUILD_FUZZERS)
      message(FATAL_ERROR "TERN_BUILD_FUZZERS: the IDX reader's fuzz targets need zlib (zlib1g-dev)")
    endif()
  endif()
endif()
