// Backoff: how a waiting loop spins, yields and sleeps, and when it reads
// the clock.
#include "dist/internal/backoff.h"

#include <gtest/gtest.h>

namespace fastvideo::dist {
namespace {

TEST(BackoffTest, SpinningReadsTheClockEverySixteenthRoundThenAlways) {
  Backoff backoff(/*oversubscribed=*/false);
  EXPECT_TRUE(backoff.ShouldCheckClock()) << "the first round";
  int checks = 0;
  for (int round = 0; round < 64; ++round) {
    checks += backoff.ShouldCheckClock();
    backoff.Pause();
  }
  EXPECT_EQ(checks, 4);  // rounds 0, 16, 32, 48
  for (int round = 0; round < 10; ++round) {
    EXPECT_TRUE(backoff.ShouldCheckClock()) << "past spinning, round " << 64 + round;
    backoff.Pause();
  }
}

TEST(BackoffTest, ItStopsSpinningOnceAndSoonerWhenOversubscribed) {
  Backoff alone(/*oversubscribed=*/false), crowded(/*oversubscribed=*/true);
  int alone_stops = 0, crowded_stops = 0, alone_at = -1, crowded_at = -1;
  for (int round = 0; round < 200; ++round) {
    if (alone.JustStoppedSpinning()) alone_stops++, alone_at = round;
    if (crowded.JustStoppedSpinning()) crowded_stops++, crowded_at = round;
    alone.Pause();
    crowded.Pause();
  }
  EXPECT_EQ(alone_stops, 1);
  EXPECT_EQ(crowded_stops, 1);
  EXPECT_LT(crowded_at, alone_at);
}

}  // namespace
}  // namespace fastvideo::dist
