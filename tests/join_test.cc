// The cross-job rendezvous without MPI: the hello and reply bytes, the
// listener's bookkeeping (JoinRoster), and a JoinListener on loopback talking
// to plain sockets, including what it must drop.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dist/internal/join_listener.h"
#include "dist/internal/join_roster.h"
#include "dist/internal/join_wire.h"
#include "dist/internal/tcp_socket.h"

namespace fastvideo::dist {
namespace {

using ::testing::HasSubstr;

JoinHello Hello(uint32_t rank, uint32_t world_size, uint64_t job, uint32_t job_size = 1,
                uint32_t job_rank = 0) {
  return {world_size, rank, job_size, job_rank, kCanConnectJobs, job};
}

TEST(JoinWire, HelloRoundTrips) {
  const JoinHello hello = Hello(3, 8, 0x1234'5678'9abc'def0, 2, 1);
  const auto bytes = EncodeHello(hello);
  absl::StatusOr<JoinHello> decoded = DecodeHello({bytes.data(), bytes.size()});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->rank, 3u);
  EXPECT_EQ(decoded->world_size, 8u);
  EXPECT_EQ(decoded->job_size, 2u);
  EXPECT_EQ(decoded->job_rank, 1u);
  EXPECT_EQ(decoded->flags, kCanConnectJobs);
  EXPECT_EQ(decoded->job_token, 0x1234'5678'9abc'def0u);
}

TEST(JoinWire, HelloRefusesWhatIsNotOne) {
  auto bytes = EncodeHello(Hello(0, 2, 7));
  std::string text(bytes.data(), bytes.size());
  EXPECT_THAT(DecodeHello(text.substr(1)).status().message(), HasSubstr("39 bytes"));
  std::string http = "GET / HTTP/1.1\r\nHost: rendezvous\r\n\r\n";
  http.resize(kHelloBytes, ' ');
  EXPECT_THAT(DecodeHello(http).status().message(), HasSubstr("magic"));
  std::string other_version = text;
  other_version[8] = 2;
  EXPECT_THAT(DecodeHello(other_version).status().message(), HasSubstr("version 2"));
  auto huge = EncodeHello(Hello(0, kMaxJoinWorldSize + 1, 7));
  EXPECT_THAT(DecodeHello({huge.data(), huge.size()}).status().message(),
              HasSubstr("world_size 4097"));
  auto bad_job = EncodeHello(Hello(0, 4, 7, /*job_size=*/2, /*job_rank=*/2));
  EXPECT_THAT(DecodeHello({bad_job.data(), bad_job.size()}).status().message(),
              HasSubstr("job_rank 2 of job_size 2"));
}

TEST(JoinWire, ReplyCarriesThePortOrTheError) {
  std::string ok = EncodeReply(absl::OkStatus(), 1, 3, "port-name");
  absl::StatusOr<JoinReplyHeader> header = DecodeReplyHeader(ok.substr(0, kReplyHeaderBytes));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->code, absl::StatusCode::kOk);
  EXPECT_EQ(header->job_index, 1u);
  EXPECT_EQ(header->job_count, 3u);
  EXPECT_EQ(ok.substr(kReplyHeaderBytes), "port-name");

  std::string error = EncodeReply(absl::InvalidArgumentError("rank 1 twice"), 0, 0, "");
  header = DecodeReplyHeader(error.substr(0, kReplyHeaderBytes));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->code, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(error.substr(kReplyHeaderBytes), "rank 1 twice");

  std::string forged = ok.substr(0, kReplyHeaderBytes);
  forged[24] = 0x7f;  // text_bytes far beyond kMaxReplyText
  forged[25] = 0x7f;
  EXPECT_FALSE(DecodeReplyHeader(forged).ok());
}

TEST(JoinRoster, CompletesWhenEveryRankHasJoined) {
  JoinRoster roster("h:1", 3);
  ASSERT_TRUE(roster.Admit(Hello(0, 3, 1), /*host_job=*/true, true).ok());
  EXPECT_EQ(roster.Progress(), "1 of 3 ranks had joined; missing: 1,2");
  ASSERT_TRUE(roster.Admit(Hello(2, 3, 2, 2, 1), false, true).ok());
  ASSERT_TRUE(roster.Admit(Hello(1, 3, 2, 2, 0), false, true).ok());
  EXPECT_TRUE(roster.complete());
  EXPECT_THAT(roster.guest_jobs(), ::testing::ElementsAre(2u));
}

TEST(JoinRoster, NamesWhatIsWrong) {
  JoinRoster roster("h:1", 3);
  ASSERT_TRUE(roster.Admit(Hello(0, 3, 1), true, true).ok());
  EXPECT_THAT(roster.Admit(Hello(0, 3, 2), false, true).message(),
              HasSubstr("h:1: rank 0 is claimed by two callers"));
  EXPECT_THAT(roster.Admit(Hello(3, 3, 2), false, true).message(),
              HasSubstr("rank 3 is outside [0, 3)"));
  EXPECT_THAT(roster.Admit(Hello(1, 4, 2), false, true).message(),
              HasSubstr("rank 1 says world_size 4, rank 0 says 3"));
  ASSERT_TRUE(roster.Admit(Hello(1, 3, 2, 2, 0), false, true).ok());
  EXPECT_THAT(roster.Admit(Hello(2, 3, 2, 3, 1), false, true).message(),
              HasSubstr("says its job has 3 processes, another of that job says 2"));
  JoinHello cannot = Hello(2, 3, 5);
  cannot.flags = 0;
  absl::Status status = roster.Admit(cannot, false, true);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("rank 2's MPI runtime cannot connect jobs"));
  EXPECT_THAT(roster.Admit(Hello(2, 3, 5), false, /*host_can_connect=*/false).message(),
              HasSubstr("rank 0's MPI runtime"));
}

TEST(JoinRoster, AWithdrawnRankCanJoinAgain) {
  JoinRoster roster("h:1", 2);
  ASSERT_TRUE(roster.Admit(Hello(0, 2, 1), true, true).ok());
  ASSERT_TRUE(roster.Admit(Hello(1, 2, 2), false, true).ok());
  roster.Withdraw(1);
  EXPECT_FALSE(roster.complete());
  ASSERT_TRUE(roster.Admit(Hello(1, 2, 3), false, true).ok());
  EXPECT_TRUE(roster.complete());
}

// The listener on loopback, its guests plain sockets.
class JoinListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Port 0 is not a rendezvous users would pick; find a free one.
    absl::StatusOr<Socket> probe = Listen("127.0.0.1", 0);
    ASSERT_TRUE(probe.ok());
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    getsockname(probe->fd(), reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }

  absl::StatusOr<JoinListener> StartFor(int world_size) {
    return JoinListener::Start("127.0.0.1", port_, world_size, {Hello(0, world_size, 1)}, true);
  }

  Socket Knock(const std::string& bytes) {
    absl::StatusOr<Socket> socket = Connect("127.0.0.1", port_, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(socket.ok()) << socket.status();
    EXPECT_TRUE(WriteAll(*socket, bytes, absl::Now() + absl::Seconds(5)).ok());
    return *std::move(socket);
  }

  static std::string Bytes(const JoinHello& hello) {
    const auto bytes = EncodeHello(hello);
    return std::string(bytes.data(), bytes.size());
  }

  // The reply's status, and the text of an OK one.
  static absl::StatusOr<std::string> Answer(const Socket& socket) {
    char header[kReplyHeaderBytes];
    absl::Status status = ReadExactly(socket, header, sizeof header, absl::Now() + absl::Seconds(5));
    if (!status.ok()) return status;
    absl::StatusOr<JoinReplyHeader> decoded = DecodeReplyHeader({header, sizeof header});
    if (!decoded.ok()) return decoded.status();
    std::string text(decoded->text_bytes, '\0');
    status = ReadExactly(socket, text.data(), text.size(), absl::Now() + absl::Seconds(5));
    if (!status.ok()) return status;
    if (decoded->code != absl::StatusCode::kOk) return absl::Status(decoded->code, text);
    return text;
  }

  int port_ = 0;
};

TEST_F(JoinListenerTest, ThePortTakenIsAnErrorAtOnce) {
  absl::StatusOr<JoinListener> first = StartFor(2);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<JoinListener> second = StartFor(2);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", port_)));
}

TEST_F(JoinListenerTest, DropsWhatIsNotAHelloAndReleasesTheRest) {
  absl::StatusOr<JoinListener> listener = StartFor(3);
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::string http = "GET / HTTP/1.1\r\nHost: rendezvous\r\n\r\n";
  http.resize(kHelloBytes, ' ');
  Socket stray = Knock(http);
  Socket half = Knock(Bytes(Hello(1, 3, 9, 2, 0)).substr(0, 20));
  half.Close();  // went away mid-hello
  Socket leader = Knock(Bytes(Hello(1, 3, 9, 2, 0)));
  Socket member = Knock(Bytes(Hello(2, 3, 9, 2, 1)));
  ASSERT_TRUE(listener->AwaitAll(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_EQ(listener->guest_job_count(), 1);
  // The stray connection got nothing and was closed.
  ASSERT_TRUE(WaitReadable(stray, absl::Now() + absl::Seconds(5)));
  char byte;
  EXPECT_EQ(recv(stray.fd(), &byte, 1, 0), 0);
  std::thread release([&] {
    EXPECT_TRUE(listener->Release(0, "the-port", absl::Now() + absl::Seconds(10)).ok());
  });
  EXPECT_EQ(Answer(leader).value_or("error"), "the-port");
  EXPECT_EQ(Answer(member).value_or("error"), "the-port");
  ASSERT_TRUE(WriteAll(leader, kJoinAck, absl::Now() + absl::Seconds(5)).ok());
  release.join();
}

TEST_F(JoinListenerTest, TellsEveryJoinedCallerWhyTheGroupFailed) {
  absl::StatusOr<JoinListener> listener = StartFor(3);
  ASSERT_TRUE(listener.ok()) << listener.status();
  Socket first = Knock(Bytes(Hello(1, 3, 9)));
  Socket second = Knock(Bytes(Hello(1, 3, 10)));
  absl::Status status = listener->AwaitAll(absl::Now() + absl::Seconds(10));
  EXPECT_THAT(status.message(), HasSubstr("rank 1 is claimed by two callers"));
  EXPECT_THAT(Answer(first).status().message(), HasSubstr("claimed by two callers"));
  EXPECT_THAT(Answer(second).status().message(), HasSubstr("claimed by two callers"));
}

TEST_F(JoinListenerTest, ADeadlineNamesTheMissingRanksToThoseWhoCame) {
  absl::StatusOr<JoinListener> listener = StartFor(4);
  ASSERT_TRUE(listener.ok()) << listener.status();
  Socket came = Knock(Bytes(Hello(2, 4, 9)));
  absl::Status status = listener->AwaitAll(absl::Now() + absl::Milliseconds(500));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("2 of 4 ranks had joined; missing: 1,3"));
  EXPECT_EQ(Answer(came).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(JoinListenerTest, ACallerThatLeavesGivesItsRankBack) {
  absl::StatusOr<JoinListener> listener = StartFor(4);
  ASSERT_TRUE(listener.ok()) << listener.status();
  Knock(Bytes(Hello(1, 4, 9)));  // closes at once: joined, then gone
  Socket stays = Knock(Bytes(Hello(2, 4, 10)));
  absl::Status status = listener->AwaitAll(absl::Now() + absl::Milliseconds(800));
  EXPECT_THAT(status.message(), HasSubstr("2 of 4 ranks had joined; missing: 1,3"));
}

}  // namespace
}  // namespace fastvideo::dist
