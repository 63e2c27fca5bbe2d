// SPDX-License-Identifier: Apache-2.0
// tern/runtime/persist.h — everything for getting a model in and out, in one
// include. Each part has its own header:
//   byte_io.h          ByteSink, ByteSource, Storage and their memory and
//                      file adapters
//   crc32.h            the checksum of model files and checkpoints
//   model_file.h       save_model / load_model: the versioned binary format
//   c_header_export.h  export_c_header / load_parameters: weights as C source
//   safetensors.h      load_safetensors / save_safetensors: PyTorch's format
// Checkpoints (two slots, power-fail-safe) are in checkpoint.h.
#pragma once

#include "tern/runtime/byte_io.h"
#include "tern/runtime/c_header_export.h"
#include "tern/runtime/crc32.h"
#include "tern/runtime/model_file.h"
#include "tern/runtime/safetensors.h"
