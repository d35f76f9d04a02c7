// The channel's building blocks: the block allocator, the segment layout,
// descriptors, the hash, the barrier's choice and MCA component lists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>

#include "dist/internal/barrier.h"
#include "dist/internal/block_allocator.h"
#include "dist/internal/hash.h"
#include "dist/internal/mca_setting.h"
#include "dist/message_key.h"
#include "dist/internal/segment_layout.h"

namespace fastvideo::dist {
namespace {

using ::testing::HasSubstr;

TEST(BlockAllocatorTest, AllocatesAlignedBlocksAndCoalescesOnFree) {
  BlockAllocator allocator(1024, 64 * 10, 64);
  auto a = allocator.Allocate(1);
  auto b = allocator.Allocate(130);
  auto c = allocator.Allocate(64);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, 1024u);
  EXPECT_EQ(*b, 1024u + 64);
  EXPECT_EQ(*c, 1024u + 64 + 192);
  EXPECT_EQ(allocator.bytes_in_use(), 64u * 5);
  EXPECT_FALSE(allocator.Allocate(64 * 6));
  allocator.Free(*b, 130);
  allocator.Free(*a, 1);  // merges with b's range
  EXPECT_EQ(allocator.largest_free_block(), 64u * 5);
  allocator.Free(*c, 64);  // merges everything
  EXPECT_EQ(allocator.bytes_in_use(), 0u);
  EXPECT_EQ(allocator.largest_free_block(), 64u * 10);
}

TEST(BlockAllocatorTest, RandomAllocateFreeNeverOverlapsAndEndsEmpty) {
  BlockAllocator allocator(0, 1 << 16, 64);
  std::mt19937 random(7);
  std::vector<std::pair<uint64_t, uint64_t>> live;
  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || random() % 2 == 0) {
      const uint64_t size = 1 + random() % 3000;
      if (auto offset = allocator.Allocate(size)) {
        for (const auto& [other, other_size] : live) {
          ASSERT_TRUE(*offset + size <= other || other + other_size <= *offset);
        }
        live.emplace_back(*offset, size);
      }
    } else {
      const size_t victim = random() % live.size();
      allocator.Free(live[victim].first, live[victim].second);
      live.erase(live.begin() + victim);
    }
  }
  for (const auto& [offset, size] : live) allocator.Free(offset, size);
  EXPECT_EQ(allocator.bytes_in_use(), 0u);
  EXPECT_EQ(allocator.largest_free_block(), uint64_t{1} << 16);
}

TEST(SegmentLayoutTest, RegionsDoNotOverlap) {
  auto layout = SegmentLayout::Create(8, 16, 1 << 20, 4096);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_LE(layout->notice(7, InboxStream::kCollective) + 8, layout->barrier_round(0));
  EXPECT_LE(layout->barrier_round(SegmentLayout::kBarrierRounds - 1) + 8,
            layout->barrier_arrival(0));
  EXPECT_LE(layout->barrier_arrival(7) + 8, layout->put_probe());
  EXPECT_LE(layout->accumulate_probe() + 8, layout->credit_wanted(0, InboxStream::kP2p));
  EXPECT_LE(layout->credit_wanted(7, InboxStream::kCollective) + 8,
            layout->collective_note(0));
  EXPECT_LE(layout->collective_note(7) + 8, layout->inbox_slot(0, InboxStream::kP2p, 0));
  EXPECT_LE(layout->inbox_slot(7, InboxStream::kCollective, 15) +
                layout->inbox().slot_bytes,
            layout->p2p_descriptor(0, 0));
  EXPECT_EQ(layout->p2p_descriptor(0, 16), layout->p2p_descriptor(0, 0));
  EXPECT_EQ(layout->p2p_descriptor(1, 0),
            layout->p2p_descriptor(0, 15) + sizeof(Descriptor));
  EXPECT_LE(layout->bcast_descriptor(15) + sizeof(Descriptor), layout->data_begin());
  EXPECT_EQ(layout->data_begin() % SegmentLayout::kAlignment, 0u);
  EXPECT_EQ(layout->data_begin() + layout->data_bytes(), uint64_t{1} << 20);
}

TEST(SegmentLayoutTest, AutoInboxSlotsTakeAnEighthOfTheSegmentFrom256To1024Bytes) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  EXPECT_EQ(AutoInboxSlotBytes(2, 32 * kMiB, 16), 1024u);
  EXPECT_EQ(AutoInboxSlotBytes(89, 32 * kMiB, 16), 1024u);
  EXPECT_EQ(AutoInboxSlotBytes(128, 32 * kMiB, 16), 704u);
  EXPECT_EQ(AutoInboxSlotBytes(356, 32 * kMiB, 16), 256u);
  EXPECT_EQ(AutoInboxSlotBytes(4096, 32 * kMiB, 16), 256u) << "never below 256";
  EXPECT_EQ(AutoInboxSlotBytes(8, 64 << 10, 16), 256u);
  for (int ranks : {2, 8, 100, 128, 300}) {
    for (uint64_t slots : {4, 16, 64}) {
      const uint64_t slot_bytes = AutoInboxSlotBytes(ranks, 32 * kMiB, slots);
      EXPECT_EQ(slot_bytes % 64, 0u);
      if (slot_bytes > 256) {
        EXPECT_LE(SegmentLayout::InboxBytes(ranks, InboxShape{slots, slot_bytes}), 4 * kMiB)
            << ranks << " ranks, " << slots << " slots";
      }
    }
  }
}

TEST(SegmentLayoutTest, TinySegmentsAreRefusedWithTheSizes) {
  auto layout = SegmentLayout::Create(4, 16, 8192, 4096);
  EXPECT_TRUE(absl::IsInvalidArgument(layout.status()));
  EXPECT_THAT(std::string(layout.status().message()),
              HasSubstr("window segment of 8192 bytes is too small for 4 ranks"));
  EXPECT_FALSE(SegmentLayout::Create(0, 16, 1 << 20, 0).ok());
  EXPECT_FALSE(SegmentLayout::Create(2, 1, 1 << 20, 0).ok());
}

TEST(DescriptorTest, SealDetectsAnyChangedByte) {
  Descriptor descriptor{};
  descriptor.slot_plus_one = 5;
  descriptor.message_bytes = 3;
  descriptor.chunk_bytes = 3;
  descriptor.data_offset = Descriptor::kInline;
  std::memcpy(descriptor.inline_data, "abc", 3);
  descriptor.Seal();
  EXPECT_TRUE(descriptor.IsSealed());
  const size_t used = offsetof(Descriptor, inline_data) + 3;
  for (size_t byte = 0; byte < used; ++byte) {
    Descriptor torn = descriptor;
    reinterpret_cast<unsigned char*>(&torn)[byte] ^= 0x10;
    EXPECT_FALSE(torn.IsSealed()) << "byte " << byte;
  }
  // Inline bytes past the chunk are not part of the message.
  Descriptor padded = descriptor;
  padded.inline_data[100] = 'z';
  EXPECT_TRUE(padded.IsSealed());
  EXPECT_FALSE(Descriptor{}.IsSealed());  // never written
}

TEST(CheckChunkTest, AcceptsConsistentChunksAndNamesWhatIsWrong) {
  auto layout = SegmentLayout::Create(2, 16, 1 << 20, 4096);
  ASSERT_TRUE(layout.ok());
  Descriptor d{};
  d.message_seq = 4;
  d.message_bytes = 1000;
  d.chunk_offset = 400;
  d.chunk_bytes = 600;
  d.data_offset = layout->data_begin();
  EXPECT_TRUE(CheckChunk(d, *layout, 4, 400, 1000).ok());
  EXPECT_THAT(std::string(CheckChunk(d, *layout, 5, 400, 1000).message()),
              HasSubstr("expected message #5"));
  EXPECT_THAT(std::string(CheckChunk(d, *layout, 4, 0, 0).message()),
              HasSubstr("expected the chunk at 0"));
  // A later chunk that claims another message size would overflow the
  // buffer sized by the first chunk.
  EXPECT_THAT(std::string(CheckChunk(d, *layout, 4, 400, 500).message()),
              HasSubstr("earlier chunks said 500 bytes"));
  Descriptor past = d;
  past.message_bytes = 300;  // chunk offset beyond the message: no underflow
  EXPECT_TRUE(absl::IsDataLoss(CheckChunk(past, *layout, 4, 400, 300)));
  Descriptor outside = d;
  outside.data_offset = layout->segment_bytes() - 100;
  EXPECT_THAT(std::string(CheckChunk(outside, *layout, 4, 400, 1000).message()),
              HasSubstr("outside the data area"));
  Descriptor in_control = d;
  in_control.data_offset = 0;
  EXPECT_TRUE(absl::IsDataLoss(CheckChunk(in_control, *layout, 4, 400, 1000)));
  Descriptor long_inline = d;
  long_inline.data_offset = Descriptor::kInline;
  EXPECT_THAT(std::string(CheckChunk(long_inline, *layout, 4, 400, 1000).message()),
              HasSubstr("too long to be inline"));
}

TEST(HashTest, StableAndSensitive) {
  const std::string data(1000, 'a');
  // Pinned values: a reader checks what another process computed, so the
  // hash must not depend on the process (or change unnoticed).
  EXPECT_EQ(Hash64(data.data(), data.size()), 0x4b7864b063cdea14u);
  EXPECT_EQ(Hash64("abc", 3, 7), 0xabddae6df823931cu);
  std::string changed = data;
  changed[999] = 'b';
  EXPECT_NE(Hash64(data.data(), data.size()), Hash64(changed.data(), changed.size()));
  EXPECT_NE(Hash64(data.data(), 999), Hash64(data.data(), 1000));
  EXPECT_NE(Hash64("", 0, 1), Hash64("", 0, 2));
}

TEST(MessageKeyTest, StoreStyleNames) {
  EXPECT_EQ((MessageKey{MessageKind::kSend, 1, 3, 7}.ToString()), "send_to/3/from/1/#7");
  EXPECT_EQ((MessageKey{MessageKind::kBroadcast, 0, MessageKey::kEveryRank, 2}.ToString()),
            "broadcast_from/0/#2");
  EXPECT_EQ((MessageKey{MessageKind::kAllGather, 4, MessageKey::kEveryRank, 0}.ToString()),
            "all_gather_from/4/#0");
}

TEST(BarrierChoiceTest, AllToAllOnANodeStarAcrossNodesDisseminationForMany) {
  const auto choose = [](int members, bool shared_memory) {
    return ResolveBarrierAlgorithm(BarrierAlgorithm::kAuto, members, shared_memory);
  };
  EXPECT_EQ(choose(1, false), BarrierAlgorithm::kAllToAll);
  EXPECT_EQ(choose(2, false), BarrierAlgorithm::kAllToAll);
  EXPECT_EQ(choose(3, false), BarrierAlgorithm::kStar);
  EXPECT_EQ(choose(64, false), BarrierAlgorithm::kStar);
  EXPECT_EQ(choose(65, false), BarrierAlgorithm::kDissemination);
  EXPECT_EQ(choose(16, true), BarrierAlgorithm::kAllToAll);
  EXPECT_EQ(choose(17, true), BarrierAlgorithm::kDissemination);
  EXPECT_EQ(ResolveBarrierAlgorithm(BarrierAlgorithm::kStar, 2, true), BarrierAlgorithm::kStar);
}

TEST(McaListTest, IncludeAndExcludeLists) {
  EXPECT_TRUE(McaListAdmits("", "vader"));
  EXPECT_TRUE(McaListAdmits("self,vader", "vader"));
  EXPECT_FALSE(McaListAdmits("tcp,self", "vader"));
  EXPECT_FALSE(McaListAdmits("^vader,openib", "vader"));
  EXPECT_TRUE(McaListAdmits("^openib", "vader"));
  EXPECT_FALSE(McaListAdmits("vaderx", "vader"));
}

TEST(McaListTest, SharedMemoryWindowsNeedAShmBtlAndAShmOsc) {
  EXPECT_TRUE(McaAdmitsSharedMemoryWindows("", ""));
  EXPECT_TRUE(McaAdmitsSharedMemoryWindows("self,sm", "sm,rdma,pt2pt"));
  EXPECT_TRUE(McaAdmitsSharedMemoryWindows("^openib", "^ucx,pt2pt"));
  EXPECT_FALSE(McaAdmitsSharedMemoryWindows("tcp,self", ""));
  EXPECT_FALSE(McaAdmitsSharedMemoryWindows("^vader", ""));  // an exclude list spares both names
  EXPECT_FALSE(McaAdmitsSharedMemoryWindows("", "pt2pt"));
}

}  // namespace
}  // namespace fastvideo::dist
