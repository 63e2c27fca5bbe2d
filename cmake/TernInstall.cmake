# SPDX-License-Identifier: Apache-2.0
# `cmake --install`: headers, the static libraries, a CMake package with
# namespaced targets (find_package(tern) -> tern::tern, tern::c,
# tern::runtime, tern::kernels, tern::platform), a pkg-config file, and the
# tools tern-info and tern-bench when they are built. Two install components,
# one per Debian package that CPack makes from them (cpack -G DEB in the
# build directory, see cmake/TernDebian.cmake):
#   dev    libtern-dev: the libraries, headers, CMake package and tern.pc
#   tools  tern-tools: tern-info, tern-bench
# `cmake --install <build> --component dev` installs the first alone.
include(CMakePackageConfigHelpers)

set(_tern_cmakedir_help "Where the CMake package files go, relative to the prefix (empty: <libdir>/cmake/tern)")
set(TERN_INSTALL_CMAKEDIR "" CACHE STRING "${_tern_cmakedir_help}")
if(TERN_INSTALL_CMAKEDIR STREQUAL "lib/cmake/tern" AND NOT CMAKE_INSTALL_LIBDIR STREQUAL "lib")
  # The old default, cached before the multiarch libdir: follow the libdir.
  set(TERN_INSTALL_CMAKEDIR "" CACHE STRING "${_tern_cmakedir_help}" FORCE)
endif()
if(TERN_INSTALL_CMAKEDIR STREQUAL "")
  set(TERN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tern)
endif()

install(TARGETS tern_platform tern_kernels tern_runtime tern_c tern
        EXPORT ternTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/platform/include/ ${PROJECT_SOURCE_DIR}/kernels/include/
                  ${PROJECT_SOURCE_DIR}/runtime/include/ ${PROJECT_SOURCE_DIR}/capi/include/
                  ${TERN_GENERATED_INCLUDE_DIR}/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h")
install(EXPORT ternTargets NAMESPACE tern:: DESTINATION ${TERN_INSTALL_CMAKEDIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ternConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ternConfig.cmake INSTALL_DESTINATION ${TERN_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ternConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ternConfig.cmake ${PROJECT_BINARY_DIR}/ternConfigVersion.cmake
        DESTINATION ${TERN_INSTALL_CMAKEDIR} COMPONENT dev)

# pkg-config: static libraries, so the link line lists every layer in
# dependency order plus what they need from the system (libm; libstdc++ for
# a C program, whose driver does not add it).
# The prefix is found relative to the .pc file (pkg-config's pcfiledir), so
# the same file serves `cmake --install --prefix <anywhere>` and the .deb.
file(RELATIVE_PATH TERN_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
set(TERN_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(TERN_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/tern.pc.in ${PROJECT_BINARY_DIR}/tern.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tern.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

set(TERN_INSTALLED_TOOLS "")
foreach(_tool IN ITEMS tern-info tern-bench)
  if(TARGET ${_tool})
    install(TARGETS ${_tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
    list(APPEND TERN_INSTALLED_TOOLS ${_tool})
  endif()
endforeach()

# Debian packages of the hosted builds (a bare-metal build has no Debian
# architecture: its libraries are copied into a firmware project instead).
if(NOT TERN_BARE_METAL)
  include(${CMAKE_CURRENT_LIST_DIR}/TernDebian.cmake)
endif()

