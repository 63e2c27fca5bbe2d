/* SPDX-License-Identifier: Apache-2.0 */
/* The exported header must also be valid C99. */
#include "exported_net.h"

unsigned long exported_net_c_floats(void) {
  return (unsigned long)(sizeof exported_net_parameters / sizeof exported_net_parameters[0]) +
         0ul * (unsigned long)exported_net_architecture[0];
}
