// Codecs round-trip every built-in type, and refuse wrong types, truncated
// and corrupt payloads without reading out of bounds.
#include "dist/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace fastvideo::dist {

// A user type with a codec of its own, as the README shows.
struct Point {
  int x = 0;
  std::string label;
  bool operator==(const Point& other) const {
    return x == other.x && label == other.label;
  }
};

template <>
struct Codec<Point> {
  static std::string Tag() { return "Point"; }
  static void Encode(const Point& p, Writer& out) { out.Put(p.x, p.label); }
  static absl::Status Decode(Reader& in, Point& p) { return in.Get(p.x, p.label); }
};

namespace {

using ::testing::HasSubstr;

enum class Color : uint8_t { kRed = 1, kBlue = 2 };

template <typename T>
void ExpectRoundTrip(const T& value) {
  absl::StatusOr<T> decoded = Decode<T>(Encode(value));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(*decoded == value) << Codec<T>::Tag();
}

TEST(CodecTest, ScalarsRoundTrip) {
  ExpectRoundTrip(int8_t{-7});
  ExpectRoundTrip(uint16_t{65535});
  ExpectRoundTrip(int32_t{-123456});
  ExpectRoundTrip(uint64_t{1} << 63);
  ExpectRoundTrip(3.25f);
  ExpectRoundTrip(-1e300);
  ExpectRoundTrip(true);
  ExpectRoundTrip('z');
  ExpectRoundTrip(Color::kBlue);
  ExpectRoundTrip(std::byte{0xAB});
  ExpectRoundTrip(std::monostate{});
}

TEST(CodecTest, StringsAndBytesRoundTrip) {
  ExpectRoundTrip(std::string());
  ExpectRoundTrip(std::string("hello\0world", 11));
  ExpectRoundTrip(std::string(100000, 'q'));
  ExpectRoundTrip(std::vector<uint8_t>{0, 1, 2, 255});
  ExpectRoundTrip(std::vector<std::byte>{std::byte{1}, std::byte{2}});
}

TEST(CodecTest, ContainersRoundTrip) {
  ExpectRoundTrip(std::vector<double>{1.5, -2.5});
  ExpectRoundTrip(std::vector<bool>{true, false, true});
  ExpectRoundTrip(std::vector<std::string>{"a", "", "ccc"});
  ExpectRoundTrip(std::array<int, 3>{1, 2, 3});
  ExpectRoundTrip(std::map<std::string, int>{{"a", 1}, {"b", 2}});
  ExpectRoundTrip(std::unordered_map<int, std::vector<int>>{{1, {1}}, {2, {}}});
  ExpectRoundTrip(std::make_pair(std::string("k"), 2.0));
  ExpectRoundTrip(std::make_tuple(1, std::string("two"), 3.0, false));
  ExpectRoundTrip(std::tuple<>());
  ExpectRoundTrip(std::optional<int>());
  ExpectRoundTrip(std::optional<std::string>("x"));
  ExpectRoundTrip(std::vector<std::map<int, std::optional<std::pair<int, int>>>>{
      {{1, std::nullopt}, {2, std::make_pair(3, 4)}}, {}});
}

TEST(CodecTest, UserTypesRoundTrip) {
  ExpectRoundTrip(Point{3, "p"});
  ExpectRoundTrip(std::vector<Point>{{1, "a"}, {2, "b"}});
}

TEST(CodecTest, WrongTypeNamesBothTypes) {
  absl::StatusOr<int> wrong = Decode<int>(Encode(std::string("x")));
  EXPECT_TRUE(absl::IsInvalidArgument(wrong.status())) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr("payload holds 'string' but was received as 'i32'"));
  auto nested = Decode<std::vector<int64_t>>(Encode(std::vector<int32_t>{1}));
  EXPECT_THAT(std::string(nested.status().message()),
              HasSubstr("'vector<i32>' but was received as 'vector<i64>'"));
  auto user = Decode<Point>(Encode(std::make_pair(1, std::string("p"))));
  EXPECT_THAT(std::string(user.status().message()),
              HasSubstr("'pair<i32,string>' but was received as 'Point'"));
}

TEST(CodecTest, EveryTruncationIsDataLoss) {
  const std::string payload =
      Encode(std::map<std::string, std::vector<double>>{{"key", {1.0, 2.0}}});
  for (size_t size = 0; size < payload.size(); ++size) {
    auto decoded =
        Decode<std::map<std::string, std::vector<double>>>(payload.substr(0, size));
    EXPECT_TRUE(absl::IsDataLoss(decoded.status()))
        << "truncated to " << size << ": " << decoded.status();
  }
}

TEST(CodecTest, TrailingBytesAreDataLoss) {
  std::string payload = Encode(7);
  payload.push_back('x');
  EXPECT_TRUE(absl::IsDataLoss(Decode<int>(payload).status()));
}

TEST(CodecTest, NotAPayloadIsDataLoss) {
  auto decoded = Decode<std::string>("definitely not a payload");
  EXPECT_TRUE(absl::IsDataLoss(decoded.status()));
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("magic"));
}

TEST(CodecTest, HugeCountsAreRefusedBeforeAllocating) {
  std::string body;
  Writer writer(&body);
  writer.PutU64(uint64_t{1} << 60);  // element count, with no elements
  const std::string payload = codec_internal::Frame("vector<i64>", body);
  auto decoded = Decode<std::vector<int64_t>>(payload);
  EXPECT_TRUE(absl::IsDataLoss(decoded.status())) << decoded.status();
  auto strings = Decode<std::vector<std::string>>(
      codec_internal::Frame("vector<string>", body));
  EXPECT_TRUE(absl::IsDataLoss(strings.status())) << strings.status();
}

TEST(CodecTest, CorruptBoolIsDataLoss) {
  std::string payload = Encode(true);
  payload.back() = 7;
  EXPECT_TRUE(absl::IsDataLoss(Decode<bool>(payload).status()));
}

TEST(CodecTest, DuplicateMapKeysAreDataLoss) {
  std::string body;
  Writer writer(&body);
  writer.PutU64(2);
  writer.Put(1, 10, 1, 20);
  auto decoded = Decode<std::map<int, int>>(codec_internal::Frame("map<i32,i32>", body));
  EXPECT_TRUE(absl::IsDataLoss(decoded.status())) << decoded.status();
}

}  // namespace
}  // namespace fastvideo::dist

namespace fastvideo::dist {
namespace {

// The rest of a payload, in memory, counting the reads a decoder asks for.
class CountingSource final : public ByteSource {
 public:
  explicit CountingSource(absl::string_view payload) : payload_(payload) {}
  absl::Status Read(uint64_t offset, void* destination, size_t size) override {
    EXPECT_LE(offset + size, payload_.size());
    std::memcpy(destination, payload_.data() + offset, size);
    ++reads_;
    largest_read_ = std::max(largest_read_, size);
    return absl::OkStatus();
  }
  int reads() const { return reads_; }
  size_t largest_read() const { return largest_read_; }

 private:
  absl::string_view payload_;
  int reads_ = 0;
  size_t largest_read_ = 0;
};

template <typename T>
T DecodeWithPrefix(const std::string& payload, size_t prefix, CountingSource& source) {
  T value{};
  const absl::Status status =
      DecodeInPlace(absl::string_view(payload).substr(0, prefix), payload.size(), source, value);
  EXPECT_TRUE(status.ok()) << "prefix " << prefix << ": " << status;
  return value;
}

template <typename T>
void ExpectEncodedInPlaceAsInMemory(const T& value) {
  const std::string expected = Encode(value);
  ASSERT_EQ(FramedSize(value), expected.size()) << Codec<T>::Tag();
  std::string span(expected.size(), '\0');
  ASSERT_TRUE(EncodeInto(value, span.data(), span.size())) << Codec<T>::Tag();
  EXPECT_EQ(span, expected) << Codec<T>::Tag();
  // A wrong size is refused, never overrun.
  std::string short_span(expected.size() + 8, '\0');
  EXPECT_FALSE(EncodeInto(value, short_span.data(), expected.size() - 1));
  EXPECT_EQ(short_span.substr(expected.size() - 1), std::string(9, '\0'));
  EXPECT_FALSE(EncodeInto(value, short_span.data(), expected.size() + 1));
}

TEST(InPlaceEncodeTest, SizedTypesEncodeIntoASpanAsInMemory) {
  ExpectEncodedInPlaceAsInMemory(int64_t{-5});
  ExpectEncodedInPlaceAsInMemory(std::string(1000, 'x'));
  ExpectEncodedInPlaceAsInMemory(std::vector<double>(1000, 0.5));
  ExpectEncodedInPlaceAsInMemory(std::vector<uint8_t>());
  static_assert(kHasEncodedSize<std::vector<float>>);
  static_assert(kHasEncodedSize<std::string>);
  // Sizing these would take a pass over them: they go through a buffer.
  static_assert(!kHasEncodedSize<std::vector<std::string>>);
  static_assert(!kHasEncodedSize<std::vector<bool>>);
  static_assert(!kHasEncodedSize<std::map<int, int>>);
}

TEST(InPlaceDecodeTest, EveryTypeDecodesFromAnyPrefix) {
  const std::vector<uint8_t> bytes(3 << 20, 7);
  std::vector<std::string> words;
  for (int i = 0; i < 100000; ++i) words.push_back(std::to_string(i));
  const std::map<std::string, std::vector<double>> table{{"a", {1, 2}}, {"b", {}}};
  const std::string bytes_payload = Encode(bytes), words_payload = Encode(words),
                    table_payload = Encode(table);
  for (size_t prefix : {size_t{0}, size_t{3}, size_t{17}, size_t{4096}}) {
    CountingSource bytes_source(bytes_payload), words_source(words_payload),
        table_source(table_payload);
    EXPECT_EQ(DecodeWithPrefix<std::vector<uint8_t>>(bytes_payload, prefix, bytes_source), bytes);
    EXPECT_EQ(DecodeWithPrefix<std::vector<std::string>>(words_payload, prefix, words_source),
              words);
    EXPECT_TRUE((DecodeWithPrefix<std::map<std::string, std::vector<double>>>(
                     table_payload, prefix, table_source) == table));
    // Small fields come through a buffer refilled in large steps, not one
    // read each.
    EXPECT_LT(words_source.reads(), 10) << "prefix " << prefix;
  }
}

TEST(InPlaceDecodeTest, BulkBytesAreReadStraightIntoTheirDestination) {
  const std::vector<uint8_t> bytes(3 << 20, 9);
  const std::string payload = Encode(bytes);
  CountingSource source(payload);
  EXPECT_EQ(DecodeWithPrefix<std::vector<uint8_t>>(payload, 4096, source), bytes);
  EXPECT_EQ(source.reads(), 1);
  EXPECT_EQ(source.largest_read(), payload.size() - 4096);
}

TEST(InPlaceDecodeTest, WrongTypesAndCorruptPayloadsAreRefusedAsInMemory) {
  const std::string payload = Encode(std::vector<uint8_t>(1 << 20, 1));
  CountingSource source(payload);
  std::string as_string;
  absl::Status wrong = DecodeInPlace(absl::string_view(payload).substr(0, 64), payload.size(),
                                     source, as_string);
  EXPECT_TRUE(absl::IsInvalidArgument(wrong)) << wrong;
  // A payload shorter than its header says: DataLoss, no read past the end.
  std::vector<uint8_t> value;
  for (size_t size : {payload.size() - 1, size_t{4096}, size_t{20}}) {
    const std::string cut = payload.substr(0, size);
    CountingSource cut_source(cut);
    absl::Status status = DecodeInPlace(absl::string_view(cut).substr(0, 16), cut.size(),
                                        cut_source, value);
    EXPECT_TRUE(absl::IsDataLoss(status)) << size << ": " << status;
  }
}

}  // namespace
}  // namespace fastvideo::dist
