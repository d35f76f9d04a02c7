// The group's tensor conveniences and tensor/IValue objects across ranks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include "dist/stateless_process_group.h"
#include "dist/torch_codec.h"
#include "tensor/split.h"
#include "tests/mpi_test_util.h"

namespace fastvideo {
namespace {

using ::testing::HasSubstr;

StatelessProcessGroup MakeWorld() {
  absl::StatusOr<StatelessProcessGroup> group =
      StatelessProcessGroup::Create(MPI_COMM_WORLD, testing::TestGroupOptions(4 << 20));
  EXPECT_TRUE(group.ok()) << group.status();
  return *std::move(group);
}

TEST(ProcessGroupTensorTest, SendAndRecvIntoATensor) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  torch::Tensor mine = torch::full({3, 5}, me, torch::kFloat).t();  // strided
  ASSERT_OK(group.send(mine, (me + 1) % n));
  torch::Tensor got = torch::zeros({5, 3});
  ASSERT_OK(group.recv(got, (me - 1 + n) % n));
  EXPECT_TRUE(torch::equal(got, torch::full({5, 3}, (me - 1 + n) % n, torch::kFloat)));
}

TEST(ProcessGroupTensorTest, RecvIntoTheWrongShapeIsAClearError) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  ASSERT_OK(group.send(torch::ones({2, 3}, torch::kInt), (me + 1) % n));
  torch::Tensor wrong = torch::zeros({3, 2}, torch::kInt);
  absl::Status status = group.recv(wrong, (me - 1 + n) % n);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("received a Int tensor of shape [2, 3] into a Int tensor of shape [3, 2]"));
  // The message stays queued: a tensor of the right shape gets it.
  torch::Tensor right = torch::zeros({2, 3}, torch::kInt);
  ASSERT_OK(group.recv(right, (me - 1 + n) % n));
  EXPECT_TRUE(torch::equal(right, torch::ones({2, 3}, torch::kInt)));
  torch::Tensor undefined;
  EXPECT_TRUE(absl::IsInvalidArgument(group.recv(undefined, (me - 1 + n) % n)));
}

TEST(ProcessGroupTensorTest, LargeTensorsLandInTheGivenStorage) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  const int dst = (me + 1) % n, src = (me - 1 + n) % n;
  // 512 KiB: read in place, straight into `got`'s storage.
  ASSERT_OK(group.send(torch::full({512, 256}, me, torch::kFloat), dst));
  torch::Tensor got = torch::zeros({512, 256});
  const void* storage = got.data_ptr();
  ASSERT_OK(group.recv(got, src));
  EXPECT_EQ(got.data_ptr(), storage);
  EXPECT_TRUE(torch::equal(got, torch::full({512, 256}, src, torch::kFloat)));
  // A strided destination is filled through a copy.
  ASSERT_OK(group.send(torch::full({256, 512}, me, torch::kFloat), dst));
  torch::Tensor transposed = torch::zeros({512, 256}).t();
  ASSERT_OK(group.recv(transposed, src));
  EXPECT_TRUE(torch::equal(transposed, torch::full({256, 512}, src, torch::kFloat)));
  for (int root = 0; root < n; ++root) {
    torch::Tensor tensor = me == root ? torch::full({1 << 16}, root + 1.0, torch::kDouble)
                                      : torch::zeros({1 << 16}, torch::kDouble);
    ASSERT_OK(group.broadcast(tensor, root));
    EXPECT_TRUE(torch::equal(tensor, torch::full({1 << 16}, root + 1.0, torch::kDouble)));
  }
  // Both point-to-point tensors and every broadcast from another rank (512 KiB
  // each, in a 4 MiB window: one chunk). Alone, the point-to-point ones went
  // to self, never through the window.
  EXPECT_EQ(group.stats().objects_read_in_place, (n > 1 ? 2u : 0u) + (n - 1));
}

TEST(ProcessGroupTensorTest, BroadcastFillsEveryRanksTensor) {
  StatelessProcessGroup group = MakeWorld();
  torch::Tensor tensor = group.rank() == 0 ? torch::arange(12, torch::kDouble)
                                           : torch::zeros({12}, torch::kDouble);
  ASSERT_OK(group.broadcast(tensor, 0));
  EXPECT_TRUE(torch::equal(tensor, torch::arange(12, torch::kDouble)));
}

TEST(ProcessGroupTensorTest, AllReduceWithEveryOp) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  struct Case {
    ReduceOp op;
    double expected;
  };
  double sum = 0, product = 1;
  for (int r = 0; r < n; ++r) {
    sum += r + 1;
    product *= r + 1;
  }
  for (const Case& c : {Case{ReduceOp::kSum, sum}, Case{ReduceOp::kProduct, product},
                        Case{ReduceOp::kMin, 1.0}, Case{ReduceOp::kMax, double(n)}}) {
    torch::Tensor tensor = torch::full({4}, me + 1, torch::kDouble);
    ASSERT_OK(group.all_reduce(tensor, c.op));
    EXPECT_TRUE(torch::equal(tensor, torch::full({4}, c.expected, torch::kDouble)))
        << static_cast<int>(c.op) << ": " << tensor;
  }
}

TEST(ProcessGroupTensorTest, ShardsOfASplitTravelToTheirRanks) {
  StatelessProcessGroup group = MakeWorld();
  const int n = group.world_size(), me = group.rank();
  torch::Tensor full = torch::arange(4 * 2 * n, torch::kFloat).reshape({4, 2 * n});
  auto shards = split_tensor_along_last_dim(full, n);
  // Rank 0 hands every rank its shard (views: the codec sends their values).
  if (me == 0) {
    for (int r = 0; r < n; ++r) ASSERT_OK(group.send(shards[r], r));
  }
  torch::Tensor mine = torch::empty({4, 2});
  ASSERT_OK(group.recv(mine, 0));
  EXPECT_TRUE(torch::equal(mine, shards[me]));
}

TEST(ProcessGroupTensorTest, IValueConfigsBroadcast) {
  StatelessProcessGroup group = MakeWorld();
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  if (group.rank() == 0) {
    config.insert("model", std::string("wan-1.3b"));
    config.insert("sp_size", int64_t{group.world_size()});
  }
  ASSERT_OK_AND_ASSIGN(c10::IValue got, group.broadcast_obj(c10::IValue(config), 0));
  auto dict = got.toGenericDict();
  EXPECT_EQ(dict.at("model").toStringRef(), "wan-1.3b");
  EXPECT_EQ(dict.at("sp_size").toInt(), group.world_size());
}

}  // namespace
}  // namespace fastvideo
