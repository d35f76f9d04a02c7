// The few TCP operations the cross-job rendezvous needs, each bounded by a
// deadline: listen on one address (never the wildcard unless asked for),
// connect (retrying while nobody listens), and read or write exactly n
// bytes. Errors name host:port.
#ifndef FASTVIDEO_DIST_INTERNAL_TCP_SOCKET_H_
#define FASTVIDEO_DIST_INTERNAL_TCP_SOCKET_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fastvideo::dist {

// An owned, non-blocking socket descriptor.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  ~Socket() { Close(); }

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Close();
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// "host:port", with IPv6 literals bracketed.
std::string HostPort(absl::string_view host, int port);

// Binds `host` (an IPv4 or IPv6 literal or a name; its first address that
// binds) and listens. AlreadyExists at once when the port is taken there.
absl::StatusOr<Socket> Listen(const std::string& host, int port);
// A pending connection, or an invalid Socket when there is none.
absl::StatusOr<Socket> AcceptPending(const Socket& listener);
// Connects to host:port, retrying while the connection is refused, until
// `deadline` (then DeadlineExceeded saying nobody listened).
absl::StatusOr<Socket> Connect(const std::string& host, int port, absl::Time deadline);

// Writes or reads exactly `size` bytes; DeadlineExceeded when time runs out
// first, Unavailable when the peer closes the connection.
absl::Status WriteAll(const Socket& socket, absl::string_view bytes, absl::Time deadline);
absl::Status ReadExactly(const Socket& socket, char* out, size_t size, absl::Time deadline);

// Waits until `socket` is readable (or `deadline`); whether it is.
bool WaitReadable(const Socket& socket, absl::Time deadline);

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_INTERNAL_TCP_SOCKET_H_
