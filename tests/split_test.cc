#include "tensor/split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fastvideo {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "<no error>";
}

bool SharesStorage(const torch::Tensor& a, const torch::Tensor& b) {
  return a.storage().data() == b.storage().data();
}

TEST(SplitTest, ChunkValuesAndShapesAreInOrder) {
  torch::Tensor input = torch::arange(24).reshape({2, 3, 4});
  auto chunks = split_tensor_along_last_dim(input, 2);
  ASSERT_EQ(chunks.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(chunks[i].sizes(), torch::IntArrayRef({2, 3, 2}));
    EXPECT_TRUE(torch::equal(chunks[i],
                             input.index({"...", torch::indexing::Slice(
                                                     2 * i, 2 * i + 2)})));
  }
  EXPECT_EQ(chunks[1][1][2][0].item<int64_t>(), 1 * 12 + 2 * 4 + 2);
}

TEST(SplitTest, ChunksAreViewsOfTheInputByDefault) {
  torch::Tensor input = torch::zeros({3, 8});
  auto chunks = split_tensor_along_last_dim(input, 4);
  ASSERT_EQ(chunks.size(), 4u);
  for (const auto& chunk : chunks) {
    EXPECT_TRUE(SharesStorage(chunk, input));
    EXPECT_FALSE(chunk.is_contiguous());
  }
  chunks[2].fill_(5);  // writes through to the input
  EXPECT_EQ(input.sum().item<float>(), 5.0f * 3 * 2);
}

TEST(SplitTest, ContiguousChunksAreCopies) {
  torch::Tensor input = torch::rand({3, 8});
  auto chunks = split_tensor_along_last_dim(input, 4, true);
  ASSERT_EQ(chunks.size(), 4u);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(chunks[i].is_contiguous());
    EXPECT_FALSE(SharesStorage(chunks[i], input));
    EXPECT_TRUE(torch::equal(chunks[i], input.narrow(1, 2 * i, 2)));
  }
}

TEST(SplitTest, OneDimensionalChunksAreContiguousViews) {
  torch::Tensor input = torch::arange(6, torch::kFloat);
  for (bool contiguous : {false, true}) {
    auto chunks = split_tensor_along_last_dim(input, 3, contiguous);
    ASSERT_EQ(chunks.size(), 3u);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(chunks[i].is_contiguous());
      EXPECT_TRUE(SharesStorage(chunks[i], input));
      EXPECT_EQ(chunks[i][0].item<float>(), 2.0f * i);
    }
  }
}

TEST(SplitTest, KeepsEveryDtype) {
  for (auto dtype : {torch::kFloat, torch::kHalf, torch::kBFloat16,
                     torch::kInt, torch::kLong, torch::kBool,
                     torch::kDouble, torch::kUInt8}) {
    torch::Tensor input = torch::ones({2, 6}, torch::dtype(dtype));
    auto chunks = split_tensor_along_last_dim(input, 3, true);
    ASSERT_EQ(chunks.size(), 3u) << dtype;
    for (const auto& chunk : chunks) {
      EXPECT_EQ(chunk.scalar_type(), dtype);
      EXPECT_EQ(chunk.sizes(), torch::IntArrayRef({2, 2}));
      EXPECT_TRUE(torch::equal(chunk, torch::ones({2, 2}, dtype)));
    }
  }
}

TEST(SplitTest, NonContiguousInput) {
  torch::Tensor base = torch::arange(12).reshape({4, 3});
  torch::Tensor transposed = base.t();  // 3 x 4, strides (1, 3)
  ASSERT_FALSE(transposed.is_contiguous());
  auto views = split_tensor_along_last_dim(transposed, 2);
  auto copies = split_tensor_along_last_dim(transposed, 2, true);
  for (int64_t i = 0; i < 2; ++i) {
    torch::Tensor expected = transposed.narrow(1, 2 * i, 2);
    EXPECT_TRUE(torch::equal(views[i], expected));
    EXPECT_TRUE(torch::equal(copies[i], expected));
    EXPECT_TRUE(SharesStorage(views[i], base));
    EXPECT_TRUE(copies[i].is_contiguous());
  }
}

TEST(SplitTest, EmptyLastDimensionGivesEmptyChunks) {
  torch::Tensor input = torch::empty({3, 0});
  auto chunks = split_tensor_along_last_dim(input, 4);
  ASSERT_EQ(chunks.size(), 4u);
  for (const auto& chunk : chunks) {
    EXPECT_EQ(chunk.sizes(), torch::IntArrayRef({3, 0}));
  }
}

TEST(SplitTest, GradientsFlowBackThroughTheChunks) {
  torch::Tensor input = torch::rand({2, 6}, torch::requires_grad());
  for (bool contiguous : {false, true}) {
    input.mutable_grad() = torch::Tensor();
    auto chunks = split_tensor_along_last_dim(input, 3, contiguous);
    torch::Tensor loss = torch::zeros({});
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(chunks[i].requires_grad());
      loss = loss + chunks[i].sum() * (i + 1);
    }
    loss.backward();
    torch::Tensor expected =
        torch::tensor({1, 1, 2, 2, 3, 3}, torch::kFloat).expand({2, 6});
    EXPECT_TRUE(torch::equal(input.grad(), expected));
  }
}

TEST(SplitTest, BadArgumentsAreClearErrors) {
  EXPECT_THAT(ErrorOf([] { split_tensor_along_last_dim(torch::ones({2, 5}), 2); }),
              HasSubstr("5 is not divisible by 2"));
  EXPECT_THAT(ErrorOf([] { split_tensor_along_last_dim(torch::tensor(3.0), 1); }),
              HasSubstr("0-dim tensor"));
  EXPECT_THAT(ErrorOf([] { split_tensor_along_last_dim(torch::ones({4}), 0); }),
              HasSubstr("num_partitions must be positive, got 0"));
  EXPECT_THAT(ErrorOf([] { split_tensor_along_last_dim(torch::ones({4}), -2); }),
              HasSubstr("got -2"));
  EXPECT_THAT(ErrorOf([] { split_tensor_along_last_dim(torch::Tensor(), 2); }),
              HasSubstr("undefined"));
}

}  // namespace
}  // namespace fastvideo
