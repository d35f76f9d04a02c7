// Deadline: a fixed time, or a timeout that starts at the first check.
#include "dist/internal/deadline.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fastvideo::dist {
namespace {

TEST(DeadlineTest, AFixedTimeHasPassedOrNot) {
  EXPECT_TRUE(Deadline::At(absl::Now() - absl::Seconds(1)).Passed());
  EXPECT_TRUE(Deadline::At(absl::InfinitePast()).Passed());
  EXPECT_FALSE(Deadline::At(absl::Now() + absl::Hours(1)).Passed());
  EXPECT_FALSE(Deadline::At(absl::InfiniteFuture()).Passed());
}

TEST(DeadlineTest, ATimeoutCountsFromTheFirstCheck) {
  Deadline zero = Deadline::After(absl::ZeroDuration());
  EXPECT_TRUE(zero.Passed());
  Deadline hour = Deadline::After(absl::Hours(1));
  EXPECT_FALSE(hour.Passed());
  EXPECT_FALSE(hour.Passed()) << "the second check must not restart or end it";
  // A short one, checked until it passes: it does, and stays passed.
  Deadline short_one = Deadline::After(absl::Milliseconds(2));
  const absl::Time first_check = absl::Now();
  while (!short_one.Passed()) {
  }
  EXPECT_GE(absl::Now() - first_check, absl::Milliseconds(2));
  EXPECT_TRUE(short_one.Passed());
}

}  // namespace
}  // namespace fastvideo::dist
