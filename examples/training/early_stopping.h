// SPDX-License-Identifier: Apache-2.0
// Early stopping for the host-side training examples (tern-train-fashion):
// what to do after each epoch, given its validation loss.
//
// The rule, the one most frameworks use: an epoch improves when its
// validation loss is strictly below the best so far (the first finite loss
// always does); each improvement is the moment to keep a copy of the
// weights (WeightSnapshot, weight_snapshot.h); `patience` epochs in a row
// without an improvement stop the training, and the copy of the best epoch
// is what the run keeps. A loss that is not finite never improves (a NaN
// compares false with everything, and must not become the best). Patience
// 0 never stops: the best epoch is still tracked, so the best weights are
// kept all the same.
//
// Pure bookkeeping, no model and no I/O, so that it is tested on its own
// (tests/examples/test_early_stopping.cpp).
#pragma once

#include <cstdint>
#include <limits>

namespace tern::training {

class EarlyStopping {
 public:
  // What observe() decided for an epoch.
  struct Decision {
    bool improved = false;  // a new best: snapshot the weights now
    bool stop = false;      // `patience` epochs without improvement: stop now
  };

  explicit EarlyStopping(std::uint32_t patience) : patience_(patience) {}

  // Records the validation loss of the next epoch (epochs count from 1).
  Decision observe(double validation_loss);

  std::uint32_t patience() const { return patience_; }
  // Epochs observed so far.
  std::uint32_t epochs() const { return epochs_; }
  // The best epoch and its loss; 0 and +infinity before any finite loss.
  std::uint32_t best_epoch() const { return best_epoch_; }
  double best_loss() const { return best_loss_; }
  // Epochs since the best one (all of them before any finite loss).
  std::uint32_t epochs_without_improvement() const { return epochs_ - best_epoch_; }
  bool stopped() const { return stopped_; }

 private:
  std::uint32_t patience_;
  std::uint32_t epochs_ = 0;
  std::uint32_t best_epoch_ = 0;
  double best_loss_ = std::numeric_limits<double>::infinity();
  bool stopped_ = false;
};

}  // namespace tern::training
