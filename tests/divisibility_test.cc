#include "tensor/divisibility.h"

#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fastvideo {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(void (*call)()) {
  try {
    call();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "<no error>";
}

TEST(DivideTest, ReturnsTheExactQuotient) {
  EXPECT_EQ(divide(12, 4), 3);
  EXPECT_EQ(divide(0, 5), 0);
  EXPECT_EQ(divide(7, 7), 1);
  EXPECT_EQ(divide(int64_t{1} << 40, 1024), int64_t{1} << 30);
}

TEST(DivideTest, NegativeValuesBehaveAsInPython) {
  EXPECT_EQ(divide(-6, 3), -2);
  EXPECT_EQ(divide(6, -3), -2);
  EXPECT_EQ(divide(-6, -3), 2);
  EXPECT_THROW(divide(-7, 2), c10::Error);
}

TEST(DivideTest, NotDivisibleGivesTheSeedsMessage) {
  EXPECT_THAT(ErrorOf([] { divide(10, 4); }),
              HasSubstr("10 is not divisible by 4"));
  EXPECT_THAT(ErrorOf([] { ensure_divisibility(9, 2); }),
              HasSubstr("9 is not divisible by 2"));
}

TEST(DivideTest, ZeroDenominatorIsAClearError) {
  EXPECT_THAT(ErrorOf([] { divide(8, 0); }),
              HasSubstr("cannot divide 8 by 0"));
  EXPECT_THAT(ErrorOf([] { ensure_divisibility(0, 0); }),
              HasSubstr("denominator must be non-zero"));
}

TEST(EnsureDivisibilityTest, AcceptsMultiples) {
  EXPECT_NO_THROW(ensure_divisibility(64, 8));
  EXPECT_NO_THROW(ensure_divisibility(0, 3));
  EXPECT_NO_THROW(ensure_divisibility(-9, 3));
}

}  // namespace
}  // namespace fastvideo
