#include "dist/internal/tcp_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace fastvideo::dist {
namespace {

struct AddrInfoFree {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoFree>;

absl::StatusOr<AddrInfoList> Resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  const int code = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (code != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", HostPort(host, port), ": ", gai_strerror(code)));
  }
  return AddrInfoList(found);
}

absl::StatusOr<Socket> NonBlockingSocket(const addrinfo& address) {
  Socket socket(::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         address.ai_protocol));
  if (!socket.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  return socket;
}

// Milliseconds poll() may wait before `deadline`, at least 0.
int PollMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

bool WaitFor(int fd, short events, absl::Time deadline) {
  pollfd entry{fd, events, 0};
  while (true) {
    const int ready = poll(&entry, 1, PollMillis(deadline));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

}  // namespace

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.release();
  }
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string HostPort(absl::string_view host, int port) {
  return absl::StrContains(host, ':') ? absl::StrCat("[", host, "]:", port)
                                      : absl::StrCat(host, ":", port);
}

absl::StatusOr<Socket> Listen(const std::string& host, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, " is outside [0, 65535]"));
  }
  absl::StatusOr<AddrInfoList> addresses = Resolve(host, port);
  if (!addresses.ok()) return addresses.status();
  std::string failures;
  for (const addrinfo* address = addresses->get(); address; address = address->ai_next) {
    absl::StatusOr<Socket> socket = NonBlockingSocket(*address);
    if (!socket.ok()) return socket.status();
    // A restarted job may bind again while old connections sit in
    // TIME_WAIT; Linux still refuses a port another socket listens on.
    const int one = 1;
    setsockopt(socket->fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(socket->fd(), address->ai_addr, address->ai_addrlen) != 0) {
      if (errno == EADDRINUSE) {
        return absl::AlreadyExistsError(absl::StrCat(
            HostPort(host, port), " is already in use: another group or program listens there"));
      }
      absl::StrAppend(&failures, failures.empty() ? "" : "; ", strerror(errno));
      continue;
    }
    if (listen(socket->fd(), 128) != 0) {
      return absl::InternalError(
          absl::StrCat("listen on ", HostPort(host, port), ": ", strerror(errno)));
    }
    return socket;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot bind ", HostPort(host, port), ": ", failures));
}

absl::StatusOr<Socket> AcceptPending(const Socket& listener) {
  const int fd = accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return Socket(fd);
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
    return Socket();
  }
  return absl::InternalError(absl::StrCat("accept: ", strerror(errno)));
}

absl::StatusOr<Socket> Connect(const std::string& host, int port, absl::Time deadline) {
  absl::StatusOr<AddrInfoList> addresses = Resolve(host, port);
  if (!addresses.ok()) return addresses.status();
  absl::Duration pause = absl::Milliseconds(10);
  std::string last_error = "no address";
  do {
    for (const addrinfo* address = addresses->get(); address; address = address->ai_next) {
      absl::StatusOr<Socket> socket = NonBlockingSocket(*address);
      if (!socket.ok()) return socket.status();
      int code = connect(socket->fd(), address->ai_addr, address->ai_addrlen);
      if (code != 0 && errno == EINPROGRESS) {
        // One attempt waits at most a second: the listener may come up
        // behind another address meanwhile.
        const bool finished =
            WaitFor(socket->fd(), POLLOUT, std::min(deadline, absl::Now() + absl::Seconds(1)));
        int error = ETIMEDOUT;
        socklen_t length = sizeof error;
        if (finished) getsockopt(socket->fd(), SOL_SOCKET, SO_ERROR, &error, &length);
        code = error == 0 ? 0 : -1;
        errno = error;
      }
      if (code == 0) {
        const int one = 1;
        setsockopt(socket->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return socket;
      }
      last_error = strerror(errno);
    }
    absl::SleepFor(std::min(pause, std::max(deadline - absl::Now(), absl::ZeroDuration())));
    pause = std::min(pause * 2, absl::Milliseconds(500));
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError(absl::StrCat(
      "nobody listened at ", HostPort(host, port), " before the deadline (", last_error, ")"));
}

absl::Status WriteAll(const Socket& socket, absl::string_view bytes, absl::Time deadline) {
  while (!bytes.empty()) {
    const ssize_t written = send(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (written > 0) {
      bytes.remove_prefix(written);
      continue;
    }
    if (written < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(socket.fd(), POLLOUT, deadline) && absl::Now() >= deadline) {
        return absl::DeadlineExceededError("write timed out");
      }
      continue;
    }
    return absl::UnavailableError(absl::StrCat("write: ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status ReadExactly(const Socket& socket, char* out, size_t size, absl::Time deadline) {
  while (size > 0) {
    const ssize_t got = recv(socket.fd(), out, size, 0);
    if (got > 0) {
      out += got;
      size -= got;
      continue;
    }
    if (got == 0) return absl::UnavailableError("the peer closed the connection");
    if (errno == EAGAIN || errno == EINTR) {
      if (!WaitFor(socket.fd(), POLLIN, deadline) && absl::Now() >= deadline) {
        return absl::DeadlineExceededError("read timed out");
      }
      continue;
    }
    return absl::UnavailableError(absl::StrCat("read: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool WaitReadable(const Socket& socket, absl::Time deadline) {
  return WaitFor(socket.fd(), POLLIN, deadline);
}

}  // namespace fastvideo::dist
