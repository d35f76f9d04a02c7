#include "dist/internal/ivalue_type_tag.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fastvideo::dist {
namespace {

constexpr size_t kMaxQuotedBytes = 80;

std::string Quote(absl::string_view text) {
  return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMaxQuotedBytes)),
                      text.size() > kMaxQuotedBytes ? "...'" : "'");
}

c10::TypePtr LeafType(absl::string_view name) {
  if (name == "int") return c10::IntType::get();
  if (name == "float") return c10::FloatType::get();
  if (name == "bool") return c10::BoolType::get();
  if (name == "str") return c10::StringType::get();
  if (name == "complex") return c10::ComplexType::get();
  if (name == "Tensor") return c10::TensorType::get();
  if (name == "NoneType") return c10::NoneType::get();
  if (name == "Device") return c10::DeviceObjType::get();
  if (name == "Any") return c10::AnyType::get();
  return nullptr;
}

bool IsDictKey(const c10::Type& type) {
  switch (type.kind()) {
    case c10::TypeKind::AnyType:
    case c10::TypeKind::IntType:
    case c10::TypeKind::BoolType:
    case c10::TypeKind::FloatType:
    case c10::TypeKind::ComplexType:
    case c10::TypeKind::StringType:
    case c10::TypeKind::TensorType:
    case c10::TypeKind::DeviceObjType:
      return true;
    default:
      return false;
  }
}

// Recursive descent over  Type := Name | Name '[' Type (', ' Type)* ']'
// (and "Tuple[()]" for the empty tuple).
class TypeTagParser {
 public:
  explicit TypeTagParser(absl::string_view tag) : tag_(tag), rest_(tag) {}

  absl::StatusOr<c10::TypePtr> Parse() {
    absl::StatusOr<c10::TypePtr> type = ParseType(0);
    if (type.ok() && !rest_.empty()) return Malformed("text after the type");
    return type;
  }

 private:
  absl::StatusOr<c10::TypePtr> ParseType(int depth) {
    if (depth > kMaxTypeTagNesting) {
      return Malformed(absl::StrCat("nested deeper than ", kMaxTypeTagNesting, " levels"));
    }
    const absl::string_view name = TakeName();
    if (name.empty()) return Malformed("a type name expected");
    if (c10::TypePtr leaf = LeafType(name)) return leaf;
    if (name != "Optional" && name != "List" && name != "Dict" && name != "Tuple") {
      return absl::InvalidArgumentError(absl::StrCat(
          "c10::IValue payload has a container of type ", Quote(name),
          ": only plain data is accepted (None, bool, int, double, complex, "
          "string, device, tensors, and lists, tuples and dicts of those)"));
    }
    if (!Take("[")) return Malformed(absl::StrCat("'[' expected after ", name));
    std::vector<c10::TypePtr> arguments;
    if (!(name == "Tuple" && Take("()"))) {
      do {
        absl::StatusOr<c10::TypePtr> argument = ParseType(depth + 1);
        if (!argument.ok()) return argument.status();
        arguments.push_back(*std::move(argument));
      } while (Take(","));
    }
    if (!Take("]")) return Malformed(absl::StrCat("']' expected to close ", name));
    return Build(name, std::move(arguments));
  }

  absl::StatusOr<c10::TypePtr> Build(absl::string_view name,
                                     std::vector<c10::TypePtr> arguments) {
    if (name == "Tuple") return c10::TypePtr(c10::TupleType::create(std::move(arguments)));
    const size_t wanted = name == "Dict" ? 2 : 1;
    if (arguments.size() != wanted) {
      return Malformed(absl::StrCat(name, " with ", arguments.size(), " type arguments"));
    }
    if (name == "Optional") return c10::TypePtr(c10::OptionalType::create(arguments[0]));
    if (name == "List") return c10::TypePtr(c10::ListType::create(arguments[0]));
    if (!IsDictKey(*arguments[0])) {
      return Malformed(absl::StrCat("dict key type ", arguments[0]->annotation_str()));
    }
    return c10::TypePtr(c10::DictType::create(arguments[0], arguments[1]));
  }

  absl::string_view TakeName() {
    SkipSpaces();
    size_t end = 0;
    while (end < rest_.size() &&
           (absl::ascii_isalnum(rest_[end]) || rest_[end] == '_' || rest_[end] == '.')) {
      ++end;
    }
    const absl::string_view name = rest_.substr(0, end);
    rest_.remove_prefix(end);
    return name;
  }

  bool Take(absl::string_view token) {
    SkipSpaces();
    if (!absl::StartsWith(rest_, token)) return false;
    rest_.remove_prefix(token.size());
    return true;
  }

  void SkipSpaces() {
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
  }

  absl::Status Malformed(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(
        "corrupt c10::IValue payload: type tag ", Quote(tag_), ": ", what, " at character ",
        tag_.size() - rest_.size()));
  }

  absl::string_view tag_;
  absl::string_view rest_;
};

}  // namespace

absl::StatusOr<c10::TypePtr> ParseTypeTag(absl::string_view tag) {
  return TypeTagParser(tag).Parse();
}

}  // namespace fastvideo::dist
