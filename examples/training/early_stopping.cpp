// SPDX-License-Identifier: Apache-2.0
// The early-stopping rule (early_stopping.h).
#include "training/early_stopping.h"

#include <cmath>

namespace tern::training {

EarlyStopping::Decision EarlyStopping::observe(double validation_loss) {
  Decision d;
  ++epochs_;
  // std::isfinite, not a comparison alone: +infinity is below nothing, but
  // a NaN would slip past `<` checks written the other way round.
  if (std::isfinite(validation_loss) && validation_loss < best_loss_) {
    best_loss_ = validation_loss;
    best_epoch_ = epochs_;
    d.improved = true;
  }
  if (patience_ != 0 && epochs_without_improvement() >= patience_) stopped_ = true;
  d.stop = stopped_;
  return d;
}

}  // namespace tern::training
