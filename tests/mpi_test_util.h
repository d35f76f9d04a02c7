// Helpers shared by the multi-rank tests.
#ifndef FASTVIDEO_DIST_TESTS_MPI_TEST_UTIL_H_
#define FASTVIDEO_DIST_TESTS_MPI_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dist/stateless_process_group.h"

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

// Options of a test's group: its window and a default timeout well below
// the harness's, so that a hang fails with a message naming what it waited for.
inline GroupOptions TestGroupOptions(uint64_t window_bytes, std::string name = "",
                                     absl::Duration timeout = absl::Seconds(60)) {
  GroupOptions options;
  options.name = std::move(name);
  options.window_bytes = window_bytes;
  options.default_timeout = timeout;
  return options;
}

}  // namespace fastvideo::testing

#endif  // FASTVIDEO_DIST_TESTS_MPI_TEST_UTIL_H_
