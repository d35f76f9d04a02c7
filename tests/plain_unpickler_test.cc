// The plain-data unpickler: what libtorch's pickler writes comes back the
// same; anything else is refused without touching libtorch's unpickler.
#include "dist/internal/plain_unpickler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dist/internal/ivalue_type_tag.h"

namespace fastvideo::dist {
namespace {

using ::testing::HasSubstr;

// Same kind, same type (container element types included), same values;
// tensors must be the very tensors of the table.
void ExpectSame(const c10::IValue& expected, const c10::IValue& actual, const std::string& path) {
  ASSERT_EQ(expected.type()->annotation_str(), actual.type()->annotation_str()) << path;
  if (expected.isTensor()) {
    EXPECT_TRUE(expected.toTensor().is_same(actual.toTensor())) << path;
  } else if (expected.isList() || expected.isTuple()) {
    const auto& want = expected.isList() ? expected.toListRef() : expected.toTupleRef().elements();
    const auto& got = actual.isList() ? actual.toListRef() : actual.toTupleRef().elements();
    ASSERT_EQ(want.size(), got.size()) << path;
    for (size_t i = 0; i < want.size(); ++i) {
      ExpectSame(want[i], got[i], path + "[" + std::to_string(i) + "]");
    }
  } else if (expected.isGenericDict()) {
    const c10::impl::GenericDict want = expected.toGenericDict(), got = actual.toGenericDict();
    ASSERT_EQ(want.size(), got.size()) << path;
    for (auto w = want.begin(), g = got.begin(); w != want.end(); ++w, ++g) {
      ExpectSame(w->key(), g->key(), path + ".key");
      ExpectSame(w->value(), g->value(), path + "." + c10::toString(w->key().type()));
    }
  } else {
    EXPECT_TRUE(expected == actual) << path << ": " << expected << " vs " << actual;
  }
}

void ExpectRoundTrip(const c10::IValue& value) {
  std::vector<at::Tensor> tensors;
  const std::vector<char> pickle = torch::jit::pickle(value, &tensors);
  absl::StatusOr<c10::IValue> decoded =
      UnpicklePlainData(absl::string_view(pickle.data(), pickle.size()), tensors);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(value, *decoded, "value");
}

TEST(PlainUnpicklerTest, ScalarsRoundTrip) {
  for (int64_t i : {int64_t{0}, int64_t{255}, int64_t{256}, int64_t{65535}, int64_t{65536},
                    int64_t{-1}, int64_t{-129}, int64_t{1} << 40, -(int64_t{1} << 40),
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    ExpectRoundTrip(i);
  }
  for (double d : {0.0, -2.5, 1e300, std::numeric_limits<double>::denorm_min()}) {
    ExpectRoundTrip(d);
  }
  ExpectRoundTrip(true);
  ExpectRoundTrip(false);
  ExpectRoundTrip(c10::IValue());
  ExpectRoundTrip(std::string());
  ExpectRoundTrip(std::string(70000, 'x'));
  ExpectRoundTrip(c10::complex<double>(1.5, -2));
  ExpectRoundTrip(c10::Device("cuda:1"));
  ExpectRoundTrip(torch::arange(6).reshape({2, 3}));
}

TEST(PlainUnpicklerTest, ContainersRoundTripWithTheirTypes) {
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("ints", c10::List<int64_t>({1, 2, 3}));
  config.insert("doubles", c10::List<double>({1.5}));
  config.insert("bools", c10::List<bool>({true, false}));
  config.insert("tensors", c10::List<at::Tensor>({torch::ones({1}), torch::zeros({2})}));
  config.insert("strings", c10::List<std::string>({"p", "q", "p"}));
  config.insert("optionals", c10::List<c10::optional<int64_t>>({1, c10::nullopt}));
  config.insert("nested",
                c10::List<c10::List<int64_t>>({c10::List<int64_t>({1}), c10::List<int64_t>()}));
  config.insert("tuple", c10::ivalue::Tuple::create({1, "s", c10::IValue(), 2.5}));
  config.insert("empty tuple", c10::ivalue::Tuple::create({}));
  config.insert("empty list", c10::List<std::string>());
  c10::Dict<int64_t, std::string> by_int;
  by_int.insert(7, "seven");
  config.insert("by int", by_int);
  config.insert("empty dict", c10::Dict<std::string, double>());
  config.insert("device", c10::Device("cpu"));
  ExpectRoundTrip(config);
}

TEST(PlainUnpicklerTest, SharedValuesAndManyMemoEntriesRoundTrip) {
  const at::Tensor shared = torch::ones({3});
  c10::List<at::Tensor> twice({shared, shared});
  c10::List<std::string> strings;
  for (int i = 0; i < 1000; ++i) strings.push_back("s" + std::to_string(i));  // LONG_BINPUT
  ExpectRoundTrip(c10::ivalue::Tuple::create({twice, strings, strings}));
}

// Writes pickle opcodes by hand, for inputs the pickler would never write.
class Pickle {
 public:
  Pickle& Op(char opcode) { return Raw(std::string(1, opcode)); }
  Pickle& Raw(const std::string& bytes) { bytes_ += bytes; return *this; }
  Pickle& Global(const std::string& module, const std::string& name) {
    return Op('c').Raw(module + "\n" + name + "\n");
  }
  Pickle& Int(uint8_t value) { return Op('K').Raw(std::string(1, static_cast<char>(value))); }
  Pickle& Str(const std::string& text) {
    const uint32_t size = text.size();
    return Op('X').Raw(std::string(reinterpret_cast<const char*>(&size), 4)).Raw(text);
  }
  Pickle& Put(uint8_t index) { return Op('q').Raw(std::string(1, static_cast<char>(index))); }
  Pickle& Get(uint8_t index) { return Op('h').Raw(std::string(1, static_cast<char>(index))); }
  Pickle& Stop() { return Op('.'); }
  absl::StatusOr<c10::IValue> Unpickle(const std::vector<at::Tensor>& tensors = {}) const {
    return UnpicklePlainData("\x80\x02" + bytes_, tensors);
  }

 private:
  std::string bytes_;
};

void ExpectDataLoss(const absl::StatusOr<c10::IValue>& result, const std::string& what) {
  EXPECT_TRUE(absl::IsDataLoss(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(what));
}

void ExpectRefused(const absl::StatusOr<c10::IValue>& result, const std::string& what) {
  EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(what));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("only plain data"));
}

TEST(PlainUnpicklerTest, ClassesAndFunctionsAreRefusedByName) {
  ExpectRefused(Pickle().Global("__torch__", "Model").Op(')').Op(0x81 - 256).Stop().Unpickle(),
                "__torch__.Model");
  ExpectRefused(Pickle().Global("os", "system").Str("true").Op(0x85 - 256).Op('R').Stop()
                    .Unpickle(),
                "os.system");
  Pickle tagged;
  tagged.Global("torch.jit._pickle", "restore_type_tag").Op(']').Str("List[__torch__.Model]")
      .Op(0x86 - 256).Op('R').Stop();
  ExpectRefused(tagged.Unpickle(), "__torch__.Model");
}

TEST(PlainUnpicklerTest, EveryTruncationIsDataLoss) {
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("lr", 0.5);
  config.insert("layers", c10::List<int64_t>({1, 2, 300, 70000}));
  config.insert("names", c10::List<std::string>({"a", "b"}));
  config.insert("weights", torch::ones({2}));
  std::vector<at::Tensor> tensors;
  const std::vector<char> pickle = torch::jit::pickle(config, &tensors);
  for (size_t size = 0; size < pickle.size(); ++size) {
    absl::StatusOr<c10::IValue> result =
        UnpicklePlainData(absl::string_view(pickle.data(), size), tensors);
    EXPECT_TRUE(absl::IsDataLoss(result.status())) << size << ": " << result.status();
  }
}

TEST(PlainUnpicklerTest, MalformedPicklesAreDataLossNamingTheProblem) {
  ExpectDataLoss(Pickle().Int(1).Unpickle(), "without STOP");
  ExpectDataLoss(Pickle().Int(1).Stop().Raw("x").Unpickle(), "bytes after STOP");
  ExpectDataLoss(Pickle().Int(1).Int(2).Stop().Unpickle(), "2 values");
  ExpectDataLoss(Pickle().Op('Q').Stop().Unpickle(), "opcode 0x51");  // BINPERSID
  ExpectDataLoss(Pickle().Int(1).Put(5).Stop().Unpickle(), "memo index 5 skips ahead");
  ExpectDataLoss(Pickle().Get(0).Stop().Unpickle(), "memo index 0 of 0");
  ExpectDataLoss(Pickle().Op('X').Raw("\xff\xff\xff\x7f").Stop().Unpickle(), "bytes, ");
  ExpectDataLoss(Pickle().Op(0x8a - 256).Raw("\x09").Raw(std::string(9, '\0')).Stop().Unpickle(),
                 "9-byte integer");
  ExpectDataLoss(Pickle().Op('e').Stop().Unpickle(), "no MARK");
  ExpectDataLoss(Pickle().Op('(').Int(1).Op('e').Stop().Unpickle(), "no unfinished list");
  ExpectDataLoss(Pickle().Op('}').Op('(').Op(']').Int(1).Op('u').Stop().Unpickle(),
                 "dict key of kind GenericList");
  ExpectDataLoss(Pickle().Op('(').Op(0x85 - 256).Stop().Unpickle(), "needs 1 values");
  ExpectDataLoss(Pickle().Int(1).Int(2).Op('R').Stop().Unpickle(), "REDUCE on a value");
}

TEST(PlainUnpicklerTest, GlobalsCheckTheirArguments) {
  const std::vector<at::Tensor> one_tensor = {torch::ones({1})};
  ExpectDataLoss(Pickle().Global("torch.jit._pickle", "build_tensor_from_id").Int(1)
                     .Op(0x85 - 256).Op('R').Stop().Unpickle(one_tensor),
                 "tensor id 1 of 1 tensors");
  ExpectDataLoss(Pickle().Global("torch.jit._pickle", "build_intlist").Op(']').Op('(').Str("x")
                     .Op('e').Op(0x85 - 256).Op('R').Stop().Unpickle(),
                 "List[int] holding a String");
  ExpectDataLoss(Pickle().Global("torch.jit._pickle", "restore_type_tag").Op(']').Op('(')
                     .Int(1).Str("x").Op('e').Str("List[int]").Op(0x86 - 256).Op('R').Stop()
                     .Unpickle(),
                 "a List[int] holding a str");
  ExpectDataLoss(Pickle().Global("torch.jit._pickle", "restore_type_tag").Op(']')
                     .Str("List[int").Op(0x86 - 256).Op('R').Stop().Unpickle(),
                 "']' expected");
  ExpectDataLoss(Pickle().Global("torch", "device").Str("warp drive").Op(0x85 - 256).Op('R')
                     .Stop().Unpickle(),
                 "device 'warp drive'");
}

TEST(PlainUnpicklerTest, NoContainerCanReachItself) {
  // The pickler memoizes a list only once it is finished; memoizing one
  // still being filled is how a list would be appended to itself.
  ExpectDataLoss(Pickle().Op(']').Put(0).Op('(').Get(0).Op('e').Stop().Unpickle(),
                 "memoizes an unfinished container");
}

TEST(PlainUnpicklerTest, NestingAndSharingAreBounded) {
  Pickle deep_tuples;
  deep_tuples.Op('N');
  for (int i = 0; i <= kMaxPickleNesting; ++i) deep_tuples.Op(0x85 - 256);
  ExpectDataLoss(deep_tuples.Stop().Unpickle(), "nested deeper than 128");

  Pickle deep_lists;
  for (int i = 0; i <= kMaxPickleNesting; ++i) deep_lists.Op(']').Op('(');
  for (int i = 0; i <= kMaxPickleNesting; ++i) deep_lists.Op('e');
  ExpectDataLoss(deep_lists.Stop().Unpickle(), "nested deeper than 128");

  // A tuple of the previous tuple twice, 30 times: 2^30 values from 90 opcodes.
  Pickle doubling;
  doubling.Int(1).Put(0);
  for (int i = 0; i < 30; ++i) doubling.Get(i % 2).Get(i % 2).Op(0x86 - 256).Put((i + 1) % 2);
  ExpectDataLoss(doubling.Stop().Unpickle(), "expands to more than 16777216 values");
}

TEST(IValueTypeTagTest, ParsesWhatThePicklerWrites) {
  for (const char* tag : {"int", "List[int]", "Dict[str, Tensor]", "Optional[List[float]]",
                          "Tuple[int, str, NoneType]", "Tuple[()]", "List[Dict[int, Any]]",
                          "Dict[Device, complex]", "List[bool]"}) {
    absl::StatusOr<c10::TypePtr> type = ParseTypeTag(tag);
    ASSERT_TRUE(type.ok()) << tag << ": " << type.status();
    EXPECT_EQ((*type)->annotation_str(), tag);
  }
}

TEST(IValueTypeTagTest, RefusesWhatIsNotPlainData) {
  EXPECT_TRUE(absl::IsInvalidArgument(ParseTypeTag("Future[int]").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseTypeTag("List[__torch__.M]").status()));
  for (const char* tag : {"", "List", "List[", "List[int", "List[int]]", "Dict[int]",
                          "Dict[List[int], int]", "Optional[int, int]", "List[,]"}) {
    EXPECT_TRUE(absl::IsDataLoss(ParseTypeTag(tag).status())) << tag;
  }
  std::string deep;
  for (int i = 0; i <= kMaxTypeTagNesting; ++i) deep += "List[";
  deep += "int" + std::string(kMaxTypeTagNesting + 1, ']');
  EXPECT_TRUE(absl::IsDataLoss(ParseTypeTag(deep).status()));
}

}  // namespace
}  // namespace fastvideo::dist
