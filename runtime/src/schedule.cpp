// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules: the check, the factor of a step and the portable
// cosine it uses (tern/runtime/schedule.h has the formula and the reasons).
#include "tern/runtime/schedule.h"

namespace tern {
namespace {

// sin(pi t) and cos(pi t) for t in [0, 1/4]: u = pi t <= pi/4, Taylor
// polynomials in u^2 by Horner's rule. The coefficients are 1/n! rounded to
// float; the first omitted terms, u^13/13! and u^12/12!, are below 2e-10.
constexpr float kPi = 3.14159265358979323846f;

float sin_pi_quarter(float t) {
  const float u = kPi * t, v = u * u;
  float p = -2.5052108e-8f;         // -1/11!
  p = p * v + 2.7557319e-6f;        // 1/9!
  p = p * v + -1.9841270e-4f;       // -1/7!
  p = p * v + 8.3333333e-3f;        // 1/5!
  p = p * v + -1.6666667e-1f;       // -1/3!
  return u + u * (v * p);
}

float cos_pi_quarter(float t) {
  const float u = kPi * t, v = u * u;
  float p = -2.7557319e-7f;         // -1/10!
  p = p * v + 2.4801587e-5f;        // 1/8!
  p = p * v + -1.3888889e-3f;       // -1/6!
  p = p * v + 4.1666667e-2f;        // 1/4!
  p = p * v + -0.5f;                // -1/2!
  return 1.0f + v * p;
}

// base^n by squaring: the same multiplications in the same order for every
// n, whatever its size (n can be up to 2^64 - 1), at most 128 of them.
float power(float base, std::uint64_t n) {
  float result = 1.0f;
  while (n != 0) {
    if ((n & 1u) != 0) result = result * base;
    base = base * base;
    n >>= 1;
  }
  return result;
}

bool in_unit_interval(float v) { return v >= 0.0f && v <= 1.0f; }  // false for NaN

}  // namespace

float cos_pi(float x) {
  if (!(x > 0.0f)) x = 0.0f;  // NaN too
  if (x > 1.0f) x = 1.0f;
  // cos(pi x) = -cos(pi (1 - x)): fold to [0, 1/2].
  const bool negate = x > 0.5f;
  const float y = negate ? 1.0f - x : x;
  // [0, 1/4]: the cosine polynomial; (1/4, 1/2]: cos(pi y) = sin(pi (1/2 - y)).
  const float c = y <= 0.25f ? cos_pi_quarter(y) : sin_pi_quarter(0.5f - y);
  return negate ? -c : c;
}

Status check_schedule(const LearningRateSchedule& s) {
  const char* op = "set_schedule";
  if (!in_unit_interval(s.min_factor)) {
    return Status::error(StatusCode::kInvalidArgument, "%s: min_factor %g must be in [0, 1]", op,
                         format_arg(s.min_factor));
  }
  switch (s.kind) {
    case ScheduleKind::kConstant:
      return Status();
    case ScheduleKind::kStepDecay:
      if (s.decay_steps == 0) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: step decay needs decay_steps >= 1 (steps between drops)", op);
      }
      if (!(s.decay_factor > 0.0f && s.decay_factor <= 1.0f)) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: step decay factor %g must be in (0, 1]", op,
                             format_arg(s.decay_factor));
      }
      return Status();
    case ScheduleKind::kCosine:
      if (s.total_steps == 0) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: a cosine schedule needs total_steps >= 1", op);
      }
      if (s.warmup_steps > s.total_steps) {
        return Status::error(StatusCode::kInvalidArgument,
                             "%s: warmup_steps %llu exceed total_steps %llu", op,
                             static_cast<unsigned long long>(s.warmup_steps),
                             static_cast<unsigned long long>(s.total_steps));
      }
      return Status();
  }
  return Status::error(StatusCode::kInvalidArgument, "%s: unknown schedule kind %u", op,
                       static_cast<unsigned>(s.kind));
}

float schedule_factor(const LearningRateSchedule& s, std::uint64_t step) {
  if (step < s.warmup_steps) {
    return static_cast<float>(step + 1) / static_cast<float>(s.warmup_steps);
  }
  const std::uint64_t t = step - s.warmup_steps;
  switch (s.kind) {
    case ScheduleKind::kConstant:
      return 1.0f;
    case ScheduleKind::kStepDecay: {
      const float f = power(s.decay_factor, t / s.decay_steps);
      return f > s.min_factor ? f : s.min_factor;
    }
    case ScheduleKind::kCosine: {
      if (step >= s.total_steps) return s.min_factor;
      const float p = static_cast<float>(t) / static_cast<float>(s.total_steps - s.warmup_steps);
      const float half = 0.5f * (1.0f + cos_pi(p));
      return s.min_factor + (1.0f - s.min_factor) * half;
    }
  }
  return 1.0f;
}

}  // namespace tern
