# SPDX-License-Identifier: Apache-2.0
# The scalar reference (read by cmake/TernIsas.cmake): portable C++, built
# for every target with the target's baseline flags.
set(isa_runs_here TRUE)
