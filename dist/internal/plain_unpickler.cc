#include "dist/internal/plain_unpickler.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "dist/internal/ivalue_type_tag.h"

namespace fastvideo::dist {
namespace {

// The opcodes libtorch's pickler writes (protocol 2).
enum Opcode : uint8_t {
  kMark = '(', kStop = '.', kBinFloat = 'G', kBinInt = 'J', kBinInt1 = 'K',
  kBinInt2 = 'M', kNone = 'N', kReduce = 'R', kBinUnicode = 'X', kAppends = 'e',
  kGlobal = 'c', kBinGet = 'h', kLongBinGet = 'j', kEmptyList = ']',
  kBinPut = 'q', kLongBinPut = 'r', kTuple = 't', kEmptyTuple = ')',
  kSetItems = 'u', kEmptyDict = '}', kProto = 0x80, kTuple1 = 0x85,
  kTuple2 = 0x86, kTuple3 = 0x87, kNewTrue = 0x88, kNewFalse = 0x89, kLong1 = 0x8a,
};

// The globals that build plain data; REDUCE calls them.
enum class Builder {
  kNotABuilder, kIntList, kDoubleList, kBoolList, kTensorList, kTensorFromId,
  kTypeTag, kDevice, kComplex,
};

Builder FindBuilder(absl::string_view module, absl::string_view name) {
  if (module == "torch.jit._pickle") {
    if (name == "build_intlist") return Builder::kIntList;
    if (name == "build_doublelist") return Builder::kDoubleList;
    if (name == "build_boollist") return Builder::kBoolList;
    if (name == "build_tensorlist") return Builder::kTensorList;
    if (name == "build_tensor_from_id") return Builder::kTensorFromId;
    if (name == "restore_type_tag") return Builder::kTypeTag;
  }
  if (module == "torch" && name == "device") return Builder::kDevice;
  if (module == "builtins" && name == "complex") return Builder::kComplex;
  return Builder::kNotABuilder;
}

// A stack or memo entry. Only an unfinished list or dict (fresh from
// EMPTY_LIST/EMPTY_DICT, still on the stack) is ever mutated; once it is
// taken off the stack it never changes again, so no cycle can form and a
// type checked once stays true.
struct Item {
  c10::IValue value;
  Builder builder = Builder::kNotABuilder;
  bool unfinished = false;
  int height = 0;       // containers on the deepest path down from here
  uint64_t values = 1;  // values reachable, shared ones counted each time
};

class PlainUnpickler {
 public:
  PlainUnpickler(absl::string_view pickle, const std::vector<at::Tensor>& tensors)
      : input_(pickle), tensors_(tensors) {}

  absl::StatusOr<c10::IValue> Run() {
    while (at_ < input_.size()) {
      opcode_at_ = at_;
      opcode_ = static_cast<uint8_t>(input_[at_++]);
      if (opcode_ == kStop) return Finish();
      if (absl::Status status = Step(); !status.ok()) return status;
    }
    return absl::DataLossError(absl::StrCat(
        "corrupt c10::IValue payload: the pickle ends without STOP after ", input_.size(),
        " bytes"));
  }

 private:
  absl::StatusOr<c10::IValue> Finish() {
    if (at_ != input_.size()) return Corrupt("bytes after STOP");
    if (!marks_.empty() || stack_.size() != 1) {
      return Corrupt(absl::StrCat(stack_.size(), " values and ", marks_.size(),
                                  " marks left at STOP, not one value"));
    }
    if (stack_.back().builder != Builder::kNotABuilder) return Corrupt("a global as the result");
    return std::move(stack_.back().value);
  }

  absl::Status Step() {
    switch (opcode_) {
      case kProto: return Skip(1);
      case kNone: return Push(Leaf(c10::IValue()));
      case kNewTrue: return Push(Leaf(true));
      case kNewFalse: return Push(Leaf(false));
      case kBinInt1: return PushInt<uint8_t>();
      case kBinInt2: return PushInt<uint16_t>();
      case kBinInt: return PushInt<int32_t>();
      case kLong1: return PushLong();
      case kBinFloat: return PushDouble();
      case kBinUnicode: return PushString();
      case kGlobal: return PushGlobal();
      case kMark: marks_.push_back(stack_.size()); return absl::OkStatus();
      case kEmptyList: return Push(Unfinished(c10::impl::GenericList(c10::AnyType::get())));
      case kEmptyDict:
        return Push(Unfinished(
            c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get())));
      case kEmptyTuple: return Push(Leaf(c10::ivalue::Tuple::create({})));
      case kAppends: return Appends();
      case kSetItems: return SetItems();
      case kTuple: return MakeTuple(absl::nullopt);
      case kTuple1: return MakeTuple(1);
      case kTuple2: return MakeTuple(2);
      case kTuple3: return MakeTuple(3);
      case kReduce: return Reduce();
      case kBinPut: return Put<uint8_t>();
      case kLongBinPut: return Put<uint32_t>();
      case kBinGet: return Get<uint8_t>();
      case kLongBinGet: return Get<uint32_t>();
      default: return Corrupt("an opcode libtorch's pickler does not write");
    }
  }

  // ------------------------------------------------------------ reading bytes

  absl::Status Skip(size_t bytes) {
    absl::string_view ignored;
    return Read(bytes, ignored);
  }

  absl::Status Read(size_t bytes, absl::string_view& out) {
    if (bytes > input_.size() - at_) {
      return Corrupt(absl::StrCat("needs ", bytes, " bytes, ", input_.size() - at_, " left"));
    }
    out = input_.substr(at_, bytes);
    at_ += bytes;
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status ReadLittleEndian(T& value) {
    absl::string_view bytes;
    if (absl::Status status = Read(sizeof(T), bytes); !status.ok()) return status;
    std::memcpy(&value, bytes.data(), sizeof(T));  // x86 and ARM Linux: little-endian
    return absl::OkStatus();
  }

  absl::Status ReadLine(absl::string_view& line) {
    const size_t end = input_.find('\n', at_);
    if (end == absl::string_view::npos) return Corrupt("a line without its end");
    line = input_.substr(at_, end - at_);
    at_ = end + 1;
    return absl::OkStatus();
  }

  // ------------------------------------------------------------------ values

  static Item Leaf(c10::IValue value) { return Item{std::move(value)}; }

  static Item Unfinished(c10::IValue container) {
    Item item{std::move(container)};
    item.unfinished = true;
    item.height = 1;
    return item;
  }

  template <typename T>
  absl::Status PushInt() {
    T value{};
    if (absl::Status status = ReadLittleEndian(value); !status.ok()) return status;
    return Push(Leaf(static_cast<int64_t>(value)));
  }

  // LONG1: a little-endian two's complement integer of 0-8 bytes.
  absl::Status PushLong() {
    uint8_t size = 0;
    if (absl::Status status = ReadLittleEndian(size); !status.ok()) return status;
    if (size > 8) return Corrupt(absl::StrCat("a ", size, "-byte integer"));
    absl::string_view bytes;
    if (absl::Status status = Read(size, bytes); !status.ok()) return status;
    uint64_t value = 0;
    std::memcpy(&value, bytes.data(), size);
    if (size > 0 && size < 8 && (bytes[size - 1] & 0x80)) value |= ~uint64_t{0} << (8 * size);
    return Push(Leaf(static_cast<int64_t>(value)));
  }

  // BINFLOAT: a big-endian IEEE double.
  absl::Status PushDouble() {
    uint64_t bits = 0;
    if (absl::Status status = ReadLittleEndian(bits); !status.ok()) return status;
    bits = __builtin_bswap64(bits);
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    return Push(Leaf(value));
  }

  absl::Status PushString() {
    uint32_t size = 0;
    if (absl::Status status = ReadLittleEndian(size); !status.ok()) return status;
    absl::string_view bytes;
    if (absl::Status status = Read(size, bytes); !status.ok()) return status;
    return Push(Leaf(std::string(bytes)));
  }

  absl::Status PushGlobal() {
    absl::string_view module, name;
    if (absl::Status status = ReadLine(module); !status.ok()) return status;
    if (absl::Status status = ReadLine(name); !status.ok()) return status;
    Item item;
    item.builder = FindBuilder(module, name);
    if (item.builder == Builder::kNotABuilder) {
      const std::string global = absl::StrCat(module, ".", name);
      return absl::InvalidArgumentError(absl::StrCat(
          "c10::IValue payload refers to '", absl::CHexEscape(global.substr(0, 80)),
          "': only plain data is accepted (None, bool, int, double, complex, string, "
          "device, tensors, and lists, tuples and dicts of those)"));
    }
    return Push(std::move(item));
  }

  // ------------------------------------------------------------- the stack

  absl::Status Push(Item item) {
    if (absl::Status status = CheckBounds(item); !status.ok()) return status;
    stack_.push_back(std::move(item));
    return absl::OkStatus();
  }

  absl::Status CheckBounds(const Item& item) const {
    if (item.height > kMaxPickleNesting) {
      return Corrupt(absl::StrCat("values nested deeper than ", kMaxPickleNesting, " levels"));
    }
    if (item.values > kMaxPickleValues) {
      return Corrupt(absl::StrCat("a value that expands to more than ", kMaxPickleValues,
                                  " values through shared references"));
    }
    return absl::OkStatus();
  }

  // Items above the top mark belong to it: only the opcode that ends the
  // mark may take them.
  size_t Floor() const { return marks_.empty() ? 0 : marks_.back(); }

  absl::Status Pop(size_t count, std::vector<Item>& items) {
    if (stack_.size() - Floor() < count) {
      return Corrupt(absl::StrCat("needs ", count, " values, the stack has ",
                                  stack_.size() - Floor()));
    }
    MoveTop(stack_.size() - count, items);
    return absl::OkStatus();
  }

  absl::Status PopToMark(std::vector<Item>& items) {
    if (marks_.empty()) return Corrupt("no MARK to end");
    const size_t mark = marks_.back();
    marks_.pop_back();
    MoveTop(mark, items);
    return absl::OkStatus();
  }

  void MoveTop(size_t from, std::vector<Item>& items) {
    items.assign(std::make_move_iterator(stack_.begin() + from),
                 std::make_move_iterator(stack_.end()));
    stack_.resize(from);
  }

  // Values about to become part of a container: no globals, nothing unfinished
  // stays reachable from the stack.
  absl::Status CheckValues(const std::vector<Item>& items) {
    for (const Item& item : items) {
      if (item.builder != Builder::kNotABuilder) return Corrupt("a global used as a value");
    }
    return absl::OkStatus();
  }

  static void Grow(Item& container, const Item& element) {
    container.height = std::max(container.height, element.height + 1);
    container.values = std::min(container.values + element.values, kMaxPickleValues + 1);
  }

  absl::Status Target(const char* kind, Item*& target) {
    if (stack_.size() <= Floor() || !stack_.back().unfinished) {
      return Corrupt(absl::StrCat("no unfinished ", kind, " below the MARK"));
    }
    target = &stack_.back();
    return absl::OkStatus();
  }

  absl::Status Appends() {
    std::vector<Item> items;
    if (absl::Status status = PopToMark(items); !status.ok()) return status;
    if (absl::Status status = CheckValues(items); !status.ok()) return status;
    Item* list = nullptr;
    if (absl::Status status = Target("list", list); !status.ok()) return status;
    if (!list->value.isList()) return Corrupt("APPENDS to a dict");
    c10::impl::GenericList elements = list->value.toList();
    elements.reserve(elements.size() + items.size());
    for (Item& item : items) {
      Grow(*list, item);
      elements.push_back(std::move(item.value));
    }
    return CheckBounds(*list);
  }

  absl::Status SetItems() {
    std::vector<Item> items;
    if (absl::Status status = PopToMark(items); !status.ok()) return status;
    if (absl::Status status = CheckValues(items); !status.ok()) return status;
    if (items.size() % 2 != 0) return Corrupt("a key without its value");
    Item* dict = nullptr;
    if (absl::Status status = Target("dict", dict); !status.ok()) return status;
    if (!dict->value.isGenericDict()) return Corrupt("SETITEMS on a list");
    c10::impl::GenericDict entries = dict->value.toGenericDict();
    for (size_t i = 0; i < items.size(); i += 2) {
      const c10::IValue& key = items[i].value;
      if (!(key.isString() || key.isInt() || key.isDouble() || key.isBool() ||
            key.isTensor() || key.isComplexDouble() || key.isDevice())) {
        return Corrupt(absl::StrCat("a dict key of kind ", key.tagKind()));
      }
      Grow(*dict, items[i]);
      Grow(*dict, items[i + 1]);
      entries.insert_or_assign(std::move(items[i].value), std::move(items[i + 1].value));
    }
    return CheckBounds(*dict);
  }

  absl::Status MakeTuple(absl::optional<size_t> count) {
    std::vector<Item> items;
    absl::Status status = count ? Pop(*count, items) : PopToMark(items);
    if (!status.ok()) return status;
    if (absl::Status status = CheckValues(items); !status.ok()) return status;
    Item tuple;
    tuple.height = 1;
    std::vector<c10::IValue> elements;
    elements.reserve(items.size());
    for (Item& item : items) {
      Grow(tuple, item);
      elements.push_back(std::move(item.value));
    }
    tuple.value = c10::ivalue::Tuple::create(std::move(elements));
    return Push(std::move(tuple));
  }

  template <typename Index>
  absl::Status Put() {
    Index index{};
    if (absl::Status status = ReadLittleEndian(index); !status.ok()) return status;
    if (stack_.size() <= Floor()) return Corrupt("nothing to memoize");
    if (stack_.back().unfinished) return Corrupt("memoizes an unfinished container");
    // The pickler numbers its memo 0, 1, 2...: anything else is not its output.
    if (index > memo_.size()) return Corrupt(absl::StrCat("memo index ", index, " skips ahead"));
    if (index == memo_.size()) {
      memo_.push_back(stack_.back());
    } else {
      memo_[index] = stack_.back();
    }
    return absl::OkStatus();
  }

  template <typename Index>
  absl::Status Get() {
    Index index{};
    if (absl::Status status = ReadLittleEndian(index); !status.ok()) return status;
    if (index >= memo_.size()) {
      return Corrupt(absl::StrCat("memo index ", index, " of ", memo_.size()));
    }
    return Push(memo_[index]);
  }

  // ------------------------------------------------------------------ REDUCE

  absl::Status Reduce() {
    std::vector<Item> items;
    if (absl::Status status = Pop(2, items); !status.ok()) return status;
    const Builder builder = items[0].builder;
    Item& arguments = items[1];
    if (builder == Builder::kNotABuilder) return Corrupt("REDUCE on a value, not a global");
    if (arguments.builder != Builder::kNotABuilder || !arguments.value.isTuple()) {
      return Corrupt("REDUCE arguments that are not a tuple");
    }
    const auto& values = arguments.value.toTupleRef().elements();
    absl::StatusOr<Item> built = Build(builder, values, arguments);
    if (!built.ok()) return built.status();
    return Push(*std::move(built));
  }

  absl::StatusOr<Item> Build(Builder builder, c10::ArrayRef<c10::IValue> values,
                             const Item& arguments) {
    switch (builder) {
      case Builder::kIntList:
        return TypedList<int64_t>(values, "int", &c10::IValue::isInt);
      case Builder::kDoubleList:
        return TypedList<double>(values, "float", &c10::IValue::isDouble);
      case Builder::kBoolList:
        return TypedList<bool>(values, "bool", &c10::IValue::isBool);
      case Builder::kTensorList:
        return TypedList<at::Tensor>(values, "Tensor", &c10::IValue::isTensor);
      case Builder::kTensorFromId: {
        if (values.size() != 1 || !values[0].isInt()) {
          return Corrupt("a tensor id that is not an int");
        }
        const int64_t id = values[0].toInt();
        if (id < 0 || static_cast<uint64_t>(id) >= tensors_.size()) {
          return Corrupt(absl::StrCat("tensor id ", id, " of ", tensors_.size(), " tensors"));
        }
        return Leaf(tensors_[id]);
      }
      case Builder::kTypeTag:
        return RestoreTypeTag(values, arguments);
      case Builder::kDevice: {
        if (values.size() != 1 || !values[0].isString()) {
          return Corrupt("a device that is not a string");
        }
        try {
          return Leaf(c10::Device(values[0].toStringRef()));
        } catch (const std::exception&) {
          return Corrupt(absl::StrCat(
              "device '", absl::CHexEscape(values[0].toStringRef().substr(0, 80)), "'"));
        }
      }
      case Builder::kComplex:
        if (values.size() != 2 || !values[0].isDouble() || !values[1].isDouble()) {
          return Corrupt("a complex number that is not two floats");
        }
        return Leaf(c10::complex<double>(values[0].toDouble(), values[1].toDouble()));
      case Builder::kNotABuilder:
        break;
    }
    return Corrupt("REDUCE on a value, not a global");
  }

  template <typename T>
  absl::StatusOr<Item> TypedList(c10::ArrayRef<c10::IValue> values, const char* type,
                                 bool (c10::IValue::*is_element)() const) {
    if (values.size() != 1 || !values[0].isList()) {
      return Corrupt(absl::StrCat("List[", type, "] built from something not a list"));
    }
    c10::List<T> list;
    list.reserve(values[0].toListRef().size());
    for (const c10::IValue& element : values[0].toListRef()) {
      if (!(element.*is_element)()) {
        return Corrupt(absl::StrCat("List[", type, "] holding a ", element.tagKind()));
      }
      list.push_back(element.to<T>());
    }
    Item item = Leaf(std::move(list));
    item.height = 1;
    item.values = 1 + values[0].toListRef().size();
    return item;
  }

  // restore_type_tag(container, "List[...]" or "Dict[...]"): a typed copy,
  // so that no container already checked ever changes type.
  absl::StatusOr<Item> RestoreTypeTag(c10::ArrayRef<c10::IValue> values, const Item& arguments) {
    if (values.size() != 2 || !values[1].isString()) {
      return Corrupt("a type tag that is not a string");
    }
    absl::StatusOr<c10::TypePtr> type = ParseTypeTag(values[1].toStringRef());
    if (!type.ok()) return type.status();
    Item item;
    item.height = arguments.height - 1;  // the arguments' tuple held it and a string
    item.values = arguments.values - 2;
    const c10::IValue& container = values[0];
    if (container.isList() && (*type)->kind() == c10::TypeKind::ListType) {
      const c10::TypePtr& element_type = (*type)->containedType(0);
      c10::impl::GenericList list(element_type);
      list.reserve(container.toListRef().size());
      for (const c10::IValue& element : container.toListRef()) {
        if (absl::Status status = CheckType(element, *element_type, **type); !status.ok()) {
          return status;
        }
        list.push_back(element);
      }
      item.value = std::move(list);
      return item;
    }
    if (container.isGenericDict() && (*type)->kind() == c10::TypeKind::DictType) {
      const c10::TypePtr& key_type = (*type)->containedType(0);
      const c10::TypePtr& value_type = (*type)->containedType(1);
      c10::impl::GenericDict dict(key_type, value_type);
      dict.reserve(container.toGenericDict().size());
      for (const auto& entry : container.toGenericDict()) {
        if (absl::Status status = CheckType(entry.key(), *key_type, **type); !status.ok()) {
          return status;
        }
        if (absl::Status status = CheckType(entry.value(), *value_type, **type); !status.ok()) {
          return status;
        }
        dict.insert(entry.key(), entry.value());
      }
      item.value = std::move(dict);
      return item;
    }
    return Corrupt(absl::StrCat("type tag ", (*type)->annotation_str(), " on a ",
                                container.tagKind()));
  }

  absl::Status CheckType(const c10::IValue& value, const c10::Type& expected,
                         const c10::Type& container) {
    if (value.type()->isSubtypeOf(expected)) return absl::OkStatus();
    return Corrupt(absl::StrCat("a ", container.annotation_str(), " holding a ",
                                value.type()->annotation_str()));
  }

  absl::Status Corrupt(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat("corrupt c10::IValue payload: ", what,
                                            " (opcode 0x", absl::Hex(opcode_), " at byte ",
                                            opcode_at_, " of ", input_.size(), ")"));
  }

  absl::string_view input_;
  const std::vector<at::Tensor>& tensors_;
  size_t at_ = 0;
  size_t opcode_at_ = 0;
  uint8_t opcode_ = 0;
  std::vector<Item> stack_;
  std::vector<size_t> marks_;
  std::vector<Item> memo_;
};

}  // namespace

absl::StatusOr<c10::IValue> UnpicklePlainData(absl::string_view pickle,
                                              const std::vector<at::Tensor>& tensors) {
  return PlainUnpickler(pickle, tensors).Run();
}

}  // namespace fastvideo::dist
