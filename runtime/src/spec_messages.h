// SPDX-License-Identifier: Apache-2.0
// Private to the runtime: the Status a failed spec check becomes, naming the
// layer and the widths that disagree.
#pragma once

#include "tern/platform/status.h"
#include "tern/runtime/spec.h"

namespace tern {

Status spec_status(const ModelSpec& spec, const SpecCheck& check);

}  // namespace tern
