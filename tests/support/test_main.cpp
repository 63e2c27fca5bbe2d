// SPDX-License-Identifier: Apache-2.0
// doctest's main, plus a banner with the ISAs this run can exercise, so a log
// shows which vector paths were really tested on this machine.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tern/kernels/isa_selection.h"

int main(int argc, char** argv) {
  char built[64], cpu[64];
  tern::format_isa_mask(tern::built_isas(), built, sizeof built);
  tern::format_isa_mask(tern::cpu_isas(), cpu, sizeof cpu);
  std::printf("tern tests: ISAs built [%s], supported by this CPU [%s]\n", built, cpu);
  doctest::Context context(argc, argv);
  return context.run();
}
