// Codecs: how objects become the bytes of a message, and back.
//
// Every payload is framed as  magic | type tag | body length | body,  so a
// reader that asks for another type gets InvalidArgument naming both types,
// and a truncated or corrupt payload gets DataLoss. Decoding checks every
// length against the bytes that are there; it never reads out of bounds and
// never runs anything but the codecs of the requested type.
//
// Built in: arithmetic types and enums, std::byte, std::string, std::vector,
// std::array, std::map, std::unordered_map, std::pair, std::tuple,
// std::optional and std::monostate. torch::Tensor and c10::IValue are in
// dist/torch_codec.h. Byte order is the machine's: ranks of one job share it.
//
// A codec for your own type is a specialization with three members:
//
//   template <> struct fastvideo::dist::Codec<Point> {
//     static std::string Tag() { return "Point"; }
//     static void Encode(const Point& p, Writer& out) { out.Put(p.x, p.name); }
//     static absl::Status Decode(Reader& in, Point& p) {
//       return in.Get(p.x, p.name);
//     }
//   };
//
// A codec may also say how many bytes Encode will write, exactly, without
// encoding:  static uint64_t EncodedSize(const T&).  Large objects of such
// types (numbers, strings, vectors of numbers, tensors) are then encoded
// straight into the window instead of through a buffer; a codec that
// writes another amount makes send_obj fail with InternalError.
#ifndef FASTVIDEO_DIST_CODEC_H_
#define FASTVIDEO_DIST_CODEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dist/byte_source.h"

namespace fastvideo::dist {

template <typename T, typename Enable = void>
struct Codec;  // No codec for this type: specialize Codec<T> (see above).

// Appends encoded values to a payload, or writes them into a fixed span.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  // Writes into the `capacity` bytes at `destination`, never past them.
  Writer(char* destination, uint64_t capacity)
      : destination_(destination), capacity_(capacity) {}

  void PutBytes(const void* data, size_t size) {
    if (size == 0) return;
    if (out_ != nullptr) {
      out_->append(static_cast<const char*>(data), size);
    } else if (size > capacity_ - written_) {
      overflowed_ = true;
    } else {
      std::memcpy(destination_ + written_, data, size);
      written_ += size;
    }
  }
  void PutU64(uint64_t value) { PutBytes(&value, sizeof(value)); }

  // Encodes each value with its codec, in order.
  template <typename... T>
  void Put(const T&... values) {
    (Codec<T>::Encode(values, *this), ...);
  }

  // Writing into a span: whether exactly its capacity was written.
  bool filled() const { return !overflowed_ && written_ == capacity_; }

 private:
  std::string* out_ = nullptr;
  char* destination_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t written_ = 0;
  bool overflowed_ = false;
};

// Reads encoded values from a payload, never past its end.
class Reader {
 public:
  Reader(absl::string_view bytes, absl::string_view type_tag)
      : bytes_(bytes), type_tag_(type_tag) {}
  // Reads `prefix` (the payload's first bytes), then the rest from `source`:
  // large reads go straight to their destination, small ones through a
  // buffer refilled in large steps.
  Reader(absl::string_view prefix, uint64_t payload_size, ByteSource* source,
         absl::string_view type_tag)
      : bytes_(prefix),
        type_tag_(type_tag),
        source_(source),
        source_at_(prefix.size()),
        source_left_(payload_size - prefix.size()) {}
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  absl::Status GetBytes(void* data, size_t size) {
    if (size > bytes_.size()) return GetBytesFromSource(data, size);
    if (size > 0) std::memcpy(data, bytes_.data(), size);
    bytes_.remove_prefix(size);
    return absl::OkStatus();
  }
  absl::Status GetU64(uint64_t& value) { return GetBytes(&value, sizeof(value)); }

  // The next `size` bytes, in place: valid as long as the payload (and
  // this Reader) is.
  absl::Status GetView(size_t size, absl::string_view& view);

  // Reads an element count and checks that `count` elements of at least
  // `min_element_bytes` each can still be there.
  absl::Status GetCount(uint64_t& count, size_t min_element_bytes) {
    if (absl::Status status = GetU64(count); !status.ok()) return status;
    if (min_element_bytes > 0 && count > remaining() / min_element_bytes) {
      return absl::DataLossError(absl::StrCat(
          "corrupt '", type_tag_, "' payload: ", count, " elements of ",
          min_element_bytes, "+ bytes cannot fit in the ", remaining(),
          " bytes left"));
    }
    return absl::OkStatus();
  }

  // Decodes each value with its codec, in order; stops at the first error.
  template <typename... T>
  absl::Status Get(T&... values) {
    absl::Status status;
    (void)((status = Codec<T>::Decode(*this, values), status.ok()) && ...);
    return status;
  }

  size_t remaining() const { return bytes_.size() + source_left_; }
  // The bytes already in memory, not read yet (a prefix of what remains),
  // for decoders that read a byte at a time; Skip moves past some of them.
  absl::string_view buffered() const { return bytes_; }
  void Skip(size_t size) { bytes_.remove_prefix(size < bytes_.size() ? size : bytes_.size()); }
  absl::string_view type_tag() const { return type_tag_; }

 private:
  absl::Status GetBytesFromSource(void* data, size_t size);
  absl::Status Truncated(size_t wanted) const {
    return absl::DataLossError(
        absl::StrCat("truncated '", type_tag_, "' payload: needed ", wanted,
                     " more bytes, ", remaining(), " left"));
  }

  absl::string_view bytes_;  // in memory, not read yet
  absl::string_view type_tag_;
  ByteSource* source_ = nullptr;
  uint64_t source_at_ = 0;    // payload offset of the source's next byte
  uint64_t source_left_ = 0;  // bytes still at the source
  std::string buffer_;        // refills from the source
  bool in_buffer_ = false;    // bytes_ points into buffer_ (moves on refill)
  // GetView copies that must stay put (a vector: constructing a Reader,
  // which every receive does, must not allocate).
  std::vector<std::unique_ptr<std::string>> views_;
};

// The smallest encoding of a T, to bound counts read from a peer.
template <typename T>
constexpr size_t kMinEncodedBytes =
    std::is_arithmetic_v<T> || std::is_enum_v<T> ? sizeof(T) : 0;

// -------------------------------------------------------------- the framing

namespace codec_internal {
constexpr uint32_t kMagic = 0x4256'4F46;  // "FOVB"
// Frame: u32 magic | u32 tag length | tag | u64 body length | body.
inline uint64_t FrameHeaderBytes(absl::string_view tag) {
  return 2 * sizeof(uint32_t) + tag.size() + sizeof(uint64_t);
}
void PutFrameHeader(absl::string_view tag, uint64_t body_bytes, Writer& out);
// Starts a frame in `payload` and returns where its body length goes.
size_t BeginFrame(absl::string_view tag, std::string* payload);
// Writes the body length once the body is appended.
void EndFrame(size_t length_at, std::string* payload);
std::string Frame(absl::string_view tag, const std::string& body);
// Reads and checks a frame's header (magic, type tag, body length) from
// `reader`, which holds the whole payload.
absl::Status ReadFrameHeader(Reader& reader, absl::string_view expected_tag);
}  // namespace codec_internal

// Codec<T>::Tag(), built once per type (tags of nested types are built
// with StrCat; messages are many).
template <typename T>
const std::string& TagOf() {
  static const std::string tag = Codec<T>::Tag();
  return tag;
}

// Encodes `value` into `payload`, reusing its capacity.
template <typename T>
void EncodeTo(const T& value, std::string* payload) {
  payload->clear();
  const size_t length_at = codec_internal::BeginFrame(TagOf<T>(), payload);
  Writer writer(payload);
  Codec<T>::Encode(value, writer);
  codec_internal::EndFrame(length_at, payload);
}

// Whether Codec<T> can tell an object's encoded size without encoding it
// (a static EncodedSize(const T&)): then a large object is encoded
// straight into the window.
template <typename T, typename = void>
constexpr bool kHasEncodedSize = false;
template <typename T>
constexpr bool kHasEncodedSize<
    T, std::void_t<decltype(Codec<T>::EncodedSize(std::declval<const T&>()))>> = true;

// The size of `value`'s payload, frame included (needs kHasEncodedSize<T>).
template <typename T>
uint64_t FramedSize(const T& value) {
  return codec_internal::FrameHeaderBytes(TagOf<T>()) + Codec<T>::EncodedSize(value);
}

// Encodes `value` into the `size` bytes at `destination`, which FramedSize
// gave; false if its codec wrote another amount (a codec bug).
template <typename T>
bool EncodeInto(const T& value, char* destination, uint64_t size) {
  const std::string& tag = TagOf<T>();
  const uint64_t header = codec_internal::FrameHeaderBytes(tag);
  if (size < header) return false;
  Writer writer(destination, size);
  codec_internal::PutFrameHeader(tag, size - header, writer);
  Codec<T>::Encode(value, writer);
  return writer.filled();
}

template <typename T>
std::string Encode(const T& value) {
  std::string payload;
  EncodeTo(value, &payload);
  return payload;
}

namespace codec_internal {
// Reads a whole framed payload from `reader`: the frame, the value, and
// nothing after it.
template <typename T>
absl::Status DecodeFramed(Reader& reader, T& value) {
  const std::string& tag = TagOf<T>();
  if (absl::Status status = ReadFrameHeader(reader, tag); !status.ok()) return status;
  if (absl::Status status = Codec<T>::Decode(reader, value); !status.ok()) return status;
  if (reader.remaining() != 0) {
    return absl::DataLossError(absl::StrCat("corrupt '", tag, "' payload: ",
                                            reader.remaining(),
                                            " bytes left after the value"));
  }
  return absl::OkStatus();
}
}  // namespace codec_internal

// Decodes into an existing `value`, reusing what it holds (a vector's
// capacity, say). On error `value` is left valid but unspecified.
template <typename T>
absl::Status DecodeInto(absl::string_view payload, T& value) {
  Reader reader(payload, TagOf<T>());
  return codec_internal::DecodeFramed(reader, value);
}

// Decodes a payload of `size` bytes read in place: `prefix` holds its
// first bytes, `rest` the others (see Reader).
template <typename T>
absl::Status DecodeInPlace(absl::string_view prefix, uint64_t size, ByteSource& rest,
                           T& value) {
  Reader reader(prefix, size, &rest, TagOf<T>());
  return codec_internal::DecodeFramed(reader, value);
}

// An InPlaceReader that decodes into `value`.
template <typename T>
class InPlaceDecoder final : public InPlaceReader {
 public:
  explicit InPlaceDecoder(T& value) : value_(value) {}
  absl::Status Read(absl::string_view prefix, uint64_t size, ByteSource& rest) override {
    return DecodeInPlace(prefix, size, rest, value_);
  }

 private:
  T& value_;
};

template <typename T>
absl::StatusOr<T> Decode(absl::string_view payload) {
  T value{};
  if (absl::Status status = DecodeInto(payload, value); !status.ok()) return status;
  return value;
}

// -------------------------------------------------------- built-in codecs

namespace codec_internal {
template <typename T>
std::string ArithmeticTag() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  if constexpr (std::is_same_v<T, char>) return "char";
  if constexpr (std::is_floating_point_v<T>) return absl::StrCat("f", 8 * sizeof(T));
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                !std::is_same_v<T, char>) {
    return absl::StrCat(std::is_signed_v<T> ? "i" : "u", 8 * sizeof(T));
  }
}
}  // namespace codec_internal

// Numbers, bool, char, enums and std::byte: their bytes as they are.
template <typename T>
struct Codec<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static std::string Tag() {
    if constexpr (std::is_same_v<T, std::byte>) {
      return "byte";
    } else if constexpr (std::is_enum_v<T>) {
      return absl::StrCat("enum:", typeid(T).name());
    } else {
      return codec_internal::ArithmeticTag<T>();
    }
  }
  static void Encode(const T& value, Writer& out) {
    out.PutBytes(&value, sizeof(T));
  }
  static constexpr uint64_t EncodedSize(const T&) { return sizeof(T); }
  static absl::Status Decode(Reader& in, T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      unsigned char byte = 0;
      if (absl::Status status = in.GetBytes(&byte, 1); !status.ok()) return status;
      if (byte > 1) {
        return absl::DataLossError(absl::StrCat(
            "corrupt '", in.type_tag(), "' payload: bool byte ", int{byte}));
      }
      value = byte == 1;
      return absl::OkStatus();
    } else {
      return in.GetBytes(&value, sizeof(T));
    }
  }
};

template <>
struct Codec<std::string> {
  static std::string Tag() { return "string"; }
  static void Encode(const std::string& value, Writer& out) {
    out.PutU64(value.size());
    out.PutBytes(value.data(), value.size());
  }
  static uint64_t EncodedSize(const std::string& value) {
    return sizeof(uint64_t) + value.size();
  }
  static absl::Status Decode(Reader& in, std::string& value) {
    uint64_t size = 0;
    if (absl::Status status = in.GetCount(size, 1); !status.ok()) return status;
    value.resize(size);
    return in.GetBytes(value.data(), size);
  }
};

template <>
struct Codec<std::monostate> {
  static std::string Tag() { return "none"; }
  static void Encode(const std::monostate&, Writer&) {}
  static absl::Status Decode(Reader&, std::monostate&) { return absl::OkStatus(); }
};

namespace codec_internal {
// Elements whose bytes can be copied as a block (not bool: it is checked).
template <typename T>
constexpr bool kBlockCopyable =
    (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) ||
    std::is_same_v<T, std::byte>;

template <typename Container, typename Element>
void EncodeElements(const Container& values, Writer& out) {
  out.PutU64(values.size());
  if constexpr (kBlockCopyable<Element> &&
                std::is_same_v<Container, std::vector<Element>>) {
    out.PutBytes(values.data(), values.size() * sizeof(Element));
  } else {
    for (const auto& value : values) Codec<Element>::Encode(value, out);
  }
}
}  // namespace codec_internal

template <typename T, typename A>
struct Codec<std::vector<T, A>> {
  static std::string Tag() { return absl::StrCat("vector<", Codec<T>::Tag(), ">"); }
  static void Encode(const std::vector<T, A>& values, Writer& out) {
    codec_internal::EncodeElements<std::vector<T, A>, T>(values, out);
  }
  // Only for vectors of numbers: any other would take a pass of its own.
  template <typename U = T, std::enable_if_t<codec_internal::kBlockCopyable<U>, int> = 0>
  static uint64_t EncodedSize(const std::vector<T, A>& values) {
    return sizeof(uint64_t) + values.size() * sizeof(T);
  }
  static absl::Status Decode(Reader& in, std::vector<T, A>& values) {
    uint64_t count = 0;
    if (absl::Status status = in.GetCount(count, kMinEncodedBytes<T>); !status.ok()) {
      return status;
    }
    if constexpr (codec_internal::kBlockCopyable<T>) {
      values.resize(count);
      return in.GetBytes(values.data(), count * sizeof(T));
    } else {
      values.clear();
      values.reserve(std::min<uint64_t>(count, in.remaining()));
      for (uint64_t i = 0; i < count; ++i) {
        T value{};
        if (absl::Status status = Codec<T>::Decode(in, value); !status.ok()) {
          return status;
        }
        values.push_back(std::move(value));
      }
      return absl::OkStatus();
    }
  }
};

template <typename T, size_t N>
struct Codec<std::array<T, N>> {
  static std::string Tag() {
    return absl::StrCat("array<", Codec<T>::Tag(), ",", N, ">");
  }
  static void Encode(const std::array<T, N>& values, Writer& out) {
    for (const T& value : values) Codec<T>::Encode(value, out);
  }
  static absl::Status Decode(Reader& in, std::array<T, N>& values) {
    for (T& value : values) {
      if (absl::Status status = Codec<T>::Decode(in, value); !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }
};

template <typename A, typename B>
struct Codec<std::pair<A, B>> {
  static std::string Tag() {
    return absl::StrCat("pair<", Codec<A>::Tag(), ",", Codec<B>::Tag(), ">");
  }
  static void Encode(const std::pair<A, B>& value, Writer& out) {
    out.Put(value.first, value.second);
  }
  static absl::Status Decode(Reader& in, std::pair<A, B>& value) {
    return in.Get(value.first, value.second);
  }
};

template <typename... T>
struct Codec<std::tuple<T...>> {
  static std::string Tag() {
    std::string tag = "tuple<";
    ((tag += Codec<T>::Tag() + ","), ...);
    if (sizeof...(T) > 0) tag.pop_back();
    return tag + ">";
  }
  static void Encode(const std::tuple<T...>& value, Writer& out) {
    std::apply([&out](const T&... fields) { out.Put(fields...); }, value);
  }
  static absl::Status Decode(Reader& in, std::tuple<T...>& value) {
    return std::apply([&in](T&... fields) { return in.Get(fields...); }, value);
  }
};

template <typename T>
struct Codec<std::optional<T>> {
  static std::string Tag() { return absl::StrCat("optional<", Codec<T>::Tag(), ">"); }
  static void Encode(const std::optional<T>& value, Writer& out) {
    out.Put(value.has_value());
    if (value) Codec<T>::Encode(*value, out);
  }
  static absl::Status Decode(Reader& in, std::optional<T>& value) {
    bool present = false;
    if (absl::Status status = in.Get(present); !status.ok()) return status;
    if (!present) {
      value.reset();
      return absl::OkStatus();
    }
    value.emplace();
    return Codec<T>::Decode(in, *value);
  }
};

namespace codec_internal {
template <typename Map>
struct MapCodec {
  using K = typename Map::key_type;
  using V = typename Map::mapped_type;
  static void Encode(const Map& values, Writer& out) {
    out.PutU64(values.size());
    for (const auto& [key, value] : values) out.Put(key, value);
  }
  static absl::Status Decode(Reader& in, Map& values) {
    uint64_t count = 0;
    if (absl::Status status =
            in.GetCount(count, kMinEncodedBytes<K> + kMinEncodedBytes<V>);
        !status.ok()) {
      return status;
    }
    values.clear();
    for (uint64_t i = 0; i < count; ++i) {
      K key{};
      V value{};
      if (absl::Status status = in.Get(key, value); !status.ok()) return status;
      if (!values.emplace(std::move(key), std::move(value)).second) {
        return absl::DataLossError(absl::StrCat(
            "corrupt '", in.type_tag(), "' payload: a key appears twice"));
      }
    }
    return absl::OkStatus();
  }
};
}  // namespace codec_internal

template <typename K, typename V, typename C, typename A>
struct Codec<std::map<K, V, C, A>>
    : codec_internal::MapCodec<std::map<K, V, C, A>> {
  static std::string Tag() {
    return absl::StrCat("map<", Codec<K>::Tag(), ",", Codec<V>::Tag(), ">");
  }
};

template <typename K, typename V, typename H, typename E, typename A>
struct Codec<std::unordered_map<K, V, H, E, A>>
    : codec_internal::MapCodec<std::unordered_map<K, V, H, E, A>> {
  static std::string Tag() {
    return absl::StrCat("unordered_map<", Codec<K>::Tag(), ",", Codec<V>::Tag(), ">");
  }
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_CODEC_H_
