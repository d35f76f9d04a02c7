// Tensors and IValues through the codecs.
#include "dist/torch_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>

namespace fastvideo::dist {
namespace {

using ::testing::HasSubstr;

TEST(TorchCodecTest, TensorsOfEveryDtypeRoundTrip) {
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16,
                     torch::kInt8, torch::kUInt8, torch::kInt, torch::kLong,
                     torch::kBool, torch::kComplexFloat}) {
    torch::Tensor tensor = (torch::rand({3, 4}) * 10).to(dtype);
    absl::StatusOr<torch::Tensor> decoded = Decode<torch::Tensor>(Encode(tensor));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(*decoded, tensor)) << dtype;
  }
}

TEST(TorchCodecTest, AnyStridesInContiguousOut) {
  torch::Tensor base = torch::arange(24, torch::kFloat).reshape({2, 3, 4});
  torch::Tensor strided = base.permute({2, 0, 1}).narrow(0, 1, 2);
  ASSERT_FALSE(strided.is_contiguous());
  auto decoded = Decode<torch::Tensor>(Encode(strided));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->is_contiguous());
  EXPECT_TRUE(torch::equal(*decoded, strided));
}

TEST(TorchCodecTest, EmptyScalarAndUndefinedTensors) {
  for (const torch::Tensor& tensor :
       {torch::empty({0, 5}), torch::tensor(3.5), torch::ones({1})}) {
    auto decoded = Decode<torch::Tensor>(Encode(tensor));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->sizes(), tensor.sizes());
    EXPECT_TRUE(torch::equal(*decoded, tensor));
  }
  auto undefined = Decode<torch::Tensor>(Encode(torch::Tensor()));
  ASSERT_TRUE(undefined.ok()) << undefined.status();
  EXPECT_FALSE(undefined->defined());
}

TEST(TorchCodecTest, CorruptTensorPayloadsAreDataLoss) {
  const std::string payload = Encode(torch::ones({4, 4}));
  for (size_t size = 0; size < payload.size(); size += 7) {
    auto decoded = Decode<torch::Tensor>(payload.substr(0, size));
    EXPECT_TRUE(absl::IsDataLoss(decoded.status())) << size << decoded.status();
  }
  // A shape that does not match the data.
  std::string body;
  Writer writer(&body);
  writer.PutU64(static_cast<uint64_t>(torch::kFloat));
  writer.PutU64(2);
  writer.Put(int64_t{1000}, int64_t{1000});
  writer.PutU64(16);
  writer.PutBytes("0123456789abcdef", 16);
  auto mismatched = Decode<torch::Tensor>(codec_internal::Frame("tensor", body));
  EXPECT_TRUE(absl::IsDataLoss(mismatched.status())) << mismatched.status();
}

TEST(TorchCodecTest, PlainIValuesRoundTrip) {
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("name", std::string("run-7"));
  config.insert("lr", 0.25);
  config.insert("layers", c10::List<int64_t>({1, 2, 3}));
  config.insert("weights", torch::ones({2, 2}));
  const c10::IValue value(config);
  auto decoded = Decode<c10::IValue>(Encode(value));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  auto dict = decoded->toGenericDict();
  EXPECT_EQ(dict.at("name").toStringRef(), "run-7");
  EXPECT_EQ(dict.at("lr").toDouble(), 0.25);
  EXPECT_EQ(dict.at("layers").toIntVector(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(torch::equal(dict.at("weights").toTensor(), torch::ones({2, 2})));
}

TEST(TorchCodecTest, CorruptPickleIsDataLoss) {
  std::string body;
  Writer writer(&body);
  writer.PutU64(5);
  writer.PutBytes("\x80\x02junk", 5);
  auto decoded = Decode<c10::IValue>(codec_internal::Frame("ivalue", body));
  EXPECT_TRUE(absl::IsDataLoss(decoded.status())) << decoded.status();
}

TEST(TorchCodecTest, OnlyPlainDataIsAccepted) {
  auto future = c10::make_intrusive<c10::ivalue::Future>(c10::IntType::get());
  c10::impl::GenericList list(c10::AnyType::get());
  list.push_back(c10::IValue(1));
  list.push_back(c10::IValue(future));
  absl::Status status = CheckPlainData(c10::IValue(list));
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("only plain data"));
  EXPECT_TRUE(CheckPlainData(c10::IValue(std::string("ok"))).ok());
  // Refused before anything is encoded, naming the reason.
  try {
    (void)Encode(c10::IValue(list));
    ADD_FAILURE() << "a Future was encoded";
  } catch (const c10::Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("only plain data"));
  }
}

// The rest of a payload, in memory (a stand-in for a peer's window).
class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(absl::string_view payload) : payload_(payload) {}
  absl::Status Read(uint64_t offset, void* destination, size_t size) override {
    std::memcpy(destination, payload_.data() + offset, size);
    return absl::OkStatus();
  }

 private:
  absl::string_view payload_;
};

TEST(TorchCodecTest, TensorsEncodeIntoASpanAsInMemory) {
  const at::Tensor base = torch::arange(24, torch::kFloat64).reshape({4, 6});
  for (const at::Tensor& tensor :
       {base, base.t(), base.slice(1, 0, 6, 2), torch::zeros({0, 3}), at::Tensor(),
        torch::tensor(7, torch::kInt8), base.to_sparse()}) {
    const std::string expected = Encode(tensor);
    ASSERT_EQ(FramedSize(tensor), expected.size());
    std::string span(expected.size(), '\0');
    ASSERT_TRUE(EncodeInto(tensor, span.data(), span.size()));
    EXPECT_EQ(span, expected);
  }
}

TEST(TorchCodecTest, TensorIntoWritesTheGivenStorageOrNamesTheMismatch) {
  const at::Tensor sent = torch::arange(6, torch::kInt32).reshape({2, 3});
  const std::string payload = Encode(sent);
  at::Tensor target = torch::zeros({2, 3}, torch::kInt32);
  const void* storage = target.data_ptr();
  TensorInto into{&target};
  ASSERT_TRUE(DecodeInto(payload, into).ok());
  EXPECT_EQ(target.data_ptr(), storage);
  EXPECT_TRUE(torch::equal(target, sent));
  for (at::Tensor wrong : {torch::zeros({3, 2}, torch::kInt32), torch::zeros({2, 3})}) {
    TensorInto into_wrong{&wrong};
    absl::Status status = DecodeInto(payload, into_wrong);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("received a Int tensor of shape [2, 3]"));
  }
  TensorInto into_again{&target};
  absl::Status undefined = DecodeInto(Encode(at::Tensor()), into_again);
  EXPECT_THAT(std::string(undefined.message()), HasSubstr("received an undefined tensor"));
}

TEST(TorchCodecTest, TensorsAndIValuesDecodeInPlace) {
  const at::Tensor big = torch::arange(1 << 18, torch::kFloat32);
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("weights", big);
  config.insert("name", std::string(100000, 'n'));  // a pickle longer than the prefix
  const std::string tensor_payload = Encode(big), ivalue_payload = Encode(c10::IValue(config));
  MemorySource tensor_source(tensor_payload), ivalue_source(ivalue_payload);
  at::Tensor tensor;
  ASSERT_TRUE(DecodeInPlace(absl::string_view(tensor_payload).substr(0, 4096),
                            tensor_payload.size(), tensor_source, tensor).ok());
  EXPECT_TRUE(torch::equal(tensor, big));
  c10::IValue value;
  absl::Status status = DecodeInPlace(absl::string_view(ivalue_payload).substr(0, 4096),
                                      ivalue_payload.size(), ivalue_source, value);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(torch::equal(value.toGenericDict().at("weights").toTensor(), big));
  EXPECT_EQ(value.toGenericDict().at("name").toStringRef(), std::string(100000, 'n'));
}

TEST(TorchCodecTest, IValueTensorsTravelOutsideThePickle) {
  const at::Tensor big = torch::arange(1 << 16, torch::kInt64);
  c10::impl::GenericList list(c10::AnyType::get());
  list.push_back(big);
  list.push_back(big.slice(0, 0, 10, 3));  // strided: arrives contiguous
  const std::string payload = Encode(c10::IValue(list));
  auto decoded = Decode<c10::IValue>(payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const auto& elements = decoded->toListRef();
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_TRUE(torch::equal(elements[0].toTensor(), big));
  EXPECT_TRUE(torch::equal(elements[1].toTensor(), big.slice(0, 0, 10, 3)));
  // Every truncation of a payload with tensors is DataLoss, never a crash.
  for (size_t size : {payload.size() - 1, payload.size() / 2, size_t{40}}) {
    auto cut = Decode<c10::IValue>(absl::string_view(payload).substr(0, size));
    EXPECT_TRUE(absl::IsDataLoss(cut.status())) << size << ": " << cut.status();
  }
}

}  // namespace
}  // namespace fastvideo::dist
