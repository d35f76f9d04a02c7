// Writes the seed corpus of the fuzzers (run once; its output is kept in
// tests/fuzz/corpus/): valid payloads of each type the fuzzers decode.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include "dist/codec.h"
#include "dist/internal/inbox_record.h"
#include "dist/internal/join_wire.h"
#include "dist/internal/segment_layout.h"
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
  // Every kind the plain-data unpickler reads, framed (selector 0) and as a
  // raw pickle (selector 1).
  config.insert("layers", c10::List<int64_t>({1, 300, 70000, int64_t{1} << 40, -5}));
  config.insert("scales", c10::List<double>({0.5, 2}));
  config.insert("flags", c10::List<bool>({true, false}));
  config.insert("names", c10::List<std::string>({"a", "b", "a"}));
  config.insert("maybe", c10::List<c10::optional<int64_t>>({1, c10::nullopt}));
  config.insert("weights", torch::ones({2}));
  config.insert("tensors", c10::List<at::Tensor>({torch::zeros({1, 3})}));
  config.insert("shape", c10::ivalue::Tuple::create({2, 3, c10::IValue(), std::string("s")}));
  config.insert("device", c10::Device("cpu"));
  config.insert("z", c10::complex<double>(1, -1));
  c10::Dict<int64_t, std::string> by_rank;
  by_rank.insert(0, "head");
  config.insert("by_rank", by_rank);
  Write(dir + "/ivalue/config", 0, Encode(c10::IValue(config)));
  std::vector<at::Tensor> table;
  const std::vector<char> pickle = torch::jit::pickle(c10::IValue(config), &table);
  Write(dir + "/ivalue/config_pickle", 1, std::string(pickle.begin(), pickle.end()));

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
  out.close();

  // A pushed record over two 256-byte slots: index 5 of its stream,
  // message #7, a 400-byte payload (the fuzzer reads 512 bytes).
  unsigned char slot[512] = {};
  auto* header = reinterpret_cast<RecordHeader*>(slot);
  header->index_plus_one = 6;
  header->message_seq = 7;
  header->kind = 1;
  header->payload_bytes = 400;
  std::memset(slot + sizeof(RecordHeader), 'x', 400);
  header->Seal(slot + sizeof(RecordHeader));
  const uint64_t expected_index = 5;
  std::ofstream record(dir + "/inbox/record", std::ios::binary);
  record.write(reinterpret_cast<const char*>(slot), sizeof(slot));
  record.write(reinterpret_cast<const char*>(&expected_index), sizeof(expected_index));

  // join: a hello of rank 1 of 3 (second of a 2-process job), then the
  // header of a reply carrying a port name.
  std::filesystem::create_directories(dir + "/join");
  const auto hello = fastvideo::dist::EncodeHello({3, 1, 2, 1, 1, 0x1234});
  const std::string reply = fastvideo::dist::EncodeReply(absl::OkStatus(), 0, 1, "port");
  std::ofstream join(dir + "/join/hello_and_reply", std::ios::binary);
  join.write(hello.data(), hello.size());
  join.write(reply.data(), fastvideo::dist::kReplyHeaderBytes);
  return 0;
}
