// SPDX-License-Identifier: Apache-2.0
#include "tern/runtime/arena.h"

namespace tern {

Status Arena::attach(void* buffer, std::size_t bytes) {
  base_ = nullptr;
  capacity_ = offset_ = high_water_ = 0;
  if (buffer == nullptr) {
    return Status::error(StatusCode::kInvalidArgument, "arena: buffer is null");
  }
  const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(buffer);
  if (address % kCacheLine != 0) {
    return Status::error(StatusCode::kMisaligned,
                         "arena: buffer at %p is not %u-byte aligned (declare it "
                         "alignas(%u))",
                         buffer, kCacheLine, kCacheLine);
  }
  base_ = static_cast<unsigned char*>(buffer);
  capacity_ = bytes / kCacheLine * kCacheLine;
  return Status();
}

Status Arena::allocate_bytes(std::size_t bytes, void** out) {
  if (base_ == nullptr) {
    return Status::error(StatusCode::kFailedPrecondition, "arena: not attached to a buffer");
  }
  if (bytes > SIZE_MAX - kCacheLine) return too_many(bytes, 1);
  const std::size_t rounded = align_up(bytes);
  if (rounded > capacity_ - offset_) {
    const std::size_t needed = offset_ + rounded;
    return Status::error(StatusCode::kOutOfMemory,
                         "arena: out of space: requested %zu bytes (%zu aligned), %zu of %zu "
                         "bytes free; the arena needs at least %zu bytes",
                         bytes, rounded, capacity_ - offset_, capacity_, needed);
  }
  *out = base_ + offset_;
  offset_ += rounded;
  if (offset_ > high_water_) high_water_ = offset_;
  return Status();
}

void Arena::rollback(Mark m) {
  if (m.offset <= offset_) offset_ = m.offset;
}

Status Arena::too_many(std::size_t count, std::size_t elem_bytes) const {
  return Status::error(StatusCode::kOutOfMemory,
                       "arena: request of %zu x %zu bytes overflows the address space", count,
                       elem_bytes);
}

}  // namespace tern
