#include "trex/train/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace trex {
namespace {
std::string clock_text(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d", s / 60, s % 60);
  return buf;
}
}  // namespace

Progress::Progress(bool quiet) : quiet_(quiet), tty_(isatty(STDOUT_FILENO) != 0) {}

void Progress::start_epoch(std::int64_t epoch, std::int64_t epochs, std::size_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  images_ = 0;
  loss_sum_ = 0;
  loss_count_ = 0;
  start_ = last_draw_ = train_end_ = std::chrono::steady_clock::now();
}

void Progress::update(std::size_t batch, std::size_t images, double loss) {
  images_ += images;
  loss_sum_ += loss;
  ++loss_count_;
  const auto now = std::chrono::steady_clock::now();
  train_end_ = now;
  if (quiet_ || !tty_) return;
  if (batch != batches_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(images_) / elapsed : 0;
  const double eta = batch ? elapsed * static_cast<double>(batches_ - batch) / static_cast<double>(batch) : 0;
  const int width = 24;
  const int filled =
      static_cast<int>(width * static_cast<double>(batch) / static_cast<double>(std::max<std::size_t>(1, batches_)));
  std::string bar(static_cast<std::size_t>(filled), '=');
  bar += std::string(static_cast<std::size_t>(width - filled), ' ');
  std::printf("\repoch %lld/%lld [%s] %zu/%zu  loss %.4f  %.0f img/s  ETA %s ", static_cast<long long>(epoch_ + 1),
              static_cast<long long>(epochs_), bar.c_str(), batch, batches_,
              loss_sum_ / static_cast<double>(loss_count_), rate, clock_text(eta).c_str());
  std::fflush(stdout);
}

void Progress::end_epoch(const std::map<std::string, double>& metrics, double lr, double seconds,
                         std::size_t train_images, bool best) {
  const double train_seconds = std::chrono::duration<double>(train_end_ - start_).count();
  images_per_second_ = train_seconds > 0 ? static_cast<double>(train_images) / train_seconds : 0;
  if (quiet_) return;
  if (tty_) std::printf("\r\033[K");
  std::printf("epoch %lld/%lld", static_cast<long long>(epoch_ + 1), static_cast<long long>(epochs_));
  for (const auto& [key, v] : metrics) std::printf("  %s %.4f", key.c_str(), v);
  // A decimal below 100 img/s: ImageNet backbones on two cores run at 5-50,
  // where a whole number hides 10% (the transfer benchmarks read this line).
  std::printf("  lr %.3g  %.1fs  %.*f img/s  data wait %.0f%%%s\n", lr, seconds, images_per_second_ < 100 ? 1 : 0,
              images_per_second_, train_seconds > 0 ? 100 * data_wait_ / train_seconds : 0.0, best ? "  *best" : "");
  std::fflush(stdout);
}

}  // namespace trex
