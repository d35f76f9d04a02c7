// Writes the seed corpus of the fuzzers (run once; its output is kept in
// tests/fuzz/corpus/): valid payloads of each type the fuzzers decode.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "dist/codec.h"
#include "dist/segment_layout.h"
#include "dist/torch_codec.h"

namespace {

using namespace fastvideo::dist;  // NOLINT

void Write(const std::string& path, char selector, const std::string& payload) {
  std::ofstream(path, std::ios::binary) << selector << payload;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  Write(dir + "/codec/int", 0, Encode(int32_t{42}));
  Write(dir + "/codec/string", 1, Encode(std::string("hello")));
  Write(dir + "/codec/doubles", 2, Encode(std::vector<double>{1.5, -2}));
  Write(dir + "/codec/strings", 3, Encode(std::vector<std::string>{"a", "bb"}));
  Write(dir + "/codec/map", 4,
        Encode(std::map<std::string, std::vector<int64_t>>{{"k", {1, 2}}}));
  Write(dir + "/codec/tuple", 5,
        Encode(std::tuple<int, std::string, bool, std::optional<double>>{1, "x", true, 2.5}));
  Write(dir + "/codec/bools", 6, Encode(std::vector<bool>{true, false}));
  Write(dir + "/codec/pairs", 7,
        Encode(std::vector<std::pair<uint8_t, std::array<int16_t, 3>>>{{1, {2, 3, 4}}}));
  Write(dir + "/torch_codec/tensor", 0, Encode(torch::arange(6, torch::kFloat).reshape({2, 3})));
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("lr", 0.5);
  config.insert("name", std::string("run"));
  Write(dir + "/torch_codec/ivalue", 1, Encode(c10::IValue(config)));

  auto layout = *SegmentLayout::Create(4, 16, 1 << 20, 4096);
  Descriptor d{};
  d.slot_plus_one = 1;
  d.message_seq = 3;
  d.message_bytes = 1000;
  d.chunk_offset = 0;
  d.chunk_bytes = 500;
  d.data_offset = layout.data_begin();
  d.Seal();
  const uint64_t expect[3] = {3, 0, 0};
  std::ofstream out(dir + "/descriptor/first_chunk", std::ios::binary);
  out.write(reinterpret_cast<const char*>(&d), sizeof(d));
  out.write(reinterpret_cast<const char*>(expect), sizeof(expect));
  return 0;
}
