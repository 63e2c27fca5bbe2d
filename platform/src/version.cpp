// SPDX-License-Identifier: Apache-2.0
// The version compiled into the library, for comparison with the headers'.
#include "tern/version.h"

namespace tern {

const char* library_version() { return TERN_VERSION_STRING; }

}  // namespace tern
