// ObjectSnapshot: a Python object checked and flattened for sending, taken
// while the GIL is held, so that it can be encoded (into a buffer or
// straight into the window) after the GIL is released.
//
// Plain data only, exact types: None, bool, int (64-bit), float, str,
// bytes, list, tuple, dict with str or int keys, and CPU torch.Tensor.
// Anything else (a subclass, a set, a class instance, a CUDA tensor) is
// refused before anything is sent: TypeError naming the type and where it
// sits (obj['layers'][3]); an int out of 64 bits is OverflowError; a list,
// dict or tensor reached twice (a cycle or a shared reference, which would
// not come back as one object) is ValueError, as are nesting deeper than
// kMaxObjectNesting or more than kMaxObjectValues values (the limits of
// dist/internal/plain_unpickler.h). Tuples, str and bytes are values: one
// reached twice (Python shares equal constants) is sent twice.
//
// An object of up to kWrittenAtOnceBytes encoded, with no tensor, is
// encoded while it is walked (written()): one pass, no references kept.
// A larger one is kept as nodes, encoded later without the GIL: the
// snapshot keeps a reference to every str and bytes it points into and
// drops them (taking the GIL) when it is destroyed; tensors are held as
// at::Tensor, made contiguous.
#ifndef FASTVIDEO_DIST_TOOLS_PYTHON_OBJECT_SNAPSHOT_H_
#define FASTVIDEO_DIST_TOOLS_PYTHON_OBJECT_SNAPSHOT_H_

#include <Python.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fastvideo::python {

inline constexpr int kMaxObjectNesting = 128;
inline constexpr uint64_t kMaxObjectValues = uint64_t{1} << 24;
inline constexpr uint64_t kWrittenAtOnceBytes = uint64_t{64} << 10;

// The wire's value tags (see object_codec.h).
enum class ValueTag : uint8_t {
  kNone = 'n',
  kFalse = 'f',
  kTrue = 't',
  kInt = 'i',
  kFloat = 'd',
  kStr = 's',
  kBytes = 'b',
  kList = 'l',
  kTuple = 'u',
  kDict = 'm',
  kTensor = 'T',
};

// One value, in depth-first order; a container is followed by its
// elements (a dict by key, value, key, value...).
struct SnapshotNode {
  ValueTag tag;
  int64_t integer = 0;      // kInt; kTensor: index into tensors()
  double real = 0;          // kFloat
  absl::string_view bytes;  // kStr (UTF-8), kBytes
  uint64_t count = 0;       // containers: elements (a dict: pairs)
};

class ObjectSnapshot {
 public:
  // Needs the GIL. Throws pybind11 errors (TypeError, ValueError,
  // OverflowError) for what cannot be sent.
  static std::shared_ptr<const ObjectSnapshot> Take(PyObject* object);

  ObjectSnapshot(const ObjectSnapshot&) = delete;
  ObjectSnapshot& operator=(const ObjectSnapshot&) = delete;
  ~ObjectSnapshot();  // takes the GIL to drop its references

  // The body, encoded already (see above), or empty: then nodes() say it.
  const std::string& written() const { return written_; }
  const std::vector<SnapshotNode>& nodes() const { return nodes_; }
  const std::vector<at::Tensor>& tensors() const { return tensors_; }
  // The bytes object_codec writes for it, exactly.
  uint64_t encoded_size() const { return written_.empty() ? encoded_size_ : written_.size(); }

 private:
  class Walker;
  ObjectSnapshot() = default;

  std::string written_;
  std::vector<SnapshotNode> nodes_;
  std::vector<at::Tensor> tensors_;
  std::vector<PyObject*> kept_;  // strong references: the str/bytes viewed
  uint64_t encoded_size_ = 0;
};

}  // namespace fastvideo::python

#endif  // FASTVIDEO_DIST_TOOLS_PYTHON_OBJECT_SNAPSHOT_H_
