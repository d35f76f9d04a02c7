// GoogleTest main for multi-rank tests: initializes MPI, runs the tests on
// every rank, has rank 0 report which tests failed on which rank, and makes
// every rank exit with the worst result of all ranks, so that mpirun fails
// if any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "dist/mpi_runtime.h"

namespace {

// "Suite.Test,Suite.Other" for the tests that failed on this rank.
std::string FailedTests() {
  std::string names;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int s = 0; s < unit.total_test_suite_count(); ++s) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(s);
    for (int t = 0; t < suite.total_test_count(); ++t) {
      const ::testing::TestInfo& test = *suite.GetTestInfo(t);
      if (!test.result()->Failed()) continue;
      if (!names.empty()) names += ", ";
      names += std::string(suite.name()) + "." + test.name();
    }
  }
  return names;
}

// Rank 0 prints one line per rank that failed, naming its failed tests.
void ReportFailuresOnRankZero() {
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::string mine = FailedTests();
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(size), offsets(size);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::string all(total, '\0');
  MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
              0, MPI_COMM_WORLD);
  if (rank != 0) return;
  int failed_ranks = 0;
  for (int r = 0; r < size; ++r) {
    if (lengths[r] == 0) continue;
    ++failed_ranks;
    std::printf("rank %d of %d failed: %s\n", r, size, all.substr(offsets[r], lengths[r]).c_str());
  }
  if (failed_ranks == 0) std::printf("all %d ranks passed\n", size);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int worst = 0;
  {
    // MPI set up as programs using the library get it (FUNNELED, the
    // one-sided components MpiRuntime admits); finalized at the brace.
    fastvideo::MpiRuntime mpi(&argc, &argv);
    ::testing::InitGoogleTest(&argc, argv);
    int result = RUN_ALL_TESTS();
    ReportFailuresOnRankZero();
    MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  }
  return worst;
}
