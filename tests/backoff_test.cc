// Backoff: how a waiting loop spins, yields and sleeps, and when it reads
// the clock.
#include "dist/internal/backoff.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"

namespace fastvideo::dist {
namespace {

// Pauses `backoff` until its spinning is over; returns the pauses it took.
int SpinOut(Backoff& backoff) {
  while (true) {
    backoff.Pause();
    if (backoff.JustStoppedSpinning()) return backoff.rounds();
  }
}

TEST(BackoffTest, SpinningReadsTheClockEverySixteenthRoundThenAlways) {
  Backoff backoff(/*oversubscribed=*/false);
  EXPECT_TRUE(backoff.ShouldCheckClock()) << "the first round";
  int checks = 0;
  for (int round = 0; round < 64; ++round) {
    checks += backoff.ShouldCheckClock();
    backoff.Pause();
    if (backoff.JustStoppedSpinning()) GTEST_SKIP() << "this thread was descheduled 100 us";
  }
  EXPECT_EQ(checks, 4);  // rounds 0, 16, 32, 48
  SpinOut(backoff);
  for (int round = 0; round < 10; ++round) {
    EXPECT_TRUE(backoff.ShouldCheckClock()) << "past spinning, round " << round;
    backoff.Pause();
  }
}

TEST(BackoffTest, ARankWithACoreSpinsForItsTimeThenStopsOnce) {
  const absl::Time start = absl::Now();
  Backoff backoff(/*oversubscribed=*/false);
  const int rounds = SpinOut(backoff);
  EXPECT_GE(absl::Now() - start, Backoff::kSpinTime);
  EXPECT_EQ(rounds % 16, 0) << "it stops where it reads the clock";
  for (int round = 0; round < 100; ++round) {
    backoff.Pause();
    EXPECT_FALSE(backoff.JustStoppedSpinning()) << "again, " << round << " rounds later";
  }
}

TEST(BackoffTest, AnOversubscribedRankSpinsSixteenRounds) {
  Backoff backoff(/*oversubscribed=*/true);
  EXPECT_EQ(SpinOut(backoff), 16);
  for (int round = 0; round < 100; ++round) {
    backoff.Pause();
    EXPECT_FALSE(backoff.JustStoppedSpinning()) << "again, " << round << " rounds later";
  }
}

}  // namespace
}  // namespace fastvideo::dist
