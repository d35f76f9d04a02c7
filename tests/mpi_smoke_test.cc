// Shows that the mpi_test targets really run several ranks that talk:
// every rank exchanges its rank with every other rank, point to point and
// through a one-sided window, and checks what it got.
#include <gtest/gtest.h>
#include <mpi.h>

#include <vector>

namespace {

int Rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int Size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

TEST(MpiSmokeTest, EveryRankExchangesItsRankWithEveryOther) {
  const int rank = Rank(), size = Size();
  std::vector<int> sent(size), got(size, -1);
  for (int peer = 0; peer < size; ++peer) sent[peer] = rank * 1000 + peer;
  std::vector<MPI_Request> requests(2 * size);
  for (int peer = 0; peer < size; ++peer) {
    MPI_Irecv(&got[peer], 1, MPI_INT, peer, 7, MPI_COMM_WORLD, &requests[peer]);
    MPI_Isend(&sent[peer], 1, MPI_INT, peer, 7, MPI_COMM_WORLD,
              &requests[size + peer]);
  }
  ASSERT_EQ(MPI_Waitall(2 * size, requests.data(), MPI_STATUSES_IGNORE),
            MPI_SUCCESS);
  for (int peer = 0; peer < size; ++peer) {
    EXPECT_EQ(got[peer], peer * 1000 + rank) << "from rank " << peer;
  }
}

TEST(MpiSmokeTest, EveryRankReadsEveryOtherRanksWindow) {
  const int rank = Rank(), size = Size();
  int* exposed = nullptr;
  MPI_Win window;
  ASSERT_EQ(MPI_Win_allocate(sizeof(int), sizeof(int), MPI_INFO_NULL,
                             MPI_COMM_WORLD, &exposed, &window),
            MPI_SUCCESS);
  *exposed = 100 + rank;
  MPI_Barrier(MPI_COMM_WORLD);  // everyone's value is in place

  std::vector<int> got(size, -1);
  MPI_Win_lock_all(0, window);
  for (int peer = 0; peer < size; ++peer) {
    MPI_Get(&got[peer], 1, MPI_INT, peer, 0, 1, MPI_INT, window);
  }
  MPI_Win_unlock_all(window);
  for (int peer = 0; peer < size; ++peer) {
    EXPECT_EQ(got[peer], 100 + peer) << "window of rank " << peer;
  }
  MPI_Win_free(&window);
}

}  // namespace
