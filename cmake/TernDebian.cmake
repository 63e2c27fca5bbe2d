# SPDX-License-Identifier: Apache-2.0
# The Debian packages, made by CPack from the install components
# (cmake/TernInstall.cmake): `cpack -G DEB` in a build directory gives
#   libtern-dev_<version>-1_<arch>.deb  static libraries, headers, CMake
#                                       package, tern.pc (component dev);
#                                       no run-time dependency at all
#   tern-tools_<version>-1_<arch>.deb   tern-info, tern-bench (component
#                                       tools); depends on what they link
# Each holds /usr/share/doc/<package>/copyright (DEP-5) and
# changelog.Debian.gz. Cross builds (the aarch64 and armv7 presets) package
# for the target architecture (arm64, armhf).

set(TERN_DEB_MAINTAINER "tern maintainers <tern@users.noreply.github.com>")
set(TERN_DEB_REVISION 1)
set(TERN_DEB_VERSION ${PROJECT_VERSION}-${TERN_DEB_REVISION})

# ---- /usr/share/doc/<package>: copyright and changelog.Debian.gz ----------
# The changelog's entries, newest first; its first line must name the
# package version CPack writes (TERN_DEB_VERSION).
set(TERN_DEB_CHANGELOG "\
tern (${TERN_DEB_VERSION}) unstable; urgency=medium

  * First release, tern ${PROJECT_VERSION}: the static libraries, headers,
    CMake package and pkg-config file (libtern-dev), and the tools
    tern-info and tern-bench (tern-tools).

 -- ${TERN_DEB_MAINTAINER}  Sun, 06 Dec 2026 12:00:00 +0000
")
if(NOT TERN_DEB_CHANGELOG MATCHES "^tern \\(${TERN_DEB_VERSION}\\) ")
  message(FATAL_ERROR "cmake/TernDebian.cmake: the changelog's first entry is not ${TERN_DEB_VERSION}")
endif()

# Machine-readable copyright (DEP-5). The licence text itself is Debian's
# copy in base-files, as for every Apache-2.0 package.
set(TERN_DEB_COPYRIGHT "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tern
Upstream-Contact: ${TERN_DEB_MAINTAINER}

Files: *
Copyright: 2026 tern contributors
License: Apache-2.0

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the \"License\");
 you may not use this file except in compliance with the License.
 You may obtain a copy of the License at
 .
     http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an \"AS IS\" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 See the License for the specific language governing permissions and
 limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in \"/usr/share/common-licenses/Apache-2.0\".
")

set(_tern_deb_doc ${PROJECT_BINARY_DIR}/debian-doc)
file(WRITE ${_tern_deb_doc}/copyright "${TERN_DEB_COPYRIGHT}")
file(WRITE ${_tern_deb_doc}/changelog.Debian "${TERN_DEB_CHANGELOG}")
# gzip -9n: no name or time stamp in the header, so the file is the same
# in every build (Debian policy 12.7 asks for -9).
find_program(TERN_GZIP gzip)
if(TERN_GZIP)
  execute_process(COMMAND ${TERN_GZIP} -9nc ${_tern_deb_doc}/changelog.Debian
                  OUTPUT_FILE ${_tern_deb_doc}/changelog.Debian.gz RESULT_VARIABLE _tern_gzip_status)
else()
  set(_tern_gzip_status "gzip not found")
endif()
if(NOT _tern_gzip_status EQUAL 0)
  message(FATAL_ERROR "changelog.Debian.gz for the Debian packages: ${_tern_gzip_status}")
endif()

set(_tern_deb_components dev)
if(TERN_INSTALLED_TOOLS)
  list(APPEND _tern_deb_components tools)
endif()
set(_tern_deb_package_dev libtern-dev)
set(_tern_deb_package_tools tern-tools)
foreach(_component IN LISTS _tern_deb_components)
  install(FILES ${_tern_deb_doc}/copyright ${_tern_deb_doc}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_tern_deb_package_${_component}}
          COMPONENT ${_component})
endforeach()

# ---- CPack ------------------------------------------------------------------
set(CPACK_PACKAGE_NAME tern)
set(CPACK_PACKAGE_VENDOR tern)
set(CPACK_PACKAGE_CONTACT "${TERN_DEB_MAINTAINER}")
# Each package's description starts with its own synopsis line. CPackDeb
# puts CPACK_PACKAGE_DESCRIPTION_SUMMARY in front of a component's
# description unless it is CPack's placeholder ("<project> built using
# CMake"), so the summary is left at that placeholder, used nowhere else.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL ${_tern_deb_components})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)           # <package>_<version>-<revision>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TERN_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE ${TERN_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_SOURCE tern)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# libtern-dev: static archives and text files; nothing to run, so nothing
# it depends on at run time (in particular none of tern-bench's OpenBLAS,
# gfortran or Google Benchmark).
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtern-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_DESCRIPTION "small neural networks on embedded CPUs: static libraries, headers
tern is a C++17 runtime that trains and runs small neural networks on
embedded CPUs, with SIMD kernels chosen at run time for the CPU.
This package holds its static libraries, the C++ headers (tern/) and the
C API (tern.h), the CMake package (find_package(tern), target tern::tern or
tern::c) and the pkg-config file tern.pc.")

# tern-tools: its Depends are those of the programs it holds.
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME tern-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "small neural networks on embedded CPUs: tern-info, tern-bench
tern is a C++17 runtime that trains and runs small neural networks on
embedded CPUs, with SIMD kernels chosen at run time for the CPU.
This package holds tern-info, which reports the CPU and the kernel table
tern selects on it (tern-info --self-check checks every table against the
scalar reference), and, where it was built, the benchmark tern-bench.")
if(CMAKE_CROSSCOMPILING)
  # Cross builds (the aarch64 and armv7 presets) package for the target:
  # Debian's architecture name, and stated dependencies, because
  # dpkg-shlibdeps cannot read a foreign binary's needs without that
  # architecture's libraries installed. (A cross build links tern-bench
  # only with the target's Google Benchmark, which CI does not install.)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE armhf)
  endif()
  set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "libc6, libstdc++6, libgcc-s1")
else()
  set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)    # what tern-info and tern-bench link
endif()
include(CPack)
