# SPDX-License-Identifier: Apache-2.0
# The ISAs tern knows, read from the one list of them,
# platform/include/tern/platform/isa_list.h (a line per ISA, written for the C
# preprocessor, TERN_ISA_X(enumerator, name, vector_bits)), and what each
# ISA's folder says about building it (kernels/<name>/isa.cmake).
#
# Included once by the top CMakeLists.txt, before TERN_ISAS is defined.
# Defines, for every CMakeLists.txt of tern:
#   TERN_ALL_ISAS                every ISA of isa_list.h, in its order
#   TERN_TARGET_ISAS             those whose kernels run on the target
#                                processor: the default of TERN_ISAS
#   TERN_ISA_VECTOR_BITS_<name>  the vector width the list gives
#   TERN_ISA_COMPILE_FLAGS_<name>, TERN_ISA_CPUINFO_FLAGS_<name>
#                                what kernels/<name>/isa.cmake gives (below);
#                                kernels/CMakeLists.txt publishes the compile
#                                flags as the INTERFACE target tern_isa_<name>,
#                                which is what other directories use.
#
# kernels/<name>/isa.cmake sets, for the processor being built for
# (CMAKE_SYSTEM_PROCESSOR, TERN_BARE_METAL):
#   isa_runs_here       TRUE when this target can have the ISA
#   isa_compile_flags   the compiler flags of the ISA's kernel units
#   isa_cpuinfo_flags   the words the "flags" line of /proc/cpuinfo shows on
#                       an x86 build machine that runs the ISA (empty: no
#                       such check)

set(_tern_isa_list ${PROJECT_SOURCE_DIR}/platform/include/tern/platform/isa_list.h)
# Reconfigure when the list changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_tern_isa_list})
file(STRINGS ${_tern_isa_list} _tern_isa_lines REGEX "^TERN_ISA_X\\(")

function(_tern_read_isa_folder name)
  set(isa_runs_here FALSE)
  set(isa_compile_flags "")
  set(isa_cpuinfo_flags "")
  set(_file ${PROJECT_SOURCE_DIR}/kernels/${name}/isa.cmake)
  if(NOT EXISTS ${_file})
    message(FATAL_ERROR "isa_list.h lists '${name}' but ${_file} does not exist")
  endif()
  include(${_file})
  set(TERN_ISA_RUNS_HERE_${name} ${isa_runs_here} PARENT_SCOPE)
  set(TERN_ISA_COMPILE_FLAGS_${name} "${isa_compile_flags}" PARENT_SCOPE)
  set(TERN_ISA_CPUINFO_FLAGS_${name} "${isa_cpuinfo_flags}" PARENT_SCOPE)
endfunction()

set(TERN_ALL_ISAS "")
set(TERN_TARGET_ISAS "")
foreach(_line IN LISTS _tern_isa_lines)
  if(NOT _line MATCHES "^TERN_ISA_X\\(k[A-Za-z0-9]+, *([a-z0-9_]+), *([0-9]+)\\)")
    message(FATAL_ERROR "isa_list.h: cannot read '${_line}'")
  endif()
  set(_name ${CMAKE_MATCH_1})
  list(APPEND TERN_ALL_ISAS ${_name})
  set(TERN_ISA_VECTOR_BITS_${_name} ${CMAKE_MATCH_2})
  _tern_read_isa_folder(${_name})
  if(TERN_ISA_RUNS_HERE_${_name})
    list(APPEND TERN_TARGET_ISAS ${_name})
  endif()
endforeach()
if(NOT "scalar" IN_LIST TERN_ALL_ISAS)
  message(FATAL_ERROR "isa_list.h has no scalar line: the reference table is always built")
endif()
