# SPDX-License-Identifier: Apache-2.0
# Flags every tern target gets, and the extra ones library code gets.

# -ffp-contract=off: GCC contracts a*b+c into an FMA by default when the
# target has one. tern's results must not depend on which translation unit
# the compiler happened to contract, or the scalar and vector kernels would
# disagree in the last bit. Every FMA in tern is written explicitly.
add_compile_options(-Wall -Wextra -ffp-contract=off)

if(TERN_SANITIZE)
  string(REPLACE ";" "," _tern_san "${TERN_SANITIZE}")
  add_compile_options(-fsanitize=${_tern_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_tern_san})
endif()

# Library code may run in firmware: no exceptions, no RTTI.
function(tern_library_options target)
  target_compile_options(${target} PRIVATE -fno-exceptions -fno-rtti -Wshadow -Wconversion
                                           -Wno-sign-conversion)
endfunction()

# 32-bit ARM: GCC notes at every std::vector of 8-byte-aligned elements that
# their parameter passing changed in GCC 7.1 (-Wpsabi). That concerns linking
# with objects from GCC 6 or older; everything here is built by one compiler.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(arm|armv7.*)$")
  add_compile_options(-Wno-psabi)
endif()
