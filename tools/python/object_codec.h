// The codec of Python objects: a PyMessage travels as one framed payload
// of type "python" (see dist/codec.h), never pickled.
//
// Body: one value, depth first; each value is a ValueTag byte and then
//   int: zigzag varint (varint.h); float: 8 bytes (IEEE double); str
//   (UTF-8) and bytes: varint length and the bytes; list and tuple: varint
//   count and the elements; dict: varint count and key, value pairs;
//   tensor: dist::Codec<at::Tensor>. (With varints the benchmark's small
//   dict takes 48 bytes instead of 108, its 16-layer dict 808 instead of
//   1679: fewer inbox slots, and more objects pushed.)
// Decoding a payload of up to 64 KiB copies its bytes (no GIL needed: the
// call waits without it) for BuildReceived to build once the GIL is back;
// a larger one is built in place, taking the GIL (copies of large bytes
// and tensors without it). Building checks every count against the bytes left,
// nesting against kMaxObjectNesting, dict keys (str or int, none twice)
// and str against UTF-8, and reports anything else as DataLoss; it never
// runs any Python code.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_OBJECT_CODEC_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_OBJECT_CODEC_H_

#include <Python.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "dist/codec.h"
#include "tools/python/object_snapshot.h"

namespace fastvideo::python {

// A strong reference to a Python object that may be copied or dropped on
// any thread, GIL or not (it takes the GIL when it has to).
class OwnedObject {
 public:
  OwnedObject() = default;
  static OwnedObject Steal(PyObject* object) { return OwnedObject(object); }
  OwnedObject(const OwnedObject& other);
  OwnedObject& operator=(const OwnedObject& other);
  OwnedObject(OwnedObject&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  OwnedObject& operator=(OwnedObject&& other) noexcept;
  ~OwnedObject() { Reset(); }

  PyObject* get() const { return object_; }
  // Gives up the reference (the caller owns it).
  PyObject* release() { return std::exchange(object_, nullptr); }
  void Reset();

 private:
  explicit OwnedObject(PyObject* object) : object_(object) {}
  PyObject* object_ = nullptr;
};

// What send_obj sends (outgoing) or recv_obj received (incoming, or
// its bytes in `received` until BuildReceived makes it).
struct PyMessage {
  std::shared_ptr<const ObjectSnapshot> outgoing;
  OwnedObject incoming;
  std::string received;
};

// Needs the GIL: builds `incoming` from `received` (if any), as Decode
// would have; DataLoss if the bytes are corrupt.
absl::Status BuildReceived(PyMessage& message);

}  // namespace fastvideo::python

namespace fastvideo::dist {

template <>
struct Codec<python::PyMessage> {
  static std::string Tag() { return "python"; }
  static void Encode(const python::PyMessage& message, Writer& out);
  static uint64_t EncodedSize(const python::PyMessage& message) {
    return message.outgoing->encoded_size();
  }
  static absl::Status Decode(Reader& in, python::PyMessage& message);
};

}  // namespace fastvideo::dist

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_OBJECT_CODEC_H_
