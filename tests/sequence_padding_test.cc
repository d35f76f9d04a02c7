#include "tensor/sequence_padding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fastvideo {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

std::string ErrorOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "<no error>";
}

TEST(ComputePaddingForSpTest, RoundsUpToAMultiple) {
  EXPECT_THAT(compute_padding_for_sp(16, 4), Pair(16, 0));
  EXPECT_THAT(compute_padding_for_sp(17, 4), Pair(20, 3));
  EXPECT_THAT(compute_padding_for_sp(1, 8), Pair(8, 7));
  EXPECT_THAT(compute_padding_for_sp(0, 3), Pair(0, 0));
  EXPECT_THAT(compute_padding_for_sp(5, 1), Pair(5, 0));
}

TEST(ComputePaddingForSpTest, BadArguments) {
  EXPECT_THAT(ErrorOf([] { compute_padding_for_sp(4, 0); }),
              HasSubstr("sp_world_size must be positive, got 0"));
  EXPECT_THAT(ErrorOf([] { compute_padding_for_sp(-1, 2); }),
              HasSubstr("seq_len must be >= 0, got -1"));
}

TEST(PadSequenceTensorTest, PadsAlongTheSequenceDimWithTheValue) {
  torch::Tensor input = torch::rand({2, 5, 3});
  torch::Tensor padded = pad_sequence_tensor(input, 8, 1, -1.5);
  EXPECT_EQ(padded.sizes(), torch::IntArrayRef({2, 8, 3}));
  EXPECT_TRUE(torch::equal(padded.narrow(1, 0, 5), input));
  EXPECT_TRUE(torch::equal(padded.narrow(1, 5, 3),
                           torch::full({2, 3, 3}, -1.5)));
}

TEST(PadSequenceTensorTest, KeepsDtypeAndSupportsNegativeDims) {
  torch::Tensor input = torch::ones({3, 2}, torch::kBFloat16);
  torch::Tensor padded = pad_sequence_tensor(input, 4, -1);
  EXPECT_EQ(padded.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(padded.sizes(), torch::IntArrayRef({3, 4}));
  EXPECT_EQ(padded.sum().item<float>(), 6.0f);
}

TEST(PadSequenceTensorTest, ReturnsTheInputWhenLongEnough) {
  torch::Tensor input = torch::rand({2, 6});
  EXPECT_TRUE(pad_sequence_tensor(input, 6).is_same(input));
  EXPECT_TRUE(pad_sequence_tensor(input, 3).is_same(input));
}

TEST(PadSequenceTensorTest, BadDims) {
  EXPECT_THAT(ErrorOf([] { pad_sequence_tensor(torch::ones({2, 3}), 4, 2); }),
              HasSubstr("seq_dim 2 is out of range for a tensor of 2 dimensions"));
  EXPECT_THAT(ErrorOf([] { pad_sequence_tensor(torch::ones({2}), 4, -2); }),
              HasSubstr("seq_dim -2 is out of range"));
  EXPECT_THAT(ErrorOf([] { pad_sequence_tensor(torch::tensor(1.0), 4, 0); }),
              HasSubstr("0-dim tensor"));
}

TEST(UnpadSequenceTensorTest, PaddingThenUnpaddingReturnsTheInput) {
  torch::Tensor input = torch::rand({2, 7, 3});
  auto [padded_len, pad] = compute_padding_for_sp(7, 4);
  EXPECT_EQ(pad, 1);
  torch::Tensor padded = pad_sequence_tensor(input, padded_len);
  torch::Tensor restored = unpad_sequence_tensor(padded, 7);
  EXPECT_TRUE(torch::equal(restored, input));
  // A view of the padded tensor, not a copy.
  EXPECT_EQ(restored.storage().data(), padded.storage().data());
}

TEST(UnpadSequenceTensorTest, ClampsLikeAPythonSlice) {
  torch::Tensor input = torch::rand({2, 3});
  EXPECT_TRUE(torch::equal(unpad_sequence_tensor(input, 10), input));
  EXPECT_EQ(unpad_sequence_tensor(input, 0).size(1), 0);
}

TEST(UnpadSequenceTensorTest, BadArguments) {
  EXPECT_THAT(ErrorOf([] { unpad_sequence_tensor(torch::ones({2, 3}), 1, 5); }),
              HasSubstr("seq_dim 5 is out of range"));
  EXPECT_THAT(ErrorOf([] { unpad_sequence_tensor(torch::ones({2, 3}), -1); }),
              HasSubstr("original_seq_len must be >= 0, got -1"));
}

}  // namespace
}  // namespace fastvideo
