// Helpers shared by the multi-rank tests.
#ifndef FASTVIDEO_DIST_TESTS_MPI_TEST_UTIL_H_
#define FASTVIDEO_DIST_TESTS_MPI_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <mpi.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const absl::Status fv_status_ = (expr);              \
    ASSERT_TRUE(fv_status_.ok()) << fv_status_;          \
  } while (false)

#define EXPECT_OK(expr)                                  \
  do {                                                   \
    const absl::Status fv_status_ = (expr);              \
    EXPECT_TRUE(fv_status_.ok()) << fv_status_;          \
  } while (false)

// Unwraps a StatusOr into `lhs` or fails the test.
#define FV_CONCAT_INNER(a, b) a##b
#define FV_CONCAT(a, b) FV_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  FV_ASSIGN_OR_FAIL(FV_CONCAT(fv_or_, __LINE__), lhs, expr)
#define FV_ASSIGN_OR_FAIL(var, lhs, expr)            \
  auto var = (expr);                                 \
  ASSERT_TRUE(var.ok()) << var.status();             \
  lhs = *std::move(var)

namespace fastvideo::testing {

inline int WorldRank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

inline int WorldSize() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

}  // namespace fastvideo::testing

#endif  // FASTVIDEO_DIST_TESTS_MPI_TEST_UTIL_H_
